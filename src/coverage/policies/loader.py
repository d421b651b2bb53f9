"""Finding, reading and validating policy files: the ones that ship, and a clinic's own folder."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from coverage.errors import InvalidInput, InvalidPolicy
from coverage.policies.messages import validation_problems, yaml_problem
from coverage.policies.schema import Policy

try:  # the C loader is several times faster where PyYAML was built with libyaml
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A validated policy with where it came from and the hash of its file's bytes.

    ``compiled`` is the engine's cache of this policy's pathways, ready to run (and of their
    criteria's bound checks); it is filled on first use and lives exactly as long as the policy.
    """

    policy: Policy
    hash: str
    source: str
    builtin: bool
    compiled: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (for a worker process) without the engine's cache: the worker compiles its own.
        return (LoadedPolicy, (self.policy, self.hash, self.source, self.builtin))


def parse_policy(content: bytes, source: str, *, builtin: bool = False) -> LoadedPolicy:
    """Validate one policy file's bytes, or raise :class:`InvalidPolicy` naming every problem."""
    try:
        data = yaml.load(content, Loader=_Loader)  # the C or pure-Python *safe* loader
    except (yaml.YAMLError, ValueError) as error:  # a date like 2026-13-01 raises ValueError
        raise InvalidPolicy([f"{source}: {yaml_problem(error)}"]) from None
    try:
        policy = Policy.model_validate(data)
    except ValidationError as error:
        raise InvalidPolicy(validation_problems(error, source, "policy")) from None
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


#: The largest policy file read (bytes); a larger one is refused before it is read.
MAX_POLICY_BYTES = 1024 * 1024


