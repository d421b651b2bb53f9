"""Queries over the self-pay tables inside a unit of work's session; never commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from coverage.payments.tables import PaymentPlan, PlanInstallment


class PlanRepository:
    """Payment plans with their installments and payments (loaded together)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, plan_id: int, *, for_update: bool = False) -> PaymentPlan | None:
        """A plan; ``for_update`` locks its row on PostgreSQL so two payments cannot both pass the balance check."""
        query = select(PaymentPlan).where(PaymentPlan.id == plan_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def add(self, plan: PaymentPlan) -> PaymentPlan:
        self.session.add(plan)
        return plan

    def for_request(self, request_id: int) -> Sequence[PaymentPlan]:
        """Every plan of a request, oldest first."""
        query = select(PaymentPlan).where(PaymentPlan.request_id == request_id).order_by(PaymentPlan.id)
        return self.session.scalars(query).all()

    def active_for_request(self, request_id: int) -> PaymentPlan | None:
        query = select(PaymentPlan).where(PaymentPlan.request_id == request_id, PaymentPlan.status == "active")
        return self.session.scalars(query.order_by(PaymentPlan.id.desc()).limit(1)).first()

    def active_with_installments_due_before(self, as_of: dt.date) -> Sequence[PaymentPlan]:
        """Active plans with at least one installment due before ``as_of`` (candidates for overdue)."""
        due = exists().where(PlanInstallment.plan_id == PaymentPlan.id, PlanInstallment.due_date < as_of)
        query = select(PaymentPlan).where(PaymentPlan.status == "active", due).order_by(PaymentPlan.id)
        return self.session.scalars(query).all()

    def chain(self, plan: PaymentPlan) -> list[PaymentPlan]:
        """The plans ``plan`` replaced, most recent first (restructuring history)."""
        earlier = []
        current = plan
        while current.replaces_plan_id is not None:
            previous = self.session.get(PaymentPlan, current.replaces_plan_id)
            assert previous is not None  # a foreign key
            earlier.append(previous)
            current = previous
        return earlier
