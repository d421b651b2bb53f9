"""Payment plans stored and read back on SQLite and PostgreSQL: plans, installments, payments, history.

The rule that a refused plan leaves its request as it was is also checked on the in-memory unit
of work, which has no rollback to hide a move made too early.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest

from coverage import worklist
from coverage.clinic import PriceList, load_clinic
from coverage.errors import IllegalTransition, InvalidInput, NotFound
from coverage.payments.plans import add_months
from coverage.policies.service import Checker
from coverage.services import payments
from coverage.services.context import Context
from coverage.services.payments import (
    balance,
    cancel_plan,
    get_plan,
    overdue_installments,
    plans_for_request,
    quote_plan,
    record_payment,
    request_offer,
    restructure_plan,
)
from coverage.services.requests import get_request, intake
from coverage.settings import Settings
from coverage.store.fake import FakeUnitOfWork
from tests.conftest import case_gathered, today

if TYPE_CHECKING:
    from coverage.store.uow import UnitOfWork

START = today()  # a plan starts today or later; payments are dated today or before
CTX = Context()
create_plan: Callable[..., Any] = partial(payments.create_plan, ctx=CTX)


@pytest.fixture(scope="module")
def prices() -> PriceList:
    return load_clinic(Settings(clinic_file=None)).prices


def _intake(uow: UnitOfWork, checker: Checker, name: str) -> int:
    """A sample case gathered today, taken in."""
    text = json.dumps(case_gathered(name))
    return intake(text, uow=uow, checker=checker, ctx=CTX, by="intake").request_id


@pytest.fixture
def iv_request(uow: UnitOfWork, checker: Checker) -> int:
    """A stored IV ketamine request the policy does not cover (status draft)."""
    return _intake(uow, checker, "EX-02-iv-not-covered")


def test_plan_round_trip_from_the_price_list(uow: UnitOfWork, prices: PriceList, iv_request: int) -> None:
    created = create_plan(iv_request, uow=uow, prices=prices, start=START, by="billing", installments=6)
    stored = get_plan(created.id, uow=uow)
    assert stored == created
    assert stored.request_id == iv_request
    assert stored.status == "active"
    assert (stored.course_total, stored.discount, stored.total) == (
        Decimal("3600.00"),
        Decimal("0.00"),
        Decimal("3600.00"),
    )
    assert [(i.number, i.due_date, i.amount) for i in stored.installments] == [
        (n + 1, add_months(START, n), Decimal("600.00")) for n in range(6)
    ]
    assert all(type(i.amount) is Decimal for i in stored.installments)
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == dt.timedelta(0)
    assert stored.created_by == "billing"


def test_uneven_total_keeps_its_cents(uow: UnitOfWork, prices: PriceList, iv_request: int) -> None:
    created = create_plan(
        iv_request, uow=uow, prices=prices, start=START, by="billing", installments=6, total=Decimal("1000.01")
    )
    amounts = [i.amount for i in get_plan(created.id, uow=uow).installments]
    assert amounts == [Decimal("166.71")] + [Decimal("166.66")] * 5
    assert sum(amounts) == Decimal("1000.01")


def test_an_agreed_total_takes_only_a_count_the_clinic_offers(
    uow: UnitOfWork, prices: PriceList, iv_request: int
) -> None:
    """QA 10: the clinic's installment counts hold for a total typed by hand too."""
    with pytest.raises(InvalidInput, match=r"^--installments: 7 is not offered \(offered: 3, 6\)$"):
        create_plan(
            iv_request, uow=uow, prices=prices, start=START, by="billing", installments=7, total=Decimal("1000.01")
        )
    assert plans_for_request(iv_request, uow=uow) == []


def test_pay_in_full_stores_the_discount(uow: UnitOfWork, prices: PriceList, iv_request: int) -> None:
    plan = create_plan(iv_request, uow=uow, prices=prices, start=START, by="billing", pay_in_full=True)
    stored = get_plan(plan.id, uow=uow)
    assert (stored.course_total, stored.discount, stored.total) == (
        Decimal("3600.00"),
        Decimal("180.00"),
        Decimal("3420.00"),
    )
    assert [i.amount for i in stored.installments] == [Decimal("3420.00")]


def test_offer_for_a_stored_request(uow: UnitOfWork, prices: PriceList, iv_request: int) -> None:
    offer = request_offer(iv_request, uow=uow, prices=prices, start=START)
    assert offer.course.total == Decimal("3600.00")
    assert [o.count for o in offer.offer.options] == [3, 6, 12]
    assert offer.savings.status == "not_applicable"  # IV ketamine has no manufacturer program
    data = offer.to_dict()
    assert data["total"] == "3600.00"
    assert data["superbill_suggested"] is True