def shown(path: object) -> str:
    """A file name as an error line prints it: escaped (``repr``) when it holds a control or invisible character."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def read_policy_file(path: Path, source: str | None = None, *, builtin: bool = False) -> LoadedPolicy:
    """One policy file from disk, refused with one line when it is not a readable file of at most 1 MB."""
    name = source if source is not None else shown(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InvalidPolicy([f"{name}: not a file"])
        if size > MAX_POLICY_BYTES:
            raise InvalidPolicy([f"{name}: {size:,} bytes; a policy file may hold at most {MAX_POLICY_BYTES:,}"])
        content = path.read_bytes()
    except OSError as error:
        raise InvalidPolicy([f"{name}: cannot read the file ({error.strerror})"]) from None
    return parse_policy(content, name, builtin=builtin)


def read_folder(folder: Path | Traversable, *, builtin: bool = False) -> tuple[list[LoadedPolicy], list[str]]:
    """Every valid policy file in a folder, and one line per problem of the others (every file is read)."""
    if isinstance(folder, Path) and not folder.is_dir():
        return [], [f"{shown(folder)}: not a folder"]
    loaded: list[LoadedPolicy] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for entry in _policy_files(folder, builtin=builtin):
        try:
            if isinstance(entry, Path):
                item = read_policy_file(entry, builtin=builtin)
            else:
                item = parse_policy(entry.read_bytes(), f"<builtin>/{entry.name}", builtin=builtin)
        except InvalidPolicy as error:
            problems.extend(error.problems)
            continue
        key = (item.policy.id, item.policy.version)
        if key in seen:
            problems.append(f"{item.source}: version: {item.policy.id} {item.policy.version} is also in {seen[key]}")
            continue
        seen[key] = item.source
        loaded.append(item)
    return loaded, problems


def load_folder(folder: Path | Traversable, *, builtin: bool = False) -> list[LoadedPolicy]:
    """Every policy file in a folder; all problems of all files are gathered before raising.

    Two files of one folder may hold versions of the same id, not the same version twice.
    """
    loaded, problems = read_folder(folder, builtin=builtin)
    if problems:
        raise InvalidPolicy(problems)
    return loaded


class PolicyRegistry:
    """The loaded policies by id, each id with its versions in order of their effective dates.

    A later policy with the id and version of an earlier one replaces it (a clinic's file
    replaces a shipped version); a new version of a shipped id is added beside the shipped ones.
    The version in effect on a day is the one with the latest effective date on or before it,
    unless its ``end_date`` has passed. Two versions of an id may not take effect the same day.
    """

    def __init__(self, policies: Iterable[LoadedPolicy], *, strict: bool = True) -> None:
        """Raises :class:`InvalidPolicy` naming every clash; with ``strict=False`` they are kept in ``problems``."""
        by_version: dict[str, dict[str, LoadedPolicy]] = {}
        for item in policies:
            by_version.setdefault(item.policy.id, {})[item.policy.version] = item
        problems: list[str] = []
        self._versions: dict[str, tuple[LoadedPolicy, ...]] = {}
        # Newest first, as (effective ordinal, end ordinal, policy), for the lookup by date.
        self._by_date: dict[str, tuple[tuple[int, int, LoadedPolicy], ...]] = {}
        for policy_id, versions in by_version.items():
            ordered = tuple(sorted(versions.values(), key=lambda item: item.policy.effective_date))
            for earlier, later in itertools.pairwise(ordered):
                first, second = earlier.policy, later.policy
                both = f"{earlier.source} and {later.source}"
                if first.effective_date == second.effective_date:
                    problems.append(
                        f"{both}: effective_date: {policy_id} versions {first.version} and "
                        f"{second.version} both take effect {second.effective_date.isoformat()}"
                    )
                elif first.end_date is not None and first.end_date >= second.effective_date:
                    problems.append(
                        f"{both}: end_date: {policy_id} version {first.version} runs until "
                        f"{first.end_date.isoformat()}, after version {second.version} takes effect "
                        f"{second.effective_date.isoformat()} (the two overlap)"
                    )
            self._versions[policy_id] = ordered
            self._by_date[policy_id] = tuple(
                (
                    item.policy.effective_date.toordinal(),
                    item.policy.end_date.toordinal() if item.policy.end_date is not None else dt.date.max.toordinal(),
                    item,
                )
                for item in reversed(ordered)
            )
        #: The loaded ids, as a set: what a case's ``policy_id`` is checked against, case after case.
        self.ids_loaded = frozenset(self._versions)
        self.problems = problems
        if problems and strict:
            raise InvalidPolicy(problems)

    def __contains__(self, policy_id: object) -> bool:
        return policy_id in self._versions

    def get(self, policy_id: str, on: dt.date | None = None) -> LoadedPolicy | None:
        """The version of ``policy_id`` in effect ``on`` a day (the newest without one); ``None`` for an unknown id.

        Raises :class:`InvalidInput` when no version is in effect that day.
        """
        by_date = self._by_date.get(policy_id)
        if by_date is None:
            return None
        if on is None:
            return by_date[0][2]
        day = on.toordinal()
        for effective, end, item in by_date:
            if effective <= day:
                if day <= end:
                    return item
                break
        raise InvalidInput([self.not_in_effect(policy_id, on)])

    def not_in_effect(self, policy_id: str, on: dt.date) -> str:
        """Why no version of ``policy_id`` applies ``on`` a day, as one problem line."""
        versions = self._versions[policy_id]
        first = versions[0].policy
        text = f"coverage.policy_id: {policy_id} has no version in effect on {on.isoformat()}"
        if on < first.effective_date:
            return f"{text}; its first takes effect {first.effective_date.isoformat()}"
        ended = max(
            (v.policy.end_date for v in versions if v.policy.end_date is not None and v.policy.end_date < on),
            default=None,
        )
        return f"{text}; version {self._in_force_before(policy_id, on)} ended {ended}" if ended else text

    def gaps(self, days: Iterable[tuple[dt.date, str]], *, ids: Iterable[str] | None = None) -> list[str]:
        """One line per loaded id and day on which no version of it is in effect.

        ``days`` are (day, what that day is: "today", ...); ``ids`` limits the ids checked.
        """
        wanted = list(days)
        problems = []
        for policy_id in self.ids() if ids is None else ids:
            if policy_id not in self._versions:
                continue
            for day, what in wanted:
                if not self.in_effect_on(policy_id, day):
                    why = self.not_in_effect(policy_id, day).partition("; ")[2]
                    problems.append(
                        f"{policy_id}: no version in effect on {day.isoformat()} ({what})" + (f"; {why}" if why else "")
                    )
        return problems

    def _in_force_before(self, policy_id: str, on: dt.date) -> str:
        earlier = [v for v in self._versions[policy_id] if v.policy.effective_date <= on]
        return earlier[-1].policy.version

    def in_effect_on(self, policy_id: str, on: dt.date) -> bool:
        """Whether a version of ``policy_id`` is in effect on a day (``False`` for an unknown id)."""
        try:
            return self.get(policy_id, on) is not None
        except InvalidInput:
            return False

    def version(self, policy_id: str, version: str) -> LoadedPolicy | None:
        """One version of a policy, if loaded."""
        for item in self._versions.get(policy_id, ()):
            if item.policy.version == version:
                return item
        return None

    def versions(self, policy_id: str) -> list[LoadedPolicy]:
        """Every version of a policy, oldest first (empty for an unknown id)."""
        return list(self._versions.get(policy_id, ()))

    def until(self, item: LoadedPolicy) -> dt.date | None:
        """The last day a version is in effect: its end date, else the day before the next version; ``None``: open."""
        if item.policy.end_date is not None:
            return item.policy.end_date
        versions = self._versions.get(item.policy.id, ())
        later = [v for v in versions if v.policy.effective_date > item.policy.effective_date]
        return later[0].policy.effective_date - dt.timedelta(days=1) if later else None

    def ids(self) -> list[str]:
        """The loaded ids, sorted."""
        return sorted(self._versions)

    def all(self) -> list[LoadedPolicy]:
        """Every loaded version, by id and then effective date."""
        return [item for i in self.ids() for item in self._versions[i]]


def builtin_folder() -> Traversable:
    """The folder of policy files that ship with the package."""
    return resources.files("coverage.policies").joinpath("data")


def load_registry(clinic_folder: Path | None = None) -> PolicyRegistry:
    """The shipped policies, then the clinic's own: a new version of an id is added, the same version replaced."""
    policies = load_folder(builtin_folder(), builtin=True)
    if clinic_folder is not None:
        if not clinic_folder.is_dir():
            raise InvalidPolicy([f"PRIORAUTH_POLICY_DIR: {clinic_folder} is not a folder"])
        policies.extend(load_folder(clinic_folder))
    return PolicyRegistry(policies)
