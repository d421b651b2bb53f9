"""Talking to the payers in batches: submit requests, ask about them, apply the answers, follow up.

Idempotency, so that a retried task or a re-run flow never submits twice nor applies an answer
twice:

- a submission's key is ``submit:<request id>:<attempt>``, where the attempt is one more than
  the submissions already recorded. A crash after the gateway accepted the packet but before
  we recorded it leaves the count unchanged, so the retry sends the same key (the gateway
  answers a known key with the receipt it gave) and records it once; the store's unique
  ``submissions.idempotency_key`` refuses a second row, and a request already submitted is no
  longer in a sendable status;
- an answer is applied with the payer's answer id as key (``answer:<answer id>``, unique in
  ``status_events``): asking again and getting the same answer writes nothing;
- a follow-up is noted at most once per request and day (``follow-up:<request id>:<day>``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from coverage.errors import InvalidInput, PriorAuthError
from coverage.payers.gateways import (
    Enclosure,
    PayerAnswer,
    PayerGateway,
    StatusInquiry,
    SubmissionPacket,
    units_requested,
)
from coverage.requests import service as requests
from coverage.requests.answers import Answer, Approval, Denial, Pending
from coverage.requests.clocks import ClockSettings
from coverage.requests.lifecycle import AWAITING_PAYER
from coverage.store import tables as t
from coverage.store.uow import UnitOfWork
from coverage.workflow.prepare import SENDABLE, pdf_page_count

log = logging.getLogger(__name__)

GatewayFor = Callable[[str], PayerGateway]
#: Documents that travel with a request, by the status it is sent from.
_ENCLOSED = {"appeal_drafted": ("appeal", "packet", "fax-cover")}
_ENCLOSED_DEFAULT = ("request", "continuation", "packet", "fax-cover")


def submission_key(request_id: int, attempt: int) -> str:
    """The idempotency key of a request's ``attempt``-th submission."""
    return f"submit:{request_id}:{attempt}"


def answer_key(answer_id: str) -> str:
    """The idempotency key under which a payer's answer is applied."""
    return f"answer:{answer_id}"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """A request sent: its submission, and whether staff must still send it by hand."""

    request_id: int
    submission_id: int
    idempotency_key: str
    channel: str
    payer_reference: str | None
    needs_staff: bool
    appeal: bool


def _enclosures(uow: UnitOfWork, request_id: int, status: str) -> tuple[Enclosure, ...]:
    wanted = _ENCLOSED.get(status, _ENCLOSED_DEFAULT)
    latest: dict[str, t.Document] = {}
    for document in uow.requests.documents(request_id):
        if document.kind in wanted and document.control_number:
            latest[document.kind] = document
    return tuple(
        Enclosure(
            kind=d.kind, control_number=d.control_number or "", sha256=d.sha256, pages=pdf_page_count(_content(d))
        )
        for d in sorted(latest.values(), key=lambda d: wanted.index(d.kind))
    )


def _content(document: t.Document) -> bytes:
    if document.content is not None:
        return document.content
    if document.path is not None:
        try:
            with open(document.path, "rb") as handle:
                return handle.read()
        except OSError:
            return b""
    return b""


def _packet(uow: UnitOfWork, row: t.PARequest) -> tuple[SubmissionPacket, str]:
    """What goes to the payer for a stored request, and the payer's channel."""
    attempt = len(uow.requests.submissions(row.id)) + 1
    determinations = uow.requests.determinations(row.id)
    result = determinations[-1].result if determinations else {}
    days = result.get("authorization_days")
    payer = uow.payers.get(row.payer_id) if row.payer_id is not None else None
    packet = SubmissionPacket(
        request_id=row.id,
        idempotency_key=submission_key(row.id, attempt),
        attempt=attempt,
        policy_id=result.get("policy_id"),
        treatment=row.treatment,
        indication=row.indication,
        kind=row.kind,
        outcome=str(result.get("outcome", "unknown")),
        authorization_days=days,
        units_requested=units_requested(row.treatment, days),
        expedited=row.urgency == "expedited",
        enclosures=_enclosures(uow, row.id, row.status),
        appeal=row.status == "appeal_drafted",
    )
    return packet, payer.channel if payer is not None else "fax"


