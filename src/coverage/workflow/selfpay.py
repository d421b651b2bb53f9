"""A patient takes the self-pay offer: the plan, its agreement, and a first payment with its receipt.

Staff do this with ``priorauth plan`` and ``priorauth payments``; the demo does it here so every
fallback ends with real documents, made by the same documents service.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from coverage.services import payments
from coverage.services import requests as services
from coverage.services.documents import RequestDocuments
from coverage.services.plan_documents import PlanDocument
from coverage.workflow.runtime import Runtime


@dataclass(frozen=True, slots=True)
class PlanDocuments:
    """A stored plan and the control numbers of its documents."""

    request_id: int
    plan_id: int
    total: Decimal
    balance: Decimal
    documents: tuple[str, ...]


def plan_paper(request_id: int, plan_id: int, kind: PlanDocument, *, rt: Runtime) -> str:
    """A plan's agreement, receipt or superbill, made once and kept with the request."""
    plan = payments.get_plan(plan_id, uow=rt.uow())
    with rt.uow() as uow:
        _, request = services.load(uow, request_id)
        documents = RequestDocuments(request, checker=rt.checker, clinic=rt.clinic, store=rt.store, when=rt.ctx.when())
        made = documents.plan_paper(kind, plan)
        uow.commit()
    return made.document.control_number


def accept_offer(
    request_id: int,
    *,
    rt: Runtime,
    by: str,
    start: dt.date,
    installments: int | None = None,
    first_payment: bool = False,
) -> PlanDocuments:
    """Store the plan (``installments`` monthly, or the first offered count; reuse an active plan), make
    its agreement, and with ``first_payment`` record the first installment and make the receipt."""
    active = [p for p in payments.plans_for_request(request_id, uow=rt.uow()) if p.status == "active"]
    if active:
        plan = active[-1]
    else:
        if installments is None:
            offer = payments.request_offer(
                request_id, uow=rt.uow(), prices=rt.clinic.prices, start=start, timezone=rt.ctx.timezone
            )
            counts = [o.count for o in offer.offer.options]
            installments = counts[0] if counts else None
        plan = payments.create_plan(
            request_id,
            uow=rt.uow(),
            prices=rt.clinic.prices,
            start=start,
            by=by,
            ctx=rt.ctx,
            installments=installments,
            pay_in_full=installments is None,
        )
    documents = [plan_paper(request_id, plan.id, "payment-plan", rt=rt)]
    if first_payment and not plan.payments:
        plan = payments.record_payment(
            plan.id, uow=rt.uow(), amount=plan.installments[0].amount, paid_on=start, by=by, method="card", ctx=rt.ctx
        )
    if plan.payments:
        documents.append(plan_paper(request_id, plan.id, "receipt", rt=rt))
    return PlanDocuments(request_id, plan.id, plan.total, plan.balance, tuple(documents))
