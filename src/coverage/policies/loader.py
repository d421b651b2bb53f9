"""Finding, reading and validating policy files: the ones that ship, and a clinic's own folder."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from coverage.cases import format_loc
from coverage.errors import InvalidPolicy
from coverage.policies.schema import Policy

try:  # the C loader is several times faster where PyYAML was built with libyaml
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A validated policy with where it came from and the hash of its file's bytes.

    ``compiled`` is the engine's cache of this policy's pathways, ready to run; it is filled
    on first use and lives exactly as long as the policy.
    """

    policy: Policy
    hash: str
    source: str
    builtin: bool
    compiled: dict[tuple[str, str, str], Any] = field(default_factory=dict, compare=False, repr=False)


def parse_policy(content: bytes, source: str, *, builtin: bool = False) -> LoadedPolicy:
    """Validate one policy file's bytes, or raise :class:`InvalidPolicy` naming every problem."""
    try:
        data = yaml.load(content, Loader=_Loader)  # the C or pure-Python *safe* loader
    except (yaml.YAMLError, ValueError) as error:  # a date like 2026-13-01 raises ValueError
        raise InvalidPolicy([f"{source}: not valid YAML: {' '.join(str(error).split())}"]) from None
    try:
        policy = Policy.model_validate(data)
    except ValidationError as error:
        raise InvalidPolicy(
            [
                f"{source}: {format_loc(e['loc']) if e['loc'] else 'policy'}: {e['msg']}"
                for e in error.errors(include_url=False)
            ]
        ) from None
    digest = hashlib.sha256(content).hexdigest()
    return LoadedPolicy(policy=policy, hash=f"sha256:{digest}", source=source, builtin=builtin)


#: The shipped folder's file of billing rules (``coverage.policies.billing``), which is no policy.
BILLING_FILE = "billing.yaml"


def _policy_files(folder: Traversable, *, builtin: bool) -> Iterator[Traversable]:
    yield from sorted(
        (
            entry
            for entry in folder.iterdir()
            if entry.is_file()
            and entry.name.endswith((".yaml", ".yml"))
            and not (builtin and entry.name == BILLING_FILE)
        ),
        key=lambda entry: entry.name,
    )


def load_folder(folder: Path | Traversable, *, builtin: bool = False) -> list[LoadedPolicy]:
    """Every policy file in a folder; all problems of all files are gathered before raising."""
    if isinstance(folder, Path) and not folder.is_dir():
        raise InvalidPolicy([f"{folder}: not a folder"])
    loaded: list[LoadedPolicy] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for entry in _policy_files(folder, builtin=builtin):
        source = str(entry) if isinstance(folder, Path) else f"<builtin>/{entry.name}"
        try:
            item = parse_policy(entry.read_bytes(), source, builtin=builtin)
        except InvalidPolicy as error:
            problems.extend(error.problems)
            continue
        if item.policy.id in seen:
            problems.append(f"{source}: id: {item.policy.id!r} is also the id of {seen[item.policy.id]}")
            continue
        seen[item.policy.id] = source
        loaded.append(item)
    if problems:
        raise InvalidPolicy(problems)
    return loaded


class PolicyRegistry:
    """The loaded policies by id; a clinic's file replaces a shipped one of the same id."""

    def __init__(self, policies: Iterable[LoadedPolicy]) -> None:
        self._by_id: dict[str, LoadedPolicy] = {}
        for item in policies:
            self._by_id[item.policy.id] = item

    def __contains__(self, policy_id: object) -> bool:
        return policy_id in self._by_id

    def get(self, policy_id: str) -> LoadedPolicy | None:
        """The policy with this id, if loaded."""
        return self._by_id.get(policy_id)

    def ids(self) -> list[str]:
        """The loaded ids, sorted."""
        return sorted(self._by_id)

    def all(self) -> list[LoadedPolicy]:
        """Every loaded policy, sorted by id."""
        return [self._by_id[i] for i in self.ids()]


def builtin_folder() -> Traversable:
    """The folder of policy files that ship with the package."""
    return resources.files("coverage.policies").joinpath("data")


def load_registry(clinic_folder: Path | None = None) -> PolicyRegistry:
    """The shipped policies, then the clinic's own (which may replace a shipped one by id)."""
    policies = load_folder(builtin_folder(), builtin=True)
    if clinic_folder is not None:
        if not clinic_folder.is_dir():
            raise InvalidPolicy([f"PRIORAUTH_POLICY_DIR: {clinic_folder} is not a folder"])
        policies.extend(load_folder(clinic_folder))
    return PolicyRegistry(policies)
