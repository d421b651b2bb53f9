"""The statuses of a request and the moves between them: the one place that names every status set.

Stored statuses and the moves allowed out of each (the move that makes them in brackets);
:class:`~coverage.requests.model.Request` refuses anything else with
:class:`~coverage.errors.IllegalTransition`:

| from               | to                                                                                |
|--------------------|-----------------------------------------------------------------------------------|
| (nothing)          | draft, ready, not_required [intake, continue]                                     |
| draft              | ready, draft, not_required [amend], payment_plan, cancelled                       |
| ready              | submitted [submit], draft [re-evaluated, sign-off rejected], ready, not_required, cancelled |
| submitted          | pended, approved, partially_approved, denied, not_required [record], cancelled    |
| pended             | submitted [submit], ready, draft [amend, attach], answers as submitted [record], cancelled |
| approved           | cancelled (a modified answer keeps the status)                                    |
| partially_approved | appeal_drafted [appeal], cancelled                                                |
| appeal_approved    | cancelled                                                                         |
| denied             | appeal_drafted [appeal], payment_plan, cancelled                                  |
| appeal_drafted     | appeal_submitted [submit], payment_plan, cancelled                                |
| appeal_submitted   | appeal_approved, appeal_denied [record], cancelled                                |
| appeal_denied      | external_review, appeal_drafted [appeal], payment_plan, cancelled                 |
| external_review    | approved [record], payment_plan, cancelled                                        |
| not_required, payment_plan, cancelled | (none: final)                                                  |

``requests undo`` goes back along the recorded history instead, whatever this table says.
``expiring`` and ``expired`` are never stored: they are derived when a request is read
(:func:`coverage.requests.clocks.derived_status`). There is no ``renewed``: a renewal is a
continuation request of the same course.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from coverage.errors import InvalidInput

Status = Literal[
    "draft",
    "ready",
    "submitted",
    "pended",
    "approved",
    "partially_approved",
    "denied",
    "appeal_drafted",
    "appeal_submitted",
    "appeal_approved",
    "appeal_denied",
    "external_review",
    "not_required",
    "payment_plan",
    "cancelled",
]
STATUSES: Final[tuple[Status, ...]] = get_args(Status)
#: What a request reads as on a day: a stored status, or one derived from its authorization.
ReadStatus = Status | Literal["expiring", "expired"]
READ_STATUSES: Final[tuple[str, ...]] = (*STATUSES, "expiring", "expired")

Urgency = Literal["standard", "expedited"]
Channel = Literal["fax", "portal", "phone", "electronic"]
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
#: Channels where a person sends the documents (a send task), not a gateway.
PERSON_CHANNELS: Final = frozenset({"fax", "portal", "phone"})
Kind = Literal["initial", "continuation"]

#: An answer's decision (X12 278 HCR01: A1, A2, A6, A4, A3, NA).
Decision = Literal["approved", "partially_approved", "modified", "pended", "denied", "not_required"]
DECISIONS: Final[tuple[Decision, ...]] = get_args(Decision)

TRANSITIONS: Final[dict[Status, frozenset[Status]]] = {
    "draft": frozenset({"ready", "draft", "not_required", "payment_plan", "cancelled"}),
    "ready": frozenset({"submitted", "draft", "ready", "not_required", "cancelled"}),
    "submitted": frozenset({"pended", "approved", "partially_approved", "denied", "not_required", "cancelled"}),
    "pended": frozenset(
        {"submitted", "ready", "draft", "not_required", "approved", "partially_approved", "denied", "cancelled"}
    ),
    "approved": frozenset({"cancelled"}),
    "partially_approved": frozenset({"appeal_drafted", "cancelled"}),
    "appeal_approved": frozenset({"cancelled"}),
    "denied": frozenset({"appeal_drafted", "payment_plan", "cancelled"}),
    "appeal_drafted": frozenset({"appeal_submitted", "payment_plan", "cancelled"}),
    "appeal_submitted": frozenset({"appeal_approved", "appeal_denied", "cancelled"}),
    "appeal_denied": frozenset({"external_review", "appeal_drafted", "payment_plan", "cancelled"}),
    "external_review": frozenset({"approved", "payment_plan", "cancelled"}),
    "not_required": frozenset(),
    "payment_plan": frozenset(),
    "cancelled": frozenset(),
}

#: Where intake and amend land, from the determination's outcome (anything else: draft).
OUTCOME_STATUS: Final[dict[str, Status]] = {"meets_criteria": "ready", "no_pa_required": "not_required"}
#: Statuses from which the request, the information asked for, or the appeal goes to the payer.
SENDABLE: Final = frozenset({"ready", "pended", "appeal_drafted"})
#: Where a sending takes the request, by the status it is sent from.
SENT_TO: Final[dict[Status, Status]] = {
    "ready": "submitted",
    "pended": "submitted",
    "appeal_drafted": "appeal_submitted",
}
#: The payer has the request (or the appeal) and owes an answer.
WITH_PAYER: Final = frozenset({"submitted", "appeal_submitted"})
#: Statuses an answer can be recorded on (a pended request may be decided without a new sending).
ANSWERABLE: Final = frozenset({"submitted", "pended", "appeal_submitted", "external_review"})
#: Statuses in which an authorization was granted.
APPROVING: Final = frozenset({"approved", "partially_approved", "appeal_approved"})
#: Statuses that carry a final answer of the payer (a different answer needs an undo first).
DECIDED: Final = frozenset({*APPROVING, "denied", "appeal_denied", "not_required"})
#: Open requests: a new intake of the case id amends them.
OPEN: Final = frozenset({"draft", "ready", "pended"})
#: Where new case versions and outside documents can be added.
AMENDABLE: Final = frozenset({"draft", "ready", "pended", "denied", "appeal_drafted"})
#: Statuses after which nothing more happens (but an undo).
FINAL: Final = frozenset(status for status, targets in TRANSITIONS.items() if not targets)
#: Moves that carry no payer data, made with ``requests transition``; the others have their own command.
PLAIN_MOVES: Final = frozenset({"appeal_drafted", "external_review", "payment_plan", "cancelled"})
#: Statuses a self-pay plan can follow (or is already in).
PLANNABLE: Final = frozenset({s for s, targets in TRANSITIONS.items() if "payment_plan" in targets} | {"payment_plan"})

#: Decisions an answer can be, by the status it is recorded on, and where each takes the request.
ANSWER_TARGETS: Final[dict[Status, dict[Decision, Status]]] = {
    "submitted": {
        "approved": "approved",
        "partially_approved": "partially_approved",
        "pended": "pended",
        "denied": "denied",
        "not_required": "not_required",
    },
    "pended": {
        "approved": "approved",
        "partially_approved": "partially_approved",
        "pended": "pended",
        "denied": "denied",
        "not_required": "not_required",
    },
    "appeal_submitted": {
        "approved": "appeal_approved",
        "partially_approved": "appeal_approved",
        "denied": "appeal_denied",
    },
    "external_review": {"approved": "approved", "partially_approved": "approved"},
}


def parse_status(value: str, *, read: bool = False) -> Status:
    """A stored status name (``read``: also expiring and expired), or one line listing the valid ones."""
    names = READ_STATUSES if read else STATUSES
    if value in names:
        return value  # type: ignore[return-value]  # checked against the literal's values
    raise InvalidInput([f"status: {value!r} is not one of {', '.join(names)}"])


def can_move(current: Status, target: Status) -> bool:
    """Whether the table allows ``current`` to ``target``."""
    return target in TRANSITIONS[current]
