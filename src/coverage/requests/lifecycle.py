"""The prior-authorization lifecycle as an explicit state machine (pure domain: no database).

Statuses and the moves allowed out of each (anything else raises
:class:`~coverage.errors.IllegalTransition`):

| from                                  | to                                                         |
|---------------------------------------|------------------------------------------------------------|
| (nothing)                             | ready, not_required, draft                                 |
| draft                                 | ready, not_required, payment_plan, cancelled               |
| ready                                 | submitted, draft, not_required, cancelled                  |
| submitted                             | pended, approved, partially_approved, denied, cancelled    |
| pended                                | submitted, approved, partially_approved, denied, cancelled |
| approved                              | expiring, expired, renewed, cancelled                      |
| partially_approved                    | expiring, expired, renewed, appeal_drafted, cancelled      |
| appeal_approved                       | expiring, expired, renewed, cancelled                      |
| renewed                               | expiring, expired, renewed, cancelled                      |
| expiring                              | expired, renewed, cancelled                                |
| expired                               | renewed, payment_plan, cancelled                           |
| denied                                | appeal_drafted, payment_plan, cancelled                    |
| appeal_drafted                        | appeal_submitted, payment_plan, cancelled                  |
| appeal_submitted                      | appeal_approved, appeal_denied, cancelled                  |
| appeal_denied                         | external_review, appeal_drafted, payment_plan, cancelled   |
| external_review                       | approved, payment_plan, cancelled                          |
| not_required, cancelled, payment_plan | (none)                                                     |

Intake lands on ready, not_required or draft from the determination; a re-intake of the same
case moves an open draft/ready request (new documentation). Pended goes back to submitted when
the information is sent (the answer clock restarts). An approval recorded on an authorized or
expired request is its renewal (re-authorization). Denial opens the appeal window (ACA: 180
days); appeal_denied opens external review (4 months) or a second-level appeal.

``expiring`` and ``expired`` are also *derived* when a request is read (see
:func:`coverage.requests.clocks.effective_status`), so nothing has to store them on a clock.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from coverage.errors import IllegalTransition, InvalidInput

Status = Literal[
    "draft",
    "ready",
    "submitted",
    "pended",
    "approved",
    "partially_approved",
    "denied",
    "cancelled",
    "not_required",
    "expiring",
    "expired",
    "renewed",
    "appeal_drafted",
    "appeal_submitted",
    "appeal_approved",
    "appeal_denied",
    "external_review",
    "payment_plan",
]
STATUSES: Final[tuple[Status, ...]] = get_args(Status)

Urgency = Literal["standard", "expedited"]
Channel = Literal["fax", "portal", "phone", "electronic"]
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)

TRANSITIONS: Final[dict[Status, frozenset[Status]]] = {
    "draft": frozenset({"ready", "not_required", "payment_plan", "cancelled"}),
    "ready": frozenset({"submitted", "draft", "not_required", "cancelled"}),
    "submitted": frozenset({"pended", "approved", "partially_approved", "denied", "cancelled"}),
    "pended": frozenset({"submitted", "approved", "partially_approved", "denied", "cancelled"}),
    "approved": frozenset({"expiring", "expired", "renewed", "cancelled"}),
    "partially_approved": frozenset({"expiring", "expired", "renewed", "appeal_drafted", "cancelled"}),
    "appeal_approved": frozenset({"expiring", "expired", "renewed", "cancelled"}),
    "renewed": frozenset({"expiring", "expired", "renewed", "cancelled"}),
    "expiring": frozenset({"expired", "renewed", "cancelled"}),
    "expired": frozenset({"renewed", "payment_plan", "cancelled"}),
    "denied": frozenset({"appeal_drafted", "payment_plan", "cancelled"}),
    "appeal_drafted": frozenset({"appeal_submitted", "payment_plan", "cancelled"}),
    "appeal_submitted": frozenset({"appeal_approved", "appeal_denied", "cancelled"}),
    "appeal_denied": frozenset({"external_review", "appeal_drafted", "payment_plan", "cancelled"}),
    "external_review": frozenset({"approved", "payment_plan", "cancelled"}),
    "not_required": frozenset(),
    "cancelled": frozenset(),
    "payment_plan": frozenset(),
}

#: Statuses in which an authorization is (or was) in force.
AUTHORIZED: Final = frozenset({"approved", "partially_approved", "appeal_approved", "renewed", "expiring"})
#: Statuses in which the payer owes an answer.
AWAITING_PAYER: Final = frozenset({"submitted", "pended", "appeal_submitted"})
#: Statuses after which nothing more happens.
FINAL: Final = frozenset(status for status, targets in TRANSITIONS.items() if not targets)
#: Where a new intake of the same case may land on an existing request, instead of opening a new one.
REOPENABLE: Final = frozenset({"draft", "ready"})

#: The first status, from the determination's outcome.
_INITIAL: Final[dict[str, Status]] = {"meets_criteria": "ready", "no_pa_required": "not_required"}


def parse_status(value: str) -> Status:
    """A status name, or :class:`InvalidInput` listing the valid ones."""
    for status in STATUSES:
        if status == value:
            return status
    raise InvalidInput([f"status: {value!r} is not one of {', '.join(STATUSES)}"])


def initial_status(outcome: str) -> Status:
    """Intake's status: ``meets_criteria`` is ready, ``no_pa_required`` not required, else draft."""
    return _INITIAL.get(outcome, "draft")


def can_transition(current: Status, target: Status) -> bool:
    """Whether the state machine allows ``current`` to ``target``."""
    return target in TRANSITIONS[current]


def check_transition(request_id: int, current: Status, target: Status) -> None:
    """Raise :class:`IllegalTransition` (one line, ids only) unless the move is allowed."""
    if not can_transition(current, target):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: it is final"
        raise IllegalTransition(f"request {request_id}: cannot go from {current} to {target} (allowed: {allowed})")


AnswerKind = Literal["approved", "partially_approved", "denied", "pended"]


def answer_target(request_id: int, current: Status, answer: AnswerKind) -> Status:
    """Where the payer's answer takes the request from ``current``.

    An approval of a request already authorized is its renewal (re-authorization); answers to
    an appeal land on ``appeal_approved``/``appeal_denied``; an external reviewer's approval is
    an approval.
    """
    target: Status
    if current == "appeal_submitted":
        if answer == "pended":
            raise IllegalTransition(f"request {request_id}: an appeal cannot be pended; record its decision")
        target = "appeal_denied" if answer == "denied" else "appeal_approved"
    elif current in AUTHORIZED or current == "expired":
        if answer not in {"approved", "partially_approved"}:
            raise IllegalTransition(
                f"request {request_id}: a re-authorization answer for {current} must be an approval"
            )
        target = "renewed"
    else:
        target = answer
    check_transition(request_id, current, target)
    return target
