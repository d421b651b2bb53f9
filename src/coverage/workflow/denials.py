"""After a denial (or a case that is not covered): draft the appeal, or fall back to self-pay.

:func:`coverage.workflow.fallback.decide_fallback` decides; this service acts on a batch of
stored requests. An appeal gets its letter and moves to ``appeal_drafted`` (the prior
authorization flow sends it after sign-off). A fallback asks the payments service for the
self-pay offer (pay in full, installment options), names the alternative treatment when it
meets the criteria, and moves the request to ``payment_plan``. Each move is keyed by the
request and the number of submissions it has, so a re-run acts once per denial.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coverage.clinic import Clinic
from coverage.payments import service as payments
from coverage.policies.service import Checker
from coverage.requests import service as requests
from coverage.store.uow import UnitOfWork
from coverage.workflow.fallback import decide_fallback
from coverage.workflow.prepare import draft_appeal_letter, load_case

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


def handle_denials(
    request_ids: Sequence[int],
    *,
    uow: UnitOfWork,
    checker: Checker,
    clinic: Clinic,
    documents_dir: Path,
    by: str,
    today: dt.date | None = None,
) -> list[FallbackResult]:
    """Appeal or fall back, for each denied, finally denied, or not coverable draft request."""
    today = today or dt.datetime.now(dt.UTC).date()
    results: list[FallbackResult] = []
    for request_id in request_ids:
        detail = requests.get_request(request_id, uow=uow)
        view = detail.request
        status = view.stored_status
        determination = detail.determination or checker.determine(load_case(request_id, uow=uow, checker=checker))
        if status == "draft" and determination.outcome in NOT_COVERABLE:
            decision = decide_fallback(determination, reason_code=None, reason=None, final=True)
            decision_reason = f"{determination.outcome}: " + decision.reason.removeprefix("final denial; ")
        elif status in ("denied", "appeal_denied"):
            decision = decide_fallback(
                determination,
                reason_code=reason_code(view.denial_reason),
                reason=view.denial_reason,
                final=status == "appeal_denied",
            )
            decision_reason = decision.reason
        else:
            results.append(FallbackResult(request_id, "skipped", status, f"nothing to fall back from ({status})"))
            continue
        key = f"fallback:{request_id}:{len(detail.submissions)}"
        if decision.action == "appeal":
            letter = draft_appeal_letter(
                request_id, uow=uow, checker=checker, clinic=clinic, documents_dir=documents_dir
            )
            moved = requests.transition(
                request_id,
                "appeal_drafted",
                uow=uow,
                by=by,
                reason=f"appeal drafted ({letter.control_number}): {decision_reason}",
                idempotency_key=key,
            )
            results.append(
                FallbackResult(
                    request_id, "appeal", moved.stored_status, decision_reason, appeal_letter=letter.control_number
                )
            )
            continue
        offer = payments.request_offer(request_id, uow=uow, prices=clinic.prices, start=today)
        counts = tuple(o.count for o in offer.offer.options)
        terms = f"pay in full {offer.offer.pay_in_full}" + (
            f" or {'/'.join(str(c) for c in counts)} monthly installments" if counts else ""
        )
        alternative = f"; suggest {decision.alternative_treatment}" if decision.alternative_treatment else ""
        moved = requests.transition(
            request_id,
            "payment_plan",
            uow=uow,
            by=by,
            reason=f"self-pay offered ({terms}){alternative}: {decision_reason}",
            idempotency_key=key,
        )
        results.append(
            FallbackResult(
                request_id,
                "fall_back",
                moved.stored_status,
                decision_reason,
                alternative_treatment=decision.alternative_treatment,
                pay_in_full=str(offer.offer.pay_in_full),
                installment_options=counts,
            )
        )
        log.info("request %s: fell back to self-pay", request_id)
    return results
