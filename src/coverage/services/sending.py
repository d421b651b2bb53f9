"""Sending a request (rule 3): re-evaluate today, make the documents, then a gateway or a person sends it.

:func:`prepare` re-evaluates the stored case as of today (a case that no longer meets the
criteria goes back to draft and nothing is sent), makes the letter, the packet and, for a
payer reached by a person, the fax cover, and stops when a clinician's sign-off is pending
(rule 4). :func:`send` then hands the packet to an electronic gateway and records the
submission under an idempotency key, or opens a send task for a person: nothing is marked
sent that was not sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coverage.clinic import Clinic
from coverage.errors import StaleVersion
from coverage.payers.gateways import Enclosure, PayerGateway, SubmissionPacket, sessions_requested
from coverage.policies.service import Checker
from coverage.requests.lifecycle import SENDABLE
from coverage.services import requests as services
from coverage.services.context import Context, actor
from coverage.services.documents import RequestDocuments
from coverage.store.documents import DocumentStore
from coverage.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: A claim older than this is taken over: its run died between claiming and recording. A gateway call
#: takes seconds; the same run (a retry, a rescheduled crashed run) takes its own claim back at once.
CLAIM_STALE = dt.timedelta(minutes=10)

#: The gateway of a channel; ``None`` when a person sends (fax, portal, phone).
GatewayFor = Callable[[str], PayerGateway | None]


def submission_key(request_id: int, sending: int) -> str:
    """The idempotency key of a request's ``sending``-th sending through a gateway."""
    return f"submit:{request_id}:{sending}"


@dataclass(frozen=True, slots=True)
class Prepared:
    """Where a sending stands after preparation: ids, codes and counts only (it crosses into Prefect)."""

    request_id: int
    state: str  # ready, signoff_pending, draft, not_sendable, send_task, submitted
    status: str
    channel: str
    documents: tuple[str, ...] = ()
    pages: int = 0
    reason: str | None = None
    #: The request's version when it was prepared: the sending claim checks nobody changed it since.
    version: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "state": self.state,
            "status": self.status,
            "channel": self.channel,
            "documents": list(self.documents),
            "pages": self.pages,
            "reason": self.reason,
        }


def _destination(channel: str, payer: object | None) -> str | None:
    if payer is None:
        return None
    field = {"fax": "fax", "portal": "portal_url", "phone": "phone"}.get(channel)
    return getattr(payer, field) if field else None


def prepare(
    request_id: int,
    *,
    uow: UnitOfWork,
    checker: Checker,
    clinic: Clinic,
    store: DocumentStore,
    ctx: Context,
    by: str,
    gateway_for: GatewayFor,
    sign_off: bool = False,
    template_dir: Path | None = None,
) -> Prepared:
    """Re-evaluate, make the documents, and either stop (sign-off, draft) or open the person's send task.

    A request sent through an electronic gateway comes back ``ready``: :func:`send` sends it.
    """
    by, when = actor(by), ctx.when()
    with uow:
        _, request = services.load(uow, request_id)
        payer = uow.payers.get(request.payer_id) if request.payer_id is not None else None
        channel = payer.channel if payer is not None else "fax"
        if request.status not in SENDABLE:
            return Prepared(request_id, "not_sendable", request.status, channel)
        if sign_off:
            request.signoff_required = True
        case = services.case_of(request, checker)
        determination = services.evaluate(case, checker, when.today)
        version = request.current_version
        evaluation = services.evaluation_of(version, determination, when)
        if not request.evaluate(evaluation, services.outcome(determination), when, by):
            uow.commit()
            return Prepared(request_id, "draft", request.status, channel, reason=request.events[-1].reason)
        person = gateway_for(channel) is None
        documents = RequestDocuments(
            request, checker=checker, clinic=clinic, store=store, when=when, payer=payer, template_dir=template_dir
        )
        enclosed = documents.enclosures()
        destination = _destination(channel, payer)
        if person:
            enclosed.append(documents.cover(enclosed, destination if channel == "fax" else None).document)
        numbers = tuple(d.control_number for d in enclosed)
        pages = sum(documents.pages(d) for d in enclosed)
        if request.needs_signoff(ctx.signoff_required):
            request.ask_signoff(when, by)
            uow.commit()
            return Prepared(request_id, "signoff_pending", request.status, channel, numbers, pages)
        if person:
            request.open_send_task(
                channel=channel,
                destination=destination,
                documents=list(numbers),
                pages=pages,
                signoff_required=ctx.signoff_required,
                when=when,
                by=by,
            )
            uow.commit()
            return Prepared(request_id, "send_task", request.status, channel, numbers, pages)
        uow.commit()
    return Prepared(request_id, "ready", request.status, channel, numbers, pages, version=request.version)


