"""Random charges, payments, voids, refunds, adjustments, plans, restructures and cancellations on one
account, through the services: in memory, on SQLite and on PostgreSQL.

After every step: balance = charges - adjustments - payments + refunds (voided rows and voids
excluded, summed here from the raw rows); no plan asks for more than the balance; installments
sum to their plan's total, ask what the plan asks and are paid only by payments on it; at most
one active plan; no payment refunded beyond its amount; the rows only grow (nothing edited or
deleted); a refused step writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from coverage.clinic import load_clinic
from coverage.errors import PriorAuthError
from coverage.services import payments
from coverage.services.context import Context
from coverage.services.requests import intake
from coverage.settings import Settings
from coverage.store.fake import FakeUnitOfWork
from tests.conftest import case_gathered, today

if TYPE_CHECKING:
    from coverage.policies.service import Checker
    from coverage.store.db import Database
    from coverage.store.uow import UnitOfWork

PATIENT = "MRN-MACHINE"
PRICES = load_clinic(Settings(clinic_file=None)).prices
CTX = Context()
amounts = st.integers(min_value=1, max_value=400_000).map(lambda cents: Decimal(cents).scaleb(-2))


def _machine(make_uow: Callable[[], UnitOfWork], checker: Checker) -> type[RuleBasedStateMachine]:
    class Account(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.uow = make_uow()
            data = case_gathered("EX-02-iv-not-covered")
            data["patient"]["id"] = PATIENT
            self.request_id = intake(json.dumps(data), uow=self.uow, checker=checker, ctx=CTX, by="intake").request_id
            self.seen: list[tuple[Any, ...]] = []

        # --- what a clerk does ----------------------------------------------------------------

        def attempt(self, act: Callable[[], object]) -> None:
            before = self.rows()
            try:
                act()
            except PriorAuthError:
                assert self.rows() == before  # a refused step writes nothing

        def rows(self) -> list[tuple[Any, ...]]:
            try:
                account = payments.get_account(PATIENT, uow=self.uow)
            except PriorAuthError:
                return []
            return [(e.id, e.kind, e.amount, e.refers_to, e.plan_id) for e, _ in account.entries]

        def active_plan(self) -> int | None:
            plans = payments.plans_for_request(self.request_id, uow=self.uow)
            active = [p.id for p in plans if p.status == "active"]
            return active[-1] if active else None

        def entry_ids(self, kind: str | None = None) -> list[int]:
            return [row[0] for row in self.rows() if kind is None or row[1] == kind]

        @rule(count=st.sampled_from([None, 3, 6, 12]))
        def make_plan(self, count: int | None) -> None:
            self.attempt(
                lambda: payments.create_plan(
                    self.request_id,
                    uow=self.uow,
                    prices=PRICES,
                    start=today(),
                    by="billing",
                    ctx=CTX,
                    installments=count,
                    pay_in_full=count is None,
                )
            )

        @rule(amount=amounts, on_plan=st.booleans(), method=st.sampled_from(["card", "cash", "hsa"]))
        def pay(self, amount: Decimal, on_plan: bool, method: str) -> None:
            plan = self.active_plan() if on_plan else None
            self.attempt(
                lambda: payments.receive_payment(
                    uow=self.uow,
                    amount=amount,
                    paid_on=today(),
                    by="desk",
                    ctx=CTX,
                    method=method,
                    plan_id=plan,
                    patient=None if plan is not None else PATIENT,
                )
            )

        @rule(pick=st.integers(min_value=0, max_value=50))
        def void(self, pick: int) -> None:
            ids = self.entry_ids()
            if ids:
                entry = ids[pick % len(ids)]
                self.attempt(lambda: payments.void_entry(entry, uow=self.uow, reason="mistake", by="desk", ctx=CTX))

        @rule(pick=st.integers(min_value=0, max_value=50), amount=amounts)
        def refund(self, pick: int, amount: Decimal) -> None:
            ids = self.entry_ids("payment")
            if ids:
                payment = ids[pick % len(ids)]
                self.attempt(
                    lambda: payments.refund_payment(
                        payment, uow=self.uow, amount=amount, reason="returned", by="desk", ctx=CTX
                    )
                )

        @rule(amount=amounts)
        def adjust(self, amount: Decimal) -> None:
            self.attempt(
                lambda: payments.adjust_account(
                    PATIENT, uow=self.uow, amount=amount, reason="write-off", by="manager", ctx=CTX
                )
            )

        @rule(count=st.sampled_from([3, 6, 7, 12]))
        def restructure(self, count: int) -> None:
            plan = self.active_plan()
            if plan is not None:
                self.attempt(
                    lambda: payments.restructure_plan(
                        plan, uow=self.uow, prices=PRICES, installments=count, start=today(), by="manager", ctx=CTX
                    )
                )

        @rule()
        def cancel(self) -> None:
            plan = self.active_plan()
            if plan is not None:
                self.attempt(lambda: payments.cancel_plan(plan, uow=self.uow, by="manager", ctx=CTX))

        # --- what always holds ----------------------------------------------------------------

        @invariant()
        def the_ledger_adds_up(self) -> None:
            try:
                account = payments.get_account(PATIENT, uow=self.uow)
            except PriorAuthError:
                return
            entries = [e for e, _ in account.entries]
            voided = {e.refers_to for e in entries if e.kind == "void"}
            live = [e for e in entries if e.kind != "void" and e.id not in voided]

            def total(kind: str) -> Decimal:
                return sum((e.amount for e in live if e.kind == kind), Decimal("0.00"))

            expected = total("charge") - total("adjustment") - total("payment") + total("refund")
            assert account.balance == expected
            for payment in (e for e in live if e.kind == "payment"):
                refunded = sum((e.amount for e in live if e.kind == "refund" and e.refers_to == payment.id), Decimal(0))
                assert refunded <= payment.amount
            # Nothing edited or deleted: the rows seen before are still there, unchanged, first.
            rows = [(e.id, e.kind, e.amount, e.refers_to, e.plan_id) for e in entries]
            assert rows[: len(self.seen)] == self.seen
            self.seen = rows
            plans = payments.plans_for_request(self.request_id, uow=self.uow)
            assert sum(1 for p in plans if p.status == "active") <= 1
            for plan in plans:
                assert sum((i.amount for i in plan.installments), Decimal("0.00")) == plan.total
                assert Decimal("0.00") <= plan.balance <= max(account.balance, Decimal("0.00"))
                # Installments still ask exactly what the plan asks; none is shown paid by money not received on it.
                statuses = plan.statuses()
                assert sum((s.remaining for s in statuses), Decimal("0.00")) == plan.balance
                assert sum((s.paid for s in statuses), Decimal("0.00")) <= max(plan.paid, Decimal("0.00"))
                assert all(s.remaining >= 0 and s.reduced >= 0 for s in statuses)

    return Account


def _run(machine: type[RuleBasedStateMachine], examples: int) -> None:
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_the_account_in_memory(checker: Checker) -> None:
    _run(_machine(FakeUnitOfWork, checker), 60)


def test_the_account_on_the_database(database: Database, checker: Checker) -> None:
    from coverage.store.testing import clear_tables
    from coverage.store.uow import SqlUnitOfWork

    def fresh() -> UnitOfWork:
        clear_tables(database.engine)
        return SqlUnitOfWork(database.sessions)

    _run(_machine(fresh, checker), 12)


@pytest.mark.postgres
def test_two_refunds_racing_on_one_payment_one_wins(database: Database, checker: Checker, database_url: str) -> None:
    """Two clerks refund the same payment at once: the account's row lock lets one through; the ledger adds up."""
    import threading

    from coverage.store.uow import SqlUnitOfWork

    if not database_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL only")
    data = case_gathered("EX-02-iv-not-covered")
    data["patient"]["id"] = PATIENT
    uow = SqlUnitOfWork(database.sessions)
    request_id = intake(json.dumps(data), uow=uow, checker=checker, ctx=CTX, by="intake").request_id
    plan = payments.create_plan(
        request_id, uow=uow, prices=PRICES, start=today(), by="billing", ctx=CTX, installments=3
    )
    paid = payments.receive_payment(
        uow=uow, amount=Decimal("1000.00"), paid_on=today(), by="desk", ctx=CTX, method="card", plan_id=plan.id
    )
    assert paid.entry.id is not None
    payment_id = paid.entry.id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def refund() -> None:
        barrier.wait()
        try:
            payments.refund_payment(
                payment_id, uow=SqlUnitOfWork(database.sessions), amount=Decimal("600.00"), reason="race", by="desk"
            )
            outcomes.append("refunded")
        except PriorAuthError as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=refund) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["InvalidInput", "refunded"]
    account = payments.get_account(PATIENT, uow=uow)
    assert account.refunds == Decimal("600.00")
    assert account.balance == Decimal("3600.00") - Decimal("1000.00") + Decimal("600.00")
