"""The patient's account: one ledger of charges, adjustments, payments, refunds and voids

Revision ID: 0004_accounts
Revises: 0003_lifecycle

Existing plans, installments and payments are carried into the ledger: each patient with a plan
gets an account; each request's course is charged once, from its first plan's course total; a
pay-in-full discount becomes an adjustment, except where the request's latest plan was cancelled
(the discount was never earned); each payment becomes a payment row (a method outside card, cash,
check, hsa, fsa is kept in the description, the method left empty). Where a patient had two
active plans, the older is cancelled with a reason. Downgrade gives the payments back their table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004_accounts"
down_revision: str | Sequence[str] | None = "0003_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
MONEY = sa.Numeric(12, 2, asdecimal=True)
ACTOR = "migration 0004"
METHODS = ("card", "cash", "check", "hsa", "fsa")

_plans = sa.table(
    "payment_plans",
    sa.column("id", sa.Integer()),
    sa.column("request_id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("course_total", MONEY),
    sa.column("discount", MONEY),
    sa.column("total", MONEY),
    sa.column("start_date", sa.Date()),
    sa.column("replaces_plan_id", sa.Integer()),
    sa.column("created_at", WHEN),
    sa.column("closed_at", WHEN),
    sa.column("closed_by", sa.String()),
    sa.column("close_reason", sa.Text()),
)
_requests = sa.table("pa_requests", sa.column("id", sa.Integer()), sa.column("patient_id", sa.Integer()))
_accounts = sa.table(
    "accounts",
    sa.column("id", sa.Integer()),
    sa.column("patient_id", sa.Integer()),
    sa.column("version", sa.Integer()),
    sa.column("created_at", WHEN),
    sa.column("updated_at", WHEN),
)
_entries = sa.table(
    "ledger_entries",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("amount", MONEY),
    sa.column("on_date", sa.Date()),
    sa.column("method", sa.String()),
    sa.column("description", sa.Text()),
    sa.column("reason", sa.Text()),
    sa.column("request_id", sa.Integer()),
    sa.column("plan_id", sa.Integer()),
    sa.column("refers_to", sa.Integer()),
    sa.column("recorded_at", WHEN),
    sa.column("recorded_by", sa.String()),
)
_payments = sa.table(
    "payments",
    sa.column("id", sa.Integer()),
    sa.column("plan_id", sa.Integer()),
    sa.column("amount", MONEY),
    sa.column("paid_on", sa.Date()),
    sa.column("method", sa.String()),
    sa.column("recorded_at", WHEN),
    sa.column("recorded_by", sa.String()),
)


def _payments_table() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=True),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(["plan_id"], ["payment_plans.id"], name=op.f("fk_payments_plan_id_payment_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index("ix_payments_plan_id", "payments", ["plan_id"])


def _create_tables() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_accounts_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_accounts_patient_id")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=True),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("units", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("refers_to", sa.Integer(), nullable=True),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint(
            "kind IN ('charge', 'adjustment', 'payment', 'refund', 'void')", name=op.f("ck_ledger_entries_kind")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_ledger_entries_amount")),
        sa.CheckConstraint(
            "method IS NULL OR method IN ('card', 'cash', 'check', 'hsa', 'fsa')", name=op.f("ck_ledger_entries_method")
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_ledger_entries_account_id_accounts")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["pa_requests.id"], name=op.f("fk_ledger_entries_request_id_pa_requests")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["payment_plans.id"], name=op.f("fk_ledger_entries_plan_id_payment_plans")
        ),
        sa.ForeignKeyConstraint(
            ["refers_to"], ["ledger_entries.id"], name=op.f("fk_ledger_entries_refers_to_ledger_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id"])
    op.create_index("ix_ledger_entries_plan_id", "ledger_entries", ["plan_id"])


def _clinic_day(at: dt.datetime) -> dt.date:
    """The clinic's date of a stored moment (never UTC's)."""
    from coverage.requests.clocks import clinic_today

    return clinic_today(now=at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC))


def _migrate(bind: sa.Connection) -> None:
    now = dt.datetime.now(dt.UTC)
    plans = bind.execute(
        sa.select(_plans, _requests.c.patient_id)
        .join(_requests, _requests.c.id == _plans.c.request_id)
        .order_by(_plans.c.id)
    ).all()
    accounts: dict[int, int] = {}
    for plan in plans:
        if plan.patient_id not in accounts:
            accounts[plan.patient_id] = bind.execute(
                sa.insert(_accounts)
                .values(patient_id=plan.patient_id, version=1, created_at=now, updated_at=now)
                .returning(_accounts.c.id)
            ).scalar_one()
        bind.execute(sa.update(_plans).where(_plans.c.id == plan.id).values(account_id=accounts[plan.patient_id]))
    by_request: dict[int, list[Any]] = {}
    for plan in plans:
        by_request.setdefault(plan.request_id, []).append(plan)

    def entry(account: int, **values: Any) -> None:
        bind.execute(sa.insert(_entries).values(account_id=account, **{"recorded_by": ACTOR, **values}))

    for request_id, chain in by_request.items():
        first = chain[0]
        account = accounts[first.patient_id]
        entry(
            account,
            kind="charge",
            amount=first.course_total,
            on_date=_clinic_day(first.created_at),
            description="course of treatment (carried from the payment plan)",
            request_id=request_id,
            plan_id=first.id,
            recorded_at=first.created_at,
        )
    # A discount counts where its plan (or the plan that replaced it, restructuring) was not cancelled.
    replaced_by = {plan.replaces_plan_id: plan for plan in plans if plan.replaces_plan_id is not None}
    for plan in plans:
        if plan.replaces_plan_id is not None or not Decimal(plan.discount or 0) > 0:
            continue
        final = plan
        while final.id in replaced_by:
            final = replaced_by[final.id]
        if final.status != "cancelled":
            entry(
                accounts[plan.patient_id],
                kind="adjustment",
                amount=plan.discount,
                on_date=_clinic_day(plan.created_at),
                reason="pay-in-full discount",
                request_id=plan.request_id,
                plan_id=plan.id,
                recorded_at=plan.created_at,
            )
    request_of = {plan.id: (plan.request_id, accounts[plan.patient_id]) for plan in plans}
    for payment in bind.execute(sa.select(_payments).order_by(_payments.c.id)).all():
        request_id, account = request_of[payment.plan_id]
        method = (payment.method or "").strip().lower() or None
        kept = method if method in METHODS else None
        entry(
            account,
            kind="payment",
            amount=payment.amount,
            on_date=payment.paid_on,
            method=kept,
            description=f"method: {payment.method}" if method is not None and kept is None else None,
            request_id=request_id,
            plan_id=payment.plan_id,
            recorded_at=payment.recorded_at,
            recorded_by=payment.recorded_by,
        )
    # One active plan per account: the older of two is cancelled.
    for account in accounts.values():
        active = [p for p in plans if accounts[p.patient_id] == account and p.status == "active"]
        for older in active[:-1]:
            bind.execute(
                sa.update(_plans)
                .where(_plans.c.id == older.id)
                .values(
                    status="cancelled",
                    closed_at=now,
                    closed_by=ACTOR,
                    close_reason=f"one active plan per account: plan {active[-1].id} is the active one",
                )
            )


def upgrade() -> None:
    _create_tables()
    op.drop_index("uq_payment_plans_one_active", table_name="payment_plans")
    with op.batch_alter_table("payment_plans") as batch:
        batch.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
    _migrate(op.get_bind())
    with op.batch_alter_table("payment_plans") as batch:
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(op.f("fk_payment_plans_account_id_accounts"), "accounts", ["account_id"], ["id"])
        batch.create_index("ix_payment_plans_account_id", ["account_id"])
        batch.drop_constraint(op.f("ck_payment_plans_status"), type_="check")
        batch.drop_constraint(op.f("ck_payment_plans_amounts"), type_="check")
        batch.create_check_constraint(
            op.f("ck_payment_plans_status"), "status IN ('active', 'cancelled', 'restructured', 'completed')"
        )
        batch.create_check_constraint(op.f("ck_payment_plans_amounts"), "total > 0 AND discount >= 0")
    op.create_index(
        "uq_payment_plans_one_active",
        "payment_plans",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_index("ix_payments_plan_id", table_name="payments")
    op.drop_table("payments")


def downgrade() -> None:
    """Payments back in their table (those not voided, on a plan); refunds, voids and charges are dropped."""
    bind = op.get_bind()
    _payments_table()
    entries = bind.execute(sa.select(_entries).order_by(_entries.c.id)).all()
    voided = {e.refers_to for e in entries if e.kind == "void"}
    for e in entries:
        if e.kind == "payment" and e.id not in voided and e.plan_id is not None:
            bind.execute(
                sa.insert(_payments).values(
                    plan_id=e.plan_id,
                    amount=e.amount,
                    paid_on=e.on_date,
                    method=e.method,
                    recorded_at=e.recorded_at,
                    recorded_by=e.recorded_by,
                )
            )
    bind.execute(sa.update(_plans).where(_plans.c.status == "completed").values(status="active"))
    bind.execute(sa.update(_plans).where(_plans.c.total > _plans.c.course_total).values(course_total=_plans.c.total))
    op.drop_index("uq_payment_plans_one_active", table_name="payment_plans")
    with op.batch_alter_table("payment_plans") as batch:
        batch.drop_constraint(op.f("ck_payment_plans_status"), type_="check")
        batch.drop_constraint(op.f("ck_payment_plans_amounts"), type_="check")
        batch.create_check_constraint(
            op.f("ck_payment_plans_status"), "status IN ('active', 'cancelled', 'restructured')"
        )
        batch.create_check_constraint(
            op.f("ck_payment_plans_amounts"), "total > 0 AND discount >= 0 AND course_total >= total"
        )
        batch.drop_index("ix_payment_plans_account_id")
        batch.drop_constraint(op.f("fk_payment_plans_account_id_accounts"), type_="foreignkey")
        batch.drop_column("account_id")
    op.create_index(
        "uq_payment_plans_one_active",
        "payment_plans",
        ["request_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_index("ix_ledger_entries_plan_id", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_account_id", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("accounts")