def submit_requests(
    request_ids: Sequence[int],
    *,
    uow: UnitOfWork,
    gateway_for: GatewayFor,
    by: str,
    now: dt.datetime | None = None,
    clocks: ClockSettings = requests.DEFAULT_CLOCKS,
) -> list[SubmitResult]:
    """Send each sendable request (ready, pended, appeal drafted) through its payer's gateway and record it.

    Requests in any other status are left out (already sent: a re-run is a no-op).
    """
    now = now or t.utcnow()
    batches: dict[int, tuple[PayerGateway, list[SubmissionPacket]]] = {}
    with uow:
        for request_id in request_ids:
            row = uow.requests.get(request_id)
            if row is None or row.status not in SENDABLE:
                continue
            packet, channel = _packet(uow, row)
            gateway = gateway_for(channel)
            batches.setdefault(id(gateway), (gateway, []))[1].append(packet)
    results: list[SubmitResult] = []
    for gateway, packets in batches.values():
        receipts = gateway.submit(packets, now=now)  # the payer has it from here on: record with the same key
        appeals = {p.request_id: p.appeal for p in packets}
        for receipt in receipts:
            view = requests.submit(
                receipt.request_id,
                uow=uow,
                channel=receipt.channel,
                by=by,
                reference=receipt.payer_reference,
                idempotency_key=receipt.idempotency_key,
                at=now,
                clocks=clocks,
            )
            results.append(
                SubmitResult(
                    request_id=receipt.request_id,
                    submission_id=view.id,
                    idempotency_key=receipt.idempotency_key,
                    channel=receipt.channel,
                    payer_reference=receipt.payer_reference,
                    needs_staff=receipt.needs_staff,
                    appeal=appeals[receipt.request_id],
                )
            )
            log.info(
                "request %s: submitted (%s, attempt key %s)", receipt.request_id, receipt.channel, view.idempotency_key
            )
    return results


@dataclass(slots=True)
class CheckOutcome:
    """What one status check found, by request id (ids only: it crosses into the orchestration)."""

    checked: list[int] = field(default_factory=list)
    decided: dict[int, str] = field(default_factory=dict)
    pended: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    @property
    def approved(self) -> list[int]:
        return [
            i for i, s in self.decided.items() if s in ("approved", "partially_approved", "appeal_approved", "renewed")
        ]

    @property
    def denied(self) -> list[int]:
        return [i for i, s in self.decided.items() if s in ("denied", "appeal_denied")]


def to_answer(answer: PayerAnswer) -> Answer:
    """The records' answer for a gateway's answer."""
    if answer.decision in ("approved", "partially_approved"):
        if not answer.auth_number or answer.valid_from is None or answer.valid_to is None or answer.units is None:
            raise InvalidInput([f"request {answer.request_id}: answer {answer.answer_id} approves without its terms"])
        return Approval(
            number=answer.auth_number,
            valid_from=answer.valid_from,
            valid_to=answer.valid_to,
            units_authorized=answer.units,
            partial=answer.decision == "partially_approved",
            payer_reference=answer.payer_reference,
        )
    if answer.decision == "denied":
        reason = answer.reason or (answer.reason_code or "denied")
        return Denial(reason=reason, payer_reference=answer.payer_reference)
    return Pending(
        info_requested=answer.info_requested or "information requested", payer_reference=answer.payer_reference
    )