def send(
    request_id: int,
    *,
    uow: UnitOfWork,
    checker: Checker,
    clinic: Clinic,
    store: DocumentStore,
    ctx: Context,
    by: str,
    gateway_for: GatewayFor,
    sign_off: bool = False,
    template_dir: Path | None = None,
) -> Prepared:
    """Prepare, then send through an electronic gateway; a person's channel gets a send task instead."""
    prepared = prepare(
        request_id,
        uow=uow,
        checker=checker,
        clinic=clinic,
        store=store,
        ctx=ctx,
        by=by,
        gateway_for=gateway_for,
        sign_off=sign_off,
        template_dir=template_dir,
    )
    if prepared.state != "ready":
        return prepared
    return submit_electronically(prepared, uow=uow, ctx=ctx, by=by, gateway_for=gateway_for)


def _packet(request_id: int, uow: UnitOfWork, documents: tuple[str, ...]) -> SubmissionPacket:
    """What goes to the payer: the prepared documents of this sending (by control number), no PHI."""
    with uow:
        _, request = services.load(uow, request_id)
        evaluation = request.evaluation
        result = evaluation.result if evaluation is not None else {}
        days = result.get("authorization_days")
        sending = request.sending
        _, per_session = services.units_per_session(request)
        enclosures = tuple(
            Enclosure(kind=d.kind, control_number=d.control_number, sha256=d.sha256, pages=d.pages or 1)
            for d in request.live_documents
            if d.control_number in documents
        )
        return SubmissionPacket(
            request_id=request_id,
            idempotency_key=submission_key(request_id, sending),
            attempt=sending,
            policy_id=result.get("policy_id"),
            treatment=request.treatment,
            indication=request.indication,
            kind=request.kind,
            outcome=str(result.get("outcome", "unknown")),
            authorization_days=days,
            units_requested=sessions_requested(request.treatment, days) * per_session,
            expedited=request.expedited,
            enclosures=enclosures,
            appeal=request.status == "appeal_drafted",
        )


def submit_electronically(
    prepared: Prepared,
    *,
    uow: UnitOfWork,
    ctx: Context,
    by: str,
    gateway_for: GatewayFor,
    now: dt.datetime | None = None,
    claimant: str | None = None,
) -> Prepared:
    """Hand the prepared packet to the gateway and record the submission under its key (never twice).

    The gateway is called only under a sending claim (:func:`claim`), so two overlapping runs for
    one request never both send. A crash after the gateway accepted and before we recorded leaves
    the sending number unchanged, so a retry (the same run: ``claimant``) sends the same key (the
    gateway answers a known key with the receipt it gave) and the records' unique key stores it once.
    """
    gateway = gateway_for(prepared.channel)
    assert gateway is not None
    claimant = claimant or f"process:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    packet = _packet(prepared.request_id, uow, prepared.documents)
    at = now or ctx.when().now
    if not claim(
        prepared.request_id, uow=uow, version=prepared.version, sending=packet.attempt, claimant=claimant, at=at
    ):
        return _not_claimed(prepared, uow)
    try:
        receipt = gateway.submit([packet], now=at)[0]
        result = services.submit(
            prepared.request_id,
            uow=uow,
            ctx=ctx,
            channel=receipt.channel,
            by=by,
            reference=receipt.payer_reference,
            idempotency_key=receipt.idempotency_key,
            at=now,
        )
    finally:
        release(prepared.request_id, uow=uow, claimant=claimant)
    log.info("request %s: submitted electronically (sending %s)", prepared.request_id, packet.attempt)
    return Prepared(
        prepared.request_id, "submitted", result.status, receipt.channel, prepared.documents, prepared.pages
    )


def claim(
    request_id: int, *, uow: UnitOfWork, version: int | None, sending: int, claimant: str, at: dt.datetime
) -> bool:
    """Take the request's sending claim in a transaction of its own: ``False`` when another run holds a
    live claim, or the request moved since ``version`` (sent meanwhile, amended) or is no longer sendable."""
    try:
        with uow:
            taken = uow.claims.take(
                request_id, version=version, sending=sending, claimant=claimant, now=at, stale_before=at - CLAIM_STALE
            )
            if taken:
                uow.commit()
            return taken
    except StaleVersion:  # a concurrent claim won the race for the same row
        return False


def release(request_id: int, *, uow: UnitOfWork, claimant: str) -> None:
    """Drop our sending claim (after the submission is recorded, or the gateway call failed)."""
    with uow:
        uow.claims.release(request_id, claimant)
        uow.commit()


def _not_claimed(prepared: Prepared, uow: UnitOfWork) -> Prepared:
    with uow:
        _, request = services.load(uow, prepared.request_id)
        status = request.status
    if status in SENDABLE:
        log.info("request %s: another run is sending it; nothing sent here", prepared.request_id)
        return Prepared(prepared.request_id, "busy", status, prepared.channel, reason="another run is sending it")
    log.info("request %s: moved since it was prepared; nothing sent here", prepared.request_id)
    return Prepared(prepared.request_id, "not_sendable", status, prepared.channel, reason="moved since prepared")
