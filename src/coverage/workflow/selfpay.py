"""A patient takes the self-pay offer: the plan, its agreement PDF, and payments with their receipt.

Staff do this with ``priorauth payments``; the demo does it here so every fallback ends with
real documents. The PDFs go where the workflow's other documents go, attached by control
number (a document already attached is not made again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from coverage.clinic import Clinic
from coverage.payments import service as payments
from coverage.payments.documents import PlanDocument
from coverage.requests import service as requests
from coverage.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class PlanDocuments:
    """A stored plan and the control numbers of its documents."""

    request_id: int
    plan_id: int
    total: Decimal
    balance: Decimal
    documents: tuple[str, ...]


def _attach(
    plan_id: int, document: PlanDocument, *, uow: UnitOfWork, clinic: Clinic, documents_dir: Path, case_id: str
) -> str:
    rendered = payments.render_plan_document(plan_id, document, uow=uow, clinic=clinic, attach=False)
    plan = payments.get_plan(plan_id, uow=uow)
    known = {d.control_number for d in requests.get_request(plan.request_id, uow=uow).documents}
    if rendered.control_number not in known:
        folder = documents_dir / case_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{rendered.control_number}.pdf"
        path.write_bytes(rendered.pdf)
        requests.attach_document(
            plan.request_id,
            uow=uow,
            kind=document,
            content=rendered.pdf,
            sha256=rendered.sha256,
            control_number=rendered.control_number,
            path=str(path),
        )
    return rendered.control_number


def accept_offer(
    request_id: int,
    *,
    uow: UnitOfWork,
    clinic: Clinic,
    documents_dir: Path,
    by: str,
    start: dt.date,
    installments: int | None = None,
    first_payment: bool = False,
) -> PlanDocuments:
    """Store the plan (``installments`` monthly, or the first offered count; reuse an active plan), render
    its agreement, and with ``first_payment`` record the first installment and render the receipt."""
    case_id = requests.get_request(request_id, uow=uow).request.case_id
    active = [p for p in payments.plans_for_request(request_id, uow=uow) if p.status == "active"]
    if active:
        plan = active[-1]
    else:
        if installments is None:
            offer = payments.request_offer(request_id, uow=uow, prices=clinic.prices, start=start)
            counts = [o.count for o in offer.offer.options]
            installments = counts[0] if counts else None
        plan = payments.create_plan(
            request_id,
            uow=uow,
            prices=clinic.prices,
            start=start,
            by=by,
            installments=installments,
            pay_in_full=installments is None,
        )
    documents = [_attach(plan.id, "payment-plan", uow=uow, clinic=clinic, documents_dir=documents_dir, case_id=case_id)]
    if first_payment and not plan.payments:
        plan = payments.record_payment(
            plan.id, uow=uow, amount=plan.installments[0].amount, paid_on=start, by=by, method="card"
        )
    if plan.payments:
        documents.append(
            _attach(plan.id, "receipt", uow=uow, clinic=clinic, documents_dir=documents_dir, case_id=case_id)
        )
    return PlanDocuments(request_id, plan.id, plan.total, plan.balance, tuple(documents))