def test_payments_settle_the_oldest_installment_first(uow: UnitOfWork, prices: PriceList, iv_request: int) -> None:
    plan = create_plan(iv_request, uow=uow, prices=prices, start=START, by="billing", installments=6)
    record_payment(plan.id, uow=uow, amount=Decimal("600"), paid_on=START, by="front desk", method="hsa")
    after = record_payment(plan.id, uow=uow, amount=Decimal("250.50"), paid_on=START, by="front desk")
    assert [(s.number, s.paid) for s in after.statuses()[:3]] == [
        (1, Decimal("600.00")),
        (2, Decimal("250.50")),
        (3, Decimal("0.00")),
    ]
    stored = get_plan(plan.id, uow=uow)
    assert [(p.amount, p.paid_on, p.method) for p in stored.payments] == [
        (Decimal("600.00"), START, "hsa"),
        (Decimal("250.50"), START, None),
    ]
    assert balance(plan.id, uow=uow) == Decimal("2749.50")
    assert stored.payments[0].recorded_at.utcoffset() == dt.timedelta(0)


def test_bad_amounts_are_refused_and_an_overpayment_leaves_a_credit(
    uow: UnitOfWork, prices: PriceList, iv_request: int
) -> None:
    plan = create_plan(iv_request, uow=uow, prices=prices, start=START, by="billing", installments=3)
    with pytest.raises(InvalidInput, match=r"--amount: must be more than 0"):
        record_payment(plan.id, uow=uow, amount=Decimal("-5"), paid_on=START, by="x")
    with pytest.raises(InvalidInput, match=r"--amount: must be in whole cents"):
        record_payment(plan.id, uow=uow, amount=Decimal("1.001"), paid_on=START, by="x")
    with pytest.raises(NotFound, match="plan 999999: not found"):
        record_payment(999999, uow=uow, amount=Decimal("1"), paid_on=START, by="x")
    assert get_plan(plan.id, uow=uow).payments == ()
    # Defect: an overpayment could not be recorded. It settles the plan and leaves a credit.
    paid = record_payment(plan.id, uow=uow, amount=Decimal("3600.01"), paid_on=START, by="x")
    assert (paid.status, paid.balance, paid.account_balance) == ("completed", Decimal("0.00"), Decimal("-0.01"))


def test_overdue_installments_as_of(uow: UnitOfWork, prices: PriceList, iv_request: int) -> None:
    plan = create_plan(iv_request, uow=uow, prices=prices, start=START, by="billing", installments=6)
    record_payment(plan.id, uow=uow, amount=Decimal("900.00"), paid_on=START, by="x")
    second, third = add_months(START, 1), add_months(START, 2)
    assert overdue_installments(second, uow=uow) == []  # due that day: not overdue yet
    as_of = third + dt.timedelta(days=1)
    overdue = overdue_installments(as_of, uow=uow)
    assert [(o.plan_id, o.number, o.due_date, o.remaining, o.days_overdue) for o in overdue] == [
        (plan.id, 2, second, Decimal("300.00"), (as_of - second).days),
        (plan.id, 3, third, Decimal("600.00"), 1),
    ]
    assert overdue[0].case_id == "EX-02-iv-not-covered"
    assert overdue[0].to_dict()["remaining"] == "300.00"

    def installments_overdue(as_of: dt.date) -> list[worklist.WorkItem]:
        return [i for i in worklist.build(as_of, uow=uow, zone="UTC") if i.kind == "installment_overdue"]

    [item] = installments_overdue(as_of)
    assert (item.request_id, item.kind, item.due, item.status) == (
        iv_request,
        "installment_overdue",
        second,
        "payment_plan",
    )
    assert item.detail == f"plan {plan.id}: 2 installments overdue, 900.00 owed"
    assert installments_overdue(second) == []


def test_cancel_keeps_the_history_and_stops_payments(uow: UnitOfWork, prices: PriceList, iv_request: int) -> None:
    plan = create_plan(iv_request, uow=uow, prices=prices, start=START, by="billing", installments=6)
    record_payment(plan.id, uow=uow, amount=Decimal("600.00"), paid_on=START, by="x")
    cancelled = cancel_plan(plan.id, uow=uow, by="manager", reason="patient moved")
    assert cancelled.status == "cancelled"
    assert (cancelled.closed_by, cancelled.close_reason) == ("manager", "patient moved")
    assert [p.amount for p in get_plan(plan.id, uow=uow).payments] == [Decimal("600.00")]
    assert overdue_installments(add_months(START, 12), uow=uow) == []
    with pytest.raises(IllegalTransition, match="is cancelled"):
        record_payment(plan.id, uow=uow, amount=Decimal("1"), paid_on=START, by="x")
    again = create_plan(iv_request, uow=uow, prices=prices, start=START, by="billing", installments=3)
    assert [p.status for p in plans_for_request(iv_request, uow=uow)] == ["cancelled", "active"]
    assert again.id != plan.id


