"""Asking the payers about requests in batches, applying their answers once, and the patients' notices.

An answer is applied under the payer's answer id (``answer:<id>``, unique in our records, and
kept after an undo), so asking again and getting the same answer writes nothing, and an answer
a clerk undid is never applied again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from coverage.errors import StaleVersion, StorageError
from coverage.payers.gateways import PayerAnswer, PayerGateway, StatusInquiry, sessions_requested
from coverage.requests import model as m
from coverage.requests.lifecycle import APPROVING, WITH_PAYER
from coverage.services import requests as services
from coverage.services.context import Context
from coverage.services.documents import RequestDocuments
from coverage.services.sending import GatewayFor, submission_key
from coverage.store.bulk import gc_paused
from coverage.workflow.runtime import Runtime

log = logging.getLogger(__name__)


def answer_key(answer_id: str) -> str:
    """The idempotency key under which a payer's answer is applied."""
    return f"answer:{answer_id}"


@dataclass(slots=True)
class CheckOutcome:
    """What one status check found, by request id (ids only: it crosses into the orchestration)."""

    checked: list[int] = field(default_factory=list)
    decided: dict[int, str] = field(default_factory=dict)
    pended: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    #: The requests found due for the check (:func:`check_due`); none left when empty.
    due: list[int] = field(default_factory=list)

    @property
    def approved(self) -> list[int]:
        return [i for i, s in self.decided.items() if s in APPROVING]

    @property
    def denied(self) -> list[int]:
        return [i for i, s in self.decided.items() if s in ("denied", "appeal_denied")]


def to_answer(answer: PayerAnswer, ctx: Context) -> services.AnswerInput:
    """The records' answer for a gateway's answer, dated the payer's day at the clinic."""
    decided_on = ctx.when(answer.decided_at).today
    reason = answer.reason or answer.reason_code
    return services.AnswerInput(
        decision=answer.decision,
        decided_on=decided_on,
        reference=answer.payer_reference,
        reason=reason if answer.decision == "denied" else None,
        info_requested=(answer.info_requested or "information requested") if answer.decision == "pended" else None,
        auth_number=answer.auth_number,
        valid_from=answer.valid_from,
        valid_to=answer.valid_to,
        units=answer.units,
        idempotency_key=answer_key(answer.answer_id),
    )


def _inquiry(request: m.Request) -> StatusInquiry | None:
    submissions = request.live_submissions
    if not submissions:
        return None
    latest = submissions[-1]
    evaluation = request.evaluation
    result = evaluation.result if evaluation is not None else {}
    days = result.get("authorization_days")
    assert request.id is not None
    _, per_session = services.units_per_session(request)
    return StatusInquiry(
        request_id=request.id,
        payer_reference=latest.reference or submission_key(request.id, len(submissions)),
        attempt=len(submissions),
        submitted_at=latest.submitted_at,
        outcome=str(result.get("outcome", "unknown")),
        authorization_days=days,
        units_requested=sessions_requested(request.treatment, days) * per_session,
        expedited=request.expedited,
        appeal=request.status == "appeal_submitted",
    )


def check_requests(
    request_ids: Sequence[int],
    *,
    rt: Runtime,
    by: str,
    now: dt.datetime | None = None,
    gateway_for: GatewayFor | None = None,
) -> CheckOutcome:
    """Ask the payers about these requests in one batch per gateway, apply every answer, note the check.

    A request that moved meanwhile (a clerk recorded the answer) is skipped, not failed; one
    still unanswered past its due date is listed as overdue.
    """
    now = now or rt.ctx.when().now
    batch = _Batch(gateway_for or rt.gateway, rt.ctx.when().now)
    with gc_paused():  # thousands of ORM objects at once: see coverage.store.bulk
        try:
            batch.apply(request_ids, rt=rt, by=by, now=now)
        except (StaleVersion, StorageError):
            if not batch.looked_at:
                raise
            # A clerk changed one of these requests meanwhile: each answer on its own, then the check noted.
            batch.applied = services.record_answers_one_by_one(batch.pairs, uow=rt.uow(), ctx=rt.ctx, by=by, at=now)
            services.mark_checked(batch.looked_at, uow=rt.uow(), at=batch.checked_at)
    outcome = batch.outcome
    answered: set[int] = set()
    for result in batch.applied or []:
        if result.error is not None:
            log.warning("request %s: an answer was not applied (%s)", result.request_id, result.error)
            outcome.skipped.append(result.request_id)
            continue
        answered.add(result.request_id)
        if not result.recorded or result.status is None:
            continue
        if result.status == "pended":
            outcome.pended.append(result.request_id)
        else:
            outcome.decided[result.request_id] = result.status
    for request_id in batch.looked_at:
        due_at = batch.due[request_id]
        if request_id not in answered and due_at is not None and now > due_at:
            outcome.overdue.append(request_id)
    return outcome


