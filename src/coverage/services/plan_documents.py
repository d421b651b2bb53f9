"""What the self-pay documents need from a stored plan: the letters' options for ``payment-plan``,
``receipt`` and ``superbill``.

The letters renderer (:func:`coverage.letters.render.render_document`) draws the documents
from the case, its determination, the clinic and :class:`~coverage.letters.options.LetterOptions`;
it already derives superbill and receipt service lines (CPT/HCPCS codes with units from the
engine's billing lines plus the price item's codes, the clinic's charge, ICD-10 codes from the
case). This module only turns a stored plan into those options, so there is one derivation of
billing lines, not two.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from coverage.letters.options import LetterOptions, Payment
from coverage.payments.ledger import PlanRecord
from coverage.payments.plans import Schedule

PlanDocument = Literal["payment-plan", "receipt", "superbill"]
PLAN_DOCUMENTS: tuple[PlanDocument, ...] = ("payment-plan", "receipt", "superbill")

TREATMENT_NAMES = {"esketamine": "Esketamine (Spravato) sessions", "iv_ketamine": "IV ketamine infusions"}


def plan_description(plan: PlanRecord) -> str:
    """One line naming what the plan pays for, e.g. ``IV ketamine infusions, self-pay course (plan 7)``."""
    name = TREATMENT_NAMES.get(plan.treatment or "", "Self-pay services")
    if plan.treatment == "esketamine" and plan.dose_mg:
        name = f"{name}, {plan.dose_mg} mg"
    parts = [f"{name}, self-pay course (plan {plan.id})"]
    if plan.discount > 0:
        parts.append(f"course total {plan.course_total} less {plan.discount} for paying in full")
    if plan.replaces_plan_id is not None:
        parts.append(f"restructures the balance of plan {plan.replaces_plan_id}")
    return "; ".join(parts)


def plan_schedule(plan: PlanRecord) -> Schedule:
    """The stored schedule in the plan-arithmetic form the payment-plan template reads."""
    return Schedule(total=plan.total, installments=plan.installments)


def received_payments(plan: PlanRecord, *, through: dt.date | None = None) -> tuple[Payment, ...]:
    """Every payment for the course (including those on plans this one replaced), oldest first."""
    return tuple(
        Payment(paid_on=p.paid_on, amount=p.amount, method=p.method or "unspecified", reference=f"payment {p.id}")
        for p in (*plan.earlier_payments, *plan.payments)
        if through is None or p.paid_on <= through
    )


def letter_options(
    document: PlanDocument,
    plan: PlanRecord,
    *,
    service_dates: Sequence[dt.date] = (),
    through: dt.date | None = None,
) -> LetterOptions:
    """The letters' options for one self-pay document of a stored plan.

    ``service_dates`` are the sessions to itemize on a receipt or superbill (without them a
    superbill itemizes the request's start date); ``through`` leaves out later payments.
    """
    description = plan_description(plan)
    if document == "payment-plan":
        return LetterOptions(
            plan=plan_schedule(plan),
            plan_description=description,
            plan_discount_offered=None
            if plan.discount == 0 and plan.replaces_plan_id is None and len(plan.installments) > 1
            else False,
        )
    payments = received_payments(plan, through=through)
    return LetterOptions(
        plan_description=description,
        payments=payments,
        service_dates=tuple(sorted(set(service_dates))),
    )
