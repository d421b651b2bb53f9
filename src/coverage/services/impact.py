"""The impact of a policy revision on the open requests (``priorauth policies impact``).

Every request still open to a change of its policy (draft, ready, pended, submitted; approving
requests whose continuation is not yet sent) whose policy id is the revision's is evaluated
twice as of the revision's effective date: under the version loaded for that day, and under the
revision. A request whose outcome or any criterion's status differs is reported. Nothing is
stored. The stored cases are read in batches and the changes handed on one at a time, so
memory stays flat whatever the number of requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

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
    """How many requests were evaluated, how many changed, and how many stored cases could not be read."""

    policy_id: str
    version: str
    effective_date: dt.date
    evaluated: int = 0
    changed: int = 0
    unreadable: int = 0


def compared_with(revision: LoadedPolicy, registry: PolicyRegistry) -> LoadedPolicy:
    """The loaded version a revision is compared with: the one in effect on its effective date.

    Raises :class:`InvalidPolicy` when the revision's id is not loaded, or when it cannot stand
    beside the loaded versions (another version taking effect the same day).
    """
    policy = revision.policy
    if policy.id not in registry:
        raise InvalidPolicy(
            [f"{revision.source}: id: {policy.id!r} is not a loaded policy (loaded: {', '.join(registry.ids())})"]
        )
    PolicyRegistry([*registry.all(), revision])  # the same checks as when the file is installed
    try:
        current = registry.get(policy.id, policy.effective_date)
    except InvalidInput:
        current = registry.versions(policy.id)[0]  # the revision takes effect before every loaded version
    assert current is not None
    return current


def changes(before: Determination, after: Determination) -> tuple[CriterionChange, ...]:
    """The criteria whose status differs between two determinations of one case, in the revision's order."""
    old = {c.id: c for c in before.criteria}
    new = {c.id: c for c in after.criteria}
    found = [
        CriterionChange(c.id, old[c.id].status if c.id in old else None, c.status, c.detail)
        for c in after.criteria
        if c.id not in old or old[c.id].status != c.status
    ]
    found.extend(CriterionChange(c.id, c.status, None, c.detail) for c in before.criteria if c.id not in new)
    return tuple(found)


def impact(
    revision: LoadedPolicy,
    *,
    uow: UnitOfWork,
    checker: Checker,
    changed: Callable[[RequestChange], None],
    batch: int = 1000,
) -> ImpactSummary:
    """Evaluate the open requests of the revision's policy under it; tell ``changed`` each one it changes."""
    current = compared_with(revision, checker.registry)
    policy = revision.policy
    summary = ImpactSummary(policy.id, policy.version, policy.effective_date)
    on = {"as_of": policy.effective_date}
    drugs, registry = checker.drugs, checker.registry
    with uow:
        rows = uow.courses.current_cases(policy.id, statuses=REVISABLE, approving=APPROVING, sent=SENT, batch=batch)
        for request_id, text in rows:
            try:
                case = parse_case(text, registry).model_copy(update=on)
            except InvalidInput:
                summary.unreadable += 1
                continue
            summary.evaluated += 1
            before = evaluate(case, current, drugs)
            after = evaluate(case, revision, drugs)
            differing = changes(before, after)
            if differing or before.outcome != after.outcome:
                summary.changed += 1
                changed(RequestChange(request_id, before.outcome, after.outcome, differing))
    return summary
