"""A stored plan as plain records: its schedule, its payments, what is paid, owed and overdue.

The services build these from the tables; the CLI, the documents and the worklist read them.
Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from coverage.payments.plans import Installment, InstallmentStatus, settle

#: ``active`` takes payments; ``completed`` is paid off (it becomes active again if a payment on it
#: is voided or refunded); ``cancelled`` and ``restructured`` keep their history but take no more
#: payments (a restructured plan is replaced by the plan whose ``replaces_plan_id`` names it).
PlanStatus = Literal["active", "cancelled", "restructured", "completed"]
PLAN_STATUSES: tuple[PlanStatus, ...] = ("active", "cancelled", "restructured", "completed")


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """One payment received against a plan."""

    id: int
    amount: Decimal
    paid_on: dt.date
    method: str | None
    recorded_at: dt.datetime
    recorded_by: str

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "amount": str(self.amount),
            "paid_on": self.paid_on.isoformat(),
            "method": self.method,
            "recorded_at": self.recorded_at.isoformat(),
            "recorded_by": self.recorded_by,
        }


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """A stored payment plan with its installments and payments."""

    id: int
    request_id: int
    status: PlanStatus
    treatment: str | None
    dose_mg: int | None
    course_total: Decimal
    discount: Decimal
    total: Decimal
    start_date: dt.date
    installments: tuple[Installment, ...]
    payments: tuple[PaymentRecord, ...]
    replaces_plan_id: int | None
    created_at: dt.datetime
    created_by: str
    closed_at: dt.datetime | None = None
    closed_by: str | None = None
    close_reason: str | None = None
    #: Payments received on the plans this one replaced (restructuring), oldest first: history only.
    earlier_payments: tuple[PaymentRecord, ...] = ()
    #: What was refunded of this plan's payments.
    refunded: Decimal = Decimal("0.00")
    #: The account's balance: a plan never asks for more (``None``: not known, the plan alone counts).
    account_balance: Decimal | None = None
    account_id: int | None = None
    #: The clinic's days the plan was made and closed (cancelled, restructured, completed).
    created_on: dt.date | None = None
    closed_on: dt.date | None = None

    @property
    def paid(self) -> Decimal:
        """Everything received on this plan, less what was refunded of it."""
        return sum((p.amount for p in self.payments), Decimal("0.00")) - self.refunded

    @property
    def balance(self) -> Decimal:
        """What this plan still asks for: its total less what was paid on it, never more than the account owes."""
        owed = self.total - self.paid
        if self.account_balance is not None:
            owed = min(owed, self.account_balance)
        return max(owed, Decimal("0.00"))

    def statuses(self) -> tuple[InstallmentStatus, ...]:
        """Each installment with what was paid on it (oldest first) and what is no longer asked of it.

        Only payments on this plan (less refunds) settle installments, oldest first; what the plan
        no longer asks otherwise (an adjustment, a payment on the account, a voided charge, a
        credit) comes off its last installments, so no installment shows as paid by money not
        received and the installments still ask exactly :attr:`balance`.
        """
        paid = min(max(self.paid, Decimal("0.00")), self.total)
        return settle(self.installments, paid, max(self.total - paid - self.balance, Decimal("0.00")))

    def overdue(self, as_of: dt.date) -> tuple[InstallmentStatus, ...]:
        """Installments of an active plan due before ``as_of`` and not fully paid."""
        if self.status != "active":
            return ()  # a completed, cancelled or restructured plan asks for nothing
        return tuple(s for s in self.statuses() if s.is_overdue(as_of))

    def to_dict(self, as_of: dt.date | None = None) -> dict[str, object]:
        """The JSON form: money as decimal strings; ``overdue`` flags need ``as_of``."""
        return {
            "plan_id": self.id,
            "request_id": self.request_id,
            "account_id": self.account_id,
            "status": self.status,
            "treatment": self.treatment,
            "dose_mg": self.dose_mg,
            "course_total": str(self.course_total),
            "discount": str(self.discount),
            "total": str(self.total),
            "paid": str(self.paid),
            "refunded": str(self.refunded),
            "balance": str(self.balance),
            "replaces_plan_id": self.replaces_plan_id,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_on": self.closed_on.isoformat() if self.closed_on else None,
            "closed_by": self.closed_by,
            "close_reason": self.close_reason,
            "as_of": as_of.isoformat() if as_of else None,
            "installments": [
                {
                    "number": s.number,
                    "due_date": s.due_date.isoformat(),
                    "amount": str(s.amount),
                    "paid": str(s.paid),
                    "reduced": str(s.reduced),
                    "remaining": str(s.remaining),
                    "overdue": s.is_overdue(as_of) and self.status == "active" if as_of else None,
                }
                for s in self.statuses()
            ],
            "payments": [p.to_dict() for p in self.payments],
            "earlier_payments": [p.to_dict() for p in self.earlier_payments],
        }


@dataclass(frozen=True, slots=True)
class OverdueInstallment:
    """One overdue installment, for the worklist: identifiers and money only, no PHI."""

    plan_id: int
    request_id: int
    case_id: str
    number: int
    due_date: dt.date
    remaining: Decimal
    days_overdue: int

    def to_dict(self) -> dict[str, object]:
        return {
            "plan_id": self.plan_id,
            "request_id": self.request_id,
            "case_id": self.case_id,
            "number": self.number,
            "due_date": self.due_date.isoformat(),
            "remaining": str(self.remaining),
            "days_overdue": self.days_overdue,
        }
