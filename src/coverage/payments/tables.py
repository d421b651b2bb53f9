"""The self-pay tables: payment plans, their installments, and the payments received.

On the records' :class:`~coverage.store.tables.Base`, created by migration ``0002_payments``.
A plan belongs to a prior-authorization request. Plans are never deleted: a cancelled or
restructured plan keeps its installments and payments, and a restructured plan is named by
its replacement's ``replaces_plan_id``. Which installment a payment settled is not stored: it
follows from the sum paid (oldest unpaid first, :func:`coverage.payments.plans.settle`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coverage.store.tables import MONEY, Base, utcnow


class PaymentPlan(Base):
    """A self-pay plan for a request: the total owed and how it is split."""

    __tablename__ = "payment_plans"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'cancelled', 'restructured')", name="status"),
        CheckConstraint("total > 0 AND discount >= 0 AND course_total >= total", name="amounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("pa_requests.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    treatment: Mapped[str | None] = mapped_column(String(32))
    dose_mg: Mapped[int | None] = mapped_column(Integer)
    #: The price-list course total (or the total given by hand) before any discount.
    course_total: Mapped[Decimal] = mapped_column(MONEY)
    discount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    #: What this plan collects: the installments sum to it.
    total: Mapped[Decimal] = mapped_column(MONEY)
    start_date: Mapped[dt.date] = mapped_column(Date)
    replaces_plan_id: Mapped[int | None] = mapped_column(ForeignKey("payment_plans.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    closed_by: Mapped[str | None] = mapped_column(String(120))
    close_reason: Mapped[str | None] = mapped_column(Text)

    installments: Mapped[list[PlanInstallment]] = relationship(order_by="PlanInstallment.number", lazy="selectin")
    payments: Mapped[list[Payment]] = relationship(order_by=lambda: [Payment.paid_on, Payment.id], lazy="selectin")


class PlanInstallment(Base):
    """One monthly installment of a plan."""

    __tablename__ = "payment_plan_installments"
    __table_args__ = (
        UniqueConstraint("plan_id", "number", name="uq_payment_plan_installments_plan_id_number"),
        CheckConstraint("number >= 1 AND amount >= 0", name="valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id"))
    number: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[dt.date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)


class Payment(Base):
    """Money received against a plan."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    #: How the patient paid (card, cash, check, hsa, fsa), for the HSA/FSA receipt.
    method: Mapped[str | None] = mapped_column(String(20))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(120))
