"""Migration 0004_accounts carries plans, installments and payments into the ledger, and back."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa

from coverage.services import payments
from coverage.services.context import Context
from coverage.services.requests import intake
from coverage.store.db import downgrade, upgrade
from coverage.store.uow import SqlUnitOfWork
from tests.conftest import case_gathered

if TYPE_CHECKING:
    from coverage.policies.service import Checker
    from coverage.store.db import Database

AT = dt.datetime(2026, 6, 1, 15, 0, tzinfo=dt.UTC)


def _take_in(database: Database, checker: Checker, name: str, patient: str) -> int:
    data = case_gathered(name)
    data["patient"]["id"] = patient
    uow = SqlUnitOfWork(database.sessions)
    return intake(json.dumps(data), uow=uow, checker=checker, ctx=Context(), by="intake").request_id


def _plan(connection: sa.Connection, request_id: int, status: str, total: str, discount: str = "0.00") -> int:
    course_total = str(Decimal(total) + Decimal(discount))
    plan_id = connection.execute(
        sa.text(
            "INSERT INTO payment_plans (request_id, status, course_total, discount, total, start_date, created_at,"
            " created_by) VALUES (:r, :s, :c, :d, :t, :start, :at, 'old') RETURNING id"
        ),
        {"r": request_id, "s": status, "c": course_total, "d": discount, "t": total, "start": AT.date(), "at": AT},
    ).scalar_one()
    connection.execute(
        sa.text(
            "INSERT INTO payment_plan_installments (plan_id, number, due_date, amount) VALUES (:p, 1, :due, :amount)"
        ),
        {"p": plan_id, "due": AT.date(), "amount": total},
    )
    return int(plan_id)


def _pay(connection: sa.Connection, plan_id: int, amount: str, method: str | None) -> None:
    connection.execute(
        sa.text(
            "INSERT INTO payments (plan_id, amount, paid_on, method, recorded_at, recorded_by)"
            " VALUES (:p, :a, :on, :m, :at, 'desk')"
        ),
        {"p": plan_id, "a": amount, "on": AT.date(), "m": method, "at": AT},
    )


def test_old_plans_and_payments_become_the_ledger_and_come_back(database: Database, checker: Checker) -> None:
    iv = _take_in(database, checker, "EX-02-iv-not-covered", "MRN-OLD-1")
    other = _take_in(database, checker, "EX-06-self-pay", "MRN-OLD-1")  # the same patient, a second course
    engine = database.engine
    downgrade(engine, "0003_lifecycle")
    try:
        with engine.begin() as connection:
            cancelled = _plan(connection, iv, "cancelled", "3420.00", discount="180.00")
            _pay(connection, cancelled, "1000.00", "card")
            active = _plan(connection, iv, "active", "2600.00")
            _pay(connection, active, "100.00", "Bitcoin")
            _pay(connection, active, "50.00", None)
            second = _plan(connection, other, "active", "1000.00", discount="50.00")
    finally:
        upgrade(engine)

    uow = SqlUnitOfWork(database.sessions)
    account = payments.get_account("MRN-OLD-1", uow=uow)
    entries = [e for e, _ in account.entries]
    charges = [(e.request_id, e.amount) for e in entries if e.kind == "charge"]
    assert charges == [(iv, Decimal("3600.00")), (other, Decimal("1050.00"))]  # once per request, first plan's
    # The discount of the cancelled plan is not carried; the other request's (its plan not cancelled) is.
    assert [(e.request_id, e.amount) for e in entries if e.kind == "adjustment"] == [(other, Decimal("50.00"))]
    paid = [(e.plan_id, e.amount, e.method, e.description) for e in entries if e.kind == "payment"]
    assert paid == [
        (cancelled, Decimal("1000.00"), "card", None),
        (active, Decimal("100.00"), None, "method: Bitcoin"),
        (active, Decimal("50.00"), None, None),
    ]
    assert account.balance == Decimal("3600.00") + Decimal("1050.00") - Decimal("50.00") - Decimal("1150.00")
    plans = {p.id: p.status for p in payments.plans_for_request(iv, uow=uow)}
    plans |= {p.id: p.status for p in payments.plans_for_request(other, uow=uow)}
    # Two active plans on one account: the older is cancelled, with a reason.
    assert plans == {cancelled: "cancelled", active: "cancelled", second: "active"}
    assert "one active plan per account" in (payments.get_plan(active, uow=uow).close_reason or "")

    downgrade(engine, "0003_lifecycle")
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT plan_id, amount, method FROM payments ORDER BY id")).all()
        assert [(r.plan_id, Decimal(r.amount), r.method) for r in rows] == [
            (cancelled, Decimal("1000.00"), "card"),
            (active, Decimal("100.00"), None),
            (active, Decimal("50.00"), None),
        ]
    finally:
        upgrade(engine)