def _inquiry(uow: UnitOfWork, row: t.PARequest) -> tuple[StatusInquiry, str] | None:
    submissions = uow.requests.submissions(row.id)
    if not submissions:
        return None
    latest = submissions[-1]
    determinations = uow.requests.determinations(row.id)
    result = determinations[-1].result if determinations else {}
    days = result.get("authorization_days")
    inquiry = StatusInquiry(
        request_id=row.id,
        payer_reference=latest.reference or submission_key(row.id, len(submissions)),
        attempt=len(submissions),
        submitted_at=latest.submitted_at,
        outcome=str(result.get("outcome", "unknown")),
        authorization_days=days,
        units_requested=units_requested(row.treatment, days),
        expedited=row.urgency == "expedited",
        appeal=row.status == "appeal_submitted",
    )
    return inquiry, latest.channel


def check_requests(
    request_ids: Sequence[int],
    *,
    uow: UnitOfWork,
    gateway_for: GatewayFor,
    by: str,
    now: dt.datetime | None = None,
    clocks: ClockSettings = requests.DEFAULT_CLOCKS,
) -> CheckOutcome:
    """Ask the payers about these requests in one batch per gateway, apply every answer, note the check.

    A request that moved meanwhile (staff recorded the answer by hand) is skipped, not failed;
    one still unanswered past its due date is listed as overdue.
    """
    now = now or t.utcnow()
    outcome = CheckOutcome()
    batches: dict[int, tuple[PayerGateway, list[StatusInquiry]]] = {}
    due: dict[int, dt.datetime | None] = {}
    with uow:
        for request_id in request_ids:
            row = uow.requests.get(request_id)
            if row is None or row.status not in AWAITING_PAYER:
                continue
            found = _inquiry(uow, row)
            if found is None:
                continue
            inquiry, channel = found
            gateway = gateway_for(channel)
            batches.setdefault(id(gateway), (gateway, []))[1].append(inquiry)
            due[request_id] = row.due_at
            outcome.checked.append(request_id)
    answered: set[int] = set()
    for gateway, inquiries in batches.values():
        for answer in gateway.inquire(inquiries, now=now):
            try:
                view = requests.record_answer(
                    answer.request_id,
                    uow=uow,
                    answer=to_answer(answer),
                    by=by,
                    idempotency_key=answer_key(answer.answer_id),
                    at=now,
                    clocks=clocks,
                )
            except PriorAuthError as error:
                log.warning(
                    "request %s: answer %s not applied (%s)", answer.request_id, answer.answer_id, type(error).__name__
                )
                outcome.skipped.append(answer.request_id)
                continue
            answered.add(answer.request_id)
            if view.stored_status == "pended":
                outcome.pended.append(answer.request_id)
            else:
                outcome.decided[answer.request_id] = view.stored_status
    for request_id in outcome.checked:
        due_at = due[request_id]
        if request_id not in answered and due_at is not None and now > due_at:
            outcome.overdue.append(request_id)
    requests.mark_checked(outcome.checked, uow=uow, at=t.utcnow())
    return outcome


def follow_up(request_ids: Sequence[int], *, uow: UnitOfWork, by: str, now: dt.datetime | None = None) -> list[int]:
    """Note a follow-up on each overdue request (at most once a day): it shows in the audit trail for staff.

    Returns the ids that got a new follow-up today.
    """
    now = now or t.utcnow()
    noted: list[int] = []
    with uow:
        for request_id in request_ids:
            key = f"follow-up:{request_id}:{now.date().isoformat()}"
            row = uow.requests.get(request_id)
            if row is None or row.status not in AWAITING_PAYER or uow.requests.event_by_key(key) is not None:
                continue
            due = row.due_at.date().isoformat() if row.due_at is not None else "unknown"
            uow.requests.add_child(
                t.StatusEvent(
                    request_id=row.id,
                    from_status=row.status,
                    to_status=row.status,
                    at=now,
                    by=by,
                    reason=f"follow-up: the payer's answer was due {due}; call the payer",
                    idempotency_key=key,
                )
            )
            noted.append(request_id)
        uow.commit()
    return noted
