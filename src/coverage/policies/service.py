"""Checking cases against the loaded policies: one case, or a JSON Lines batch streamed line by line."""

from __future__ import annotations

import datetime as dt
import gc
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from coverage.cases import Case, parse_case
from coverage.determinations import Determination
from coverage.drugs import DrugTable, default_drug_table
from coverage.errors import InvalidCase, InvalidInput
from coverage.policies.engine import evaluate
from coverage.policies.loader import LoadedPolicy, PolicyRegistry, load_registry
from coverage.settings import Settings


@dataclass(frozen=True, slots=True)
class Checker:
    """The policies and drug table that cases are checked against."""

    registry: PolicyRegistry
    drugs: DrugTable
    #: The version of each (policy id, day) met so far: a batch's cases share a few days.
    _in_effect: dict[tuple[str, dt.date], LoadedPolicy] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> Checker:
        """The shipped policies plus the clinic's folder, and the shipped drug table."""
        return cls(load_registry(settings.policy_dir), default_drug_table())

    def parse(self, text: str | bytes) -> Case:
        """Validate a case's JSON text against the format and the loaded policy ids."""
        return parse_case(text, self.registry.ids_loaded)

    def policy_for(self, case: Case) -> LoadedPolicy | None:
        """The version of the case's policy in effect on its ``as_of`` (``None`` when it names none)."""
        policy_id = case.coverage.policy_id
        return self.registry.get(policy_id, case.as_of) if policy_id else None

    def policy_of(self, determination: Determination) -> LoadedPolicy | None:
        """The policy version a determination was made under (``None`` when none, or no longer loaded)."""
        if determination.policy_id is None or determination.policy_version is None:
            return None
        return self.registry.version(determination.policy_id, determination.policy_version)

    def determine(self, case: Case, *, policy: LoadedPolicy | None = None) -> Determination:
        """The determination for a validated case: under ``policy``, else the version in effect on ``as_of``."""
        return evaluate(case, policy if policy is not None else self.policy_for(case), self.drugs)

    def check(self, text: str | bytes) -> Determination:
        """Validate and evaluate one case.

        A case dated before every version of its policy (or after the last one ended) is an
        error naming the policy and the date.
        """
        case = parse_case(text, self.registry.ids_loaded)
        policy_id = case.coverage.policy_id
        policy = None
        if policy_id is not None:
            key = (policy_id, case.as_of)
            policy = self._in_effect.get(key)
            if policy is None:
                try:
                    policy = self.registry.get(policy_id, case.as_of)
                except InvalidInput as error:
                    raise InvalidCase(error.problems) from None
                assert policy is not None  # parse_case checked the id is loaded
                if len(self._in_effect) >= 4096:
                    self._in_effect.clear()
                self._in_effect[key] = policy
        return evaluate(case, policy, self.drugs)


def _case_id_of(line: bytes) -> str | None:
    try:
        data: Any = json.loads(line)
    except ValueError:
        return None
    value = data.get("case_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


@dataclass(slots=True)
class BatchSummary:
    """How a batch went."""

    lines: int = 0
    invalid: int = 0


def check_batch(
    checker: Checker,
    lines: Iterable[bytes],
    out: IO[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> BatchSummary:
    """One output line per input line, in order: the determination, or the line's error record.

    Reads and writes one line at a time, so memory stays flat whatever the batch size.
    ``progress`` is told the number of bytes consumed after each line.
    """
    summary = BatchSummary()
    # Everything alive now (policies, drug table, modules) lives as long as the batch: keep it
    # out of the collector's scans, which otherwise grow with every case's short-lived objects.
    gc.freeze()
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\r\n")
        summary.lines += 1
        try:
            if not line.strip():
                raise InvalidCase(["case: empty line"])
            record = checker.check(line).to_dict()
        except InvalidCase as error:
            summary.invalid += 1
            record = {"line": number, "case_id": _case_id_of(line), "errors": error.problems}
        out.write(json.dumps(record, separators=(",", ":")))
        out.write("\n")
        if progress is not None:
            progress(len(raw))
    return summary
