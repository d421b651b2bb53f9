"""The impact of a policy revision on the open requests (``priorauth policies impact``).

Every request still open to a change of its policy (draft, ready, pended, submitted; approving
requests whose continuation is not yet sent) whose policy id is the revision's is evaluated
twice as of the day the revision would first judge it: the later of the revision's effective
date and the clinic's today (an open request is evaluated again when it is sent, as of that
day). Once under the version in effect that day without the file, once under the version in
effect that day with the file installed (a same-version file replaces the loaded one). A request
whose outcome or any criterion's status differs is reported. Nothing is stored. The stored
cases are read in batches and the changes handed on one at a time, so memory stays flat
whatever the number of requests.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from coverage.cases import parse_case
from coverage.determinations import Determination
from coverage.errors import InvalidInput, InvalidPolicy
from coverage.policies.engine import evaluate
from coverage.policies.loader import LoadedPolicy, PolicyRegistry
from coverage.policies.service import Checker
from coverage.requests.lifecycle import APPROVING, TRANSITIONS
from coverage.store.uow import UnitOfWork

#: Requests a revision can still change: not yet decided by the payer.
REVISABLE = frozenset({"draft", "ready", "pended", "submitted"})
#: A continuation in one of these has been sent (it is with the payer, or decided).
SENT = frozenset(TRANSITIONS) - {"draft", "ready", "cancelled"}


@dataclass(frozen=True, slots=True)
class CriterionChange:
    """A criterion whose status differs: ``None`` where a version does not list it."""

    id: str
    before: str | None
    after: str | None
    detail: str

    def to_dict(self) -> dict[str, str | None]:
        return {"id": self.id, "from": self.before, "to": self.after, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class RequestChange:
    """One request the revision changes."""

    request_id: int
    outcome_from: str
    outcome_to: str
    criteria: tuple[CriterionChange, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "outcome_from": self.outcome_from,
            "outcome_to": self.outcome_to,
            "criteria": [c.to_dict() for c in self.criteria],
        }


@dataclass(slots=True)
class ImpactSummary:
    """How many requests were evaluated, how many changed, and how many stored cases could not be read.

    ``problems``: with the file installed, the open requests' ``as_of`` days on which no version
    of the policy is in effect (each one line).
    """

    policy_id: str
    version: str
    effective_date: dt.date
    evaluated: int = 0
    changed: int = 0
    unreadable: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Comparison:
    """What a revision is compared on: the day, and the versions in effect that day without and with the file.

    ``installed``: the file's very content is already loaded (so it is compared with itself).
    ``problems``: with the file installed, no version of the policy is in effect today.
    """

    day: dt.date
    before: LoadedPolicy | None
    after: LoadedPolicy | None
    installed: bool
    without: PolicyRegistry
    with_file: PolicyRegistry
    problems: tuple[str, ...]


NO_VERSION = "no_version_in_effect"


def _in_effect(registry: PolicyRegistry, policy_id: str, day: dt.date) -> LoadedPolicy | None:
    try:
        return registry.get(policy_id, day) if policy_id in registry else None
    except InvalidInput:
        return None


def compare(revision: LoadedPolicy, registry: PolicyRegistry, today: dt.date) -> Comparison:
    """The day a revision is evaluated on (the later of its effective date and ``today``) and the two versions.

    Raises :class:`InvalidPolicy` when the revision's id is not loaded, or when it cannot stand
    beside the loaded versions (another version taking effect the same day, overlapping dates).
    """
    policy = revision.policy
    if policy.id not in registry:
        raise InvalidPolicy(
            [f"{revision.source}: id: {policy.id!r} is not a loaded policy (loaded: {', '.join(registry.ids())})"]
        )
    installed = any(item.hash == revision.hash for item in registry.versions(policy.id))
    without = registry  # an installed file is compared with itself: nothing can change
    # The same checks as when the file is installed; a file with a loaded version replaces it.
    with_file = PolicyRegistry([*registry.all(), revision])
    day = max(policy.effective_date, today)
    problems = with_file.gaps([(today, "today")], ids=[policy.id])
    return Comparison(
        day=day,
        before=_in_effect(without, policy.id, day),
        after=_in_effect(with_file, policy.id, day),
        installed=installed,
        without=without,
        with_file=with_file,
        problems=tuple(problems),
    )


def changes(before: Determination | None, after: Determination | None) -> tuple[CriterionChange, ...]:
    """The criteria whose status differs between two determinations of one case, in the revision's order.

    ``None``: no version in effect (every criterion of the other is listed).
    """
    old = {c.id: c for c in before.criteria} if before is not None else {}
    new = {c.id: c for c in after.criteria} if after is not None else {}
    found = [
        CriterionChange(c.id, old[c.id].status if c.id in old else None, c.status, c.detail)
        for c in (after.criteria if after is not None else ())
        if c.id not in old or old[c.id].status != c.status
    ]
    found.extend(
        CriterionChange(c.id, c.status, None, c.detail)
        for c in (before.criteria if before is not None else ())
        if c.id not in new
    )
    return tuple(found)


def impact(
    revision: LoadedPolicy,
    *,
    uow: UnitOfWork,
    checker: Checker,
    changed: Callable[[RequestChange], None],
    today: dt.date,
    batch: int = 1000,
    comparison: Comparison | None = None,
) -> ImpactSummary:
    """Evaluate the open requests of the revision's policy without and with it; tell ``changed`` each one it changes."""
    compared = comparison if comparison is not None else compare(revision, checker.registry, today)
    policy = revision.policy
    summary = ImpactSummary(policy.id, policy.version, policy.effective_date)
    on = {"as_of": compared.day}
    drugs, registry = checker.drugs, checker.registry
    missing: set[dt.date] = set()
    with uow:
        rows = uow.courses.current_cases(policy.id, statuses=REVISABLE, approving=APPROVING, sent=SENT, batch=batch)
        for request_id, text in rows:
            try:
                stored = parse_case(text, registry)
            except InvalidInput:
                summary.unreadable += 1
                continue
            if not compared.with_file.in_effect_on(policy.id, stored.as_of):
                missing.add(stored.as_of)
            case = stored.model_copy(update=on)
            summary.evaluated += 1
            after = evaluate(case, compared.after, drugs) if compared.after is not None else None
            before = evaluate(case, compared.before, drugs) if compared.before is not None else None
            if before is None and after is None:
                continue
            differing = changes(before, after)
            outcome_from = before.outcome if before is not None else NO_VERSION
            outcome_to = after.outcome if after is not None else NO_VERSION
            if differing or outcome_from != outcome_to:
                summary.changed += 1
                changed(RequestChange(request_id, outcome_from, outcome_to, differing))
    summary.problems = compared.with_file.gaps(
        [(day, "the as_of of an open request") for day in sorted(missing)], ids=[policy.id]
    )
    return summary


def open_request_days(uow: UnitOfWork, policy_ids: Iterable[str], *, batch: int = 1000) -> dict[str, set[dt.date]]:
    """The ``as_of`` days of the open requests (those a revision can still change) of each policy id."""
    days: dict[str, set[dt.date]] = {}
    with uow:
        for policy_id in policy_ids:
            rows = uow.courses.current_cases(policy_id, statuses=REVISABLE, approving=APPROVING, sent=SENT, batch=batch)
            for _, text in rows:
                try:
                    data = json.loads(text)
                    day = dt.date.fromisoformat(data["as_of"])
                except (ValueError, TypeError, KeyError):
                    continue  # an unreadable stored case: impact counts those
                days.setdefault(policy_id, set()).add(day)
    return days
