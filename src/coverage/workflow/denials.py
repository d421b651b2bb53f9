"""After a denial (or a case that is not covered): draft the appeal, or fall back to self-pay.

:func:`coverage.workflow.fallback.decide_fallback` decides; this service acts on a batch of
stored requests. An appeal gets its letter and moves to ``appeal_drafted`` (the prior
authorization flow sends it). A fallback asks the payments service for the self-pay offer (pay
in full, installment options), names the other treatment when it meets the criteria, and moves
the request to ``payment_plan``. Each move is keyed by the request and its sendings, so a re-run
acts once per denial.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from coverage.determinations import Determination
from coverage.errors import IllegalTransition
from coverage.services import payments
from coverage.services import requests as services
from coverage.services.documents import RequestDocuments
from coverage.workflow.fallback import decide_fallback
from coverage.workflow.runtime import Runtime

log = logging.getLogger(__name__)

#: Outcomes of a fresh case that no appeal can change: fall back at once.
NOT_COVERABLE = frozenset({"not_covered", "does_not_meet_criteria"})
_CODE = re.compile(r"^\s*([A-Z]\d{2})\s*:")


@dataclass(frozen=True, slots=True)
class FallbackResult:
    """What happened to one request: ids, codes and amounts only."""

    request_id: int
    action: str  # appeal, fall_back or skipped
    status: str
    reason: str
    alternative_treatment: str | None = None
    appeal_letter: str | None = None
    pay_in_full: str | None = None
    installment_options: tuple[int, ...] = ()


def reason_code(reason: str | None) -> str | None:
    """The payer's coded reason at the start of a denial reason (``D01: ...``)."""
    match = _CODE.match(reason or "")
    return match.group(1) if match else None


def handle_denials(request_ids: Sequence[int], *, rt: Runtime, by: str) -> list[FallbackResult]:
    """Appeal or fall back, for each denied, finally denied, or not coverable draft request."""
    results: list[FallbackResult] = []
    when = rt.ctx.when()
    for request_id in request_ids:
        with rt.uow() as uow:
            _, request = services.load(uow, request_id)
            status = request.status
            evaluation = request.evaluation
            assert evaluation is not None  # intake always evaluates
            determination = Determination.from_dict(evaluation.result)
            denial = request.last_denial
            denial_reason = denial.reason if denial is not None else None
            sendings = len(request.live_submissions)
        if status == "draft" and determination.outcome in NOT_COVERABLE:
            decision = decide_fallback(determination, reason_code=None, reason=None, final=True)
            why = f"{determination.outcome}: " + decision.reason.removeprefix("final denial; ")
        elif status in ("denied", "appeal_denied"):
            decision = decide_fallback(
                determination,
                reason_code=reason_code(denial_reason),
                reason=denial_reason,
                final=status == "appeal_denied",
            )
            why = decision.reason
        else:
            results.append(FallbackResult(request_id, "skipped", status, f"nothing to fall back from ({status})"))
            continue
        key = f"fallback:{request_id}:{sendings}"
        if decision.action == "appeal":
            letter = _draft_appeal(request_id, rt=rt, by=by, key=key, why=why)
            results.append(FallbackResult(request_id, "appeal", "appeal_drafted", why, appeal_letter=letter))
            continue
        try:
            offer = payments.request_offer(
                request_id, uow=rt.uow(), prices=rt.clinic.prices, start=when.today, timezone=rt.ctx.timezone
            )
        except IllegalTransition:  # the account's credit covers the course: nothing to schedule
            terms = "nothing owed on the account"
        else:
            counts = tuple(o.count for o in offer.offer.options)
            terms = f"pay in full {offer.offer.pay_in_full}" + (
                f" or {'/'.join(str(c) for c in counts)} monthly installments" if counts else ""
            )
        alternative = f"; suggest {decision.alternative_treatment}" if decision.alternative_treatment else ""
        moved = services.transition(
            request_id,
            "payment_plan",
            uow=rt.uow(),
            ctx=rt.ctx,
            by=by,
            reason=f"self-pay offered ({terms}){alternative}: {why}",
            idempotency_key=key,
        )
        results.append(
            FallbackResult(
                request_id,
                "fall_back",
                moved.stored_status,
                why,
                alternative_treatment=decision.alternative_treatment,
                pay_in_full=str(offer.offer.pay_in_full),
                installment_options=counts,
            )
        )
        log.info("request %s: fell back to self-pay", request_id)
    return results


def _draft_appeal(request_id: int, *, rt: Runtime, by: str, key: str, why: str) -> str:
    """Move to appeal_drafted and make the appeal letter answering the denial (once per denial)."""
    services.transition(
        request_id,
        "appeal_drafted",
        uow=rt.uow(),
        ctx=rt.ctx,
        by=by,
        reason=f"appeal drafted: {why}",
        idempotency_key=key,
    )
    with rt.uow() as uow:
        _, request = services.load(uow, request_id)
        payer = uow.payers.get(request.payer_id) if request.payer_id is not None else None
        documents = RequestDocuments(
            request, checker=rt.checker, clinic=rt.clinic, store=rt.store, when=rt.ctx.when(), payer=payer
        )
        letter = documents.appeal().document.control_number
        uow.commit()
    return letter