def test_restructure_moves_the_balance_and_keeps_payments(uow: UnitOfWork, prices: PriceList, iv_request: int) -> None:
    plan = create_plan(iv_request, uow=uow, prices=prices, start=START, by="billing", installments=3)
    record_payment(plan.id, uow=uow, amount=Decimal("1500.00"), paid_on=START, by="x")
    new = restructure_plan(
        plan.id,
        uow=uow,
        prices=prices,
        installments=6,
        start=START + dt.timedelta(days=10),
        by="manager",
        reason="hardship",
    )
    assert new.replaces_plan_id == plan.id
    assert new.total == Decimal("2100.00")
    assert [i.amount for i in new.installments] == [Decimal("350.00")] * 6
    assert [p.amount for p in new.earlier_payments] == [Decimal("1500.00")]
    old = get_plan(plan.id, uow=uow)
    assert (old.status, old.close_reason) == ("restructured", "hardship")
    assert [p.amount for p in old.payments] == [Decimal("1500.00")]
    assert get_plan(new.id, uow=uow).earlier_payments == new.earlier_payments
    with pytest.raises(InvalidInput, match=r"--installments: 30 installments of 70\.00 fall below the minimum"):
        restructure_plan(new.id, uow=uow, prices=prices, installments=30, start=START, by="x")
    # Defects: a restructured plan in a count the clinic does not offer, or starting in the past.
    with pytest.raises(InvalidInput, match=r"--installments: 7 is not offered"):
        restructure_plan(new.id, uow=uow, prices=prices, installments=7, start=START, by="x")
    with pytest.raises(InvalidInput, match=r"--start: .* is before today"):
        restructure_plan(new.id, uow=uow, prices=prices, installments=6, start=START - dt.timedelta(days=1), by="x")


def test_plan_rules(uow: UnitOfWork, checker: Checker, prices: PriceList, iv_request: int) -> None:
    ready = _intake(uow, checker, "EX-01-meets")
    with pytest.raises(IllegalTransition, match=f"request {ready}: is ready; a payment plan follows no coverage"):
        create_plan(ready, uow=uow, prices=prices, start=START, by="x", installments=6)
    with pytest.raises(InvalidInput) as raised:
        quote_plan(iv_request, uow=uow, prices=prices, start=START, installments=12, total=Decimal("1000.00"))
    assert raised.value.lines() == [
        "--installments: 12 installments of 83.33 fall below the minimum monthly installment 100.00"
    ]
    with pytest.raises(NotFound, match="request 999999: no such request"):
        create_plan(999999, uow=uow, prices=prices, start=START, by="x", installments=6)
    with pytest.raises(InvalidInput, match="--by"):
        create_plan(iv_request, uow=uow, prices=prices, start=START, by=" ", installments=6)
    create_plan(iv_request, uow=uow, prices=prices, start=START, by="x", installments=6)
    with pytest.raises(IllegalTransition, match="is active; restructure or cancel it"):
        create_plan(iv_request, uow=uow, prices=prices, start=START, by="x", installments=3)
    assert len(plans_for_request(iv_request, uow=uow)) == 1


def _plan_and_move_land_together(uow: UnitOfWork, prices: PriceList, iv_request: int) -> None:
    with pytest.raises(InvalidInput):  # the terms are refused: neither the plan nor the move lands
        create_plan(iv_request, uow=uow, prices=prices, start=START, by="x", installments=12, total=Decimal("1000.00"))
    assert get_request(iv_request, uow=uow, ctx=CTX).request.status == "draft"
    assert plans_for_request(iv_request, uow=uow) == []
    create_plan(iv_request, uow=uow, prices=prices, start=START, by="x", installments=6)
    with pytest.raises(IllegalTransition, match="is active"):  # a second plan: the request stays as it is
        create_plan(iv_request, uow=uow, prices=prices, start=START, by="x", installments=3)
    detail = get_request(iv_request, uow=uow, ctx=CTX)
    assert detail.request.status == "payment_plan"
    moves = [(e.from_status, e.to_status) for e in detail.events]
    assert moves[-1] == ("draft", "payment_plan")
    assert moves.count(("draft", "payment_plan")) == 1


def test_plan_and_the_move_to_payment_plan_land_together(uow: UnitOfWork, prices: PriceList, iv_request: int) -> None:
    _plan_and_move_land_together(uow, prices, iv_request)


def test_a_refused_plan_moves_nothing_even_without_a_rollback(checker: Checker, prices: PriceList) -> None:
    memory = FakeUnitOfWork()
    _plan_and_move_land_together(memory, prices, _intake(memory, checker, "EX-02-iv-not-covered"))


def test_the_migrations_have_one_head_and_downgrade_cleanly(database_url: str) -> None:
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from coverage.store.db import alembic_config, downgrade, make_engine, upgrade

    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
    engine = make_engine(database_url)
    try:
        downgrade(engine, "0001_records")
        assert "payment_plans" not in inspect(engine).get_table_names()
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"payment_plans", "payment_plan_installments", "accounts", "ledger_entries"} <= tables
        assert "payments" not in tables  # payments are ledger rows now
    finally:
        engine.dispose()