@dataclass(slots=True)
class _Batch:
    """One batch of :func:`check_requests`: what it looked at, asked and applied (ids and answers only).

    The courses are loaded, changed and let go inside :meth:`apply`: none of their objects outlives
    it, so the collector frees them at once when it runs again after the batch.
    """

    gateway_for: GatewayFor
    checked_at: dt.datetime
    outcome: CheckOutcome = field(default_factory=CheckOutcome)
    due: dict[int, dt.datetime | None] = field(default_factory=dict)
    looked_at: list[int] = field(default_factory=list)
    pairs: list[tuple[int, services.AnswerInput]] = field(default_factory=list)
    applied: list[services.BatchAnswer] | None = None

    def apply(self, request_ids: Sequence[int], *, rt: Runtime, by: str, now: dt.datetime) -> None:
        """One unit of work for the batch: load, ask, apply every answer, note the check, one commit."""
        with rt.uow() as uow:
            # Whole courses, with the evaluations' results and the events, in a few queries for the batch.
            courses = uow.courses.by_requests(request_ids)
            batches: dict[int, tuple[PayerGateway, list[StatusInquiry]]] = {}
            for request in (courses[i].request(i) for i in request_ids if i in courses):
                if request.status not in (*WITH_PAYER, "pended") or request.id is None:
                    continue
                self.looked_at.append(request.id)
                self.due[request.id] = request.due_at
                channel = request.live_submissions[-1].channel if request.live_submissions else "fax"
                gateway = self.gateway_for(channel)
                inquiry = _inquiry(request)
                if gateway is None or inquiry is None:
                    continue  # a person asks the payer: the answer is recorded by hand
                batches.setdefault(id(gateway), (gateway, []))[1].append(inquiry)
                self.outcome.checked.append(request.id)
            for gateway, inquiries in batches.values():
                self.pairs.extend((a.request_id, to_answer(a, rt.ctx)) for a in gateway.inquire(inquiries, now=now))
            self.applied = services.apply_answers(self.pairs, uow=uow, ctx=rt.ctx, by=by, at=now, courses=courses)
            uow.courses.mark_checked(self.looked_at, self.checked_at)
            uow.commit()


def check_due(started: dt.datetime, *, rt: Runtime, by: str, limit: int, min_interval: dt.timedelta) -> CheckOutcome:
    """The next ``limit`` requests due for a check (:func:`services.due_for_check`), asked about as one batch.

    One call for the flow's task: finding the batch and asking about it cost one task, not two.
    """
    ids = services.due_for_check(started, uow=rt.uow(), limit=limit, min_interval=min_interval)
    if not ids:
        return CheckOutcome()
    outcome = check_requests(ids, rt=rt, by=by)
    outcome.due = list(ids)
    return outcome


def decision_notices(request_ids: Sequence[int], *, rt: Runtime) -> list[str]:
    """The patient's notice of each request's latest answer (once per answer): the control numbers made."""
    made: list[str] = []
    when = rt.ctx.when()
    for request_id in request_ids:
        with rt.uow() as uow:
            _, request = services.load(uow, request_id)
            answer = request.latest_answer
            if answer is None:
                continue
            payer = uow.payers.get(request.payer_id) if request.payer_id is not None else None
            documents = RequestDocuments(
                request, checker=rt.checker, clinic=rt.clinic, store=rt.store, when=when, payer=payer
            )
            notice = documents.notice(answer)
            if notice is None:
                continue
            uow.commit()
            made.append(notice.document.control_number)
    return made
