"""Self-pay: payment plans, their installments, and payments

Revision ID: 0002_payments
Revises: 0001_records
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_payments"
down_revision: str | Sequence[str] | None = "0001_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(12, 2)


def upgrade() -> None:
    op.create_table(
        "payment_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("treatment", sa.String(length=32), nullable=True),
        sa.Column("dose_mg", sa.Integer(), nullable=True),
        sa.Column("course_total", MONEY, nullable=False),
        sa.Column("discount", MONEY, nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("replaces_plan_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=120), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'cancelled', 'restructured')", name=op.f("ck_payment_plans_status")),
        sa.CheckConstraint(
            "total > 0 AND discount >= 0 AND course_total >= total", name=op.f("ck_payment_plans_amounts")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["pa_requests.id"], name=op.f("fk_payment_plans_request_id_pa_requests")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_plan_id"], ["payment_plans.id"], name=op.f("fk_payment_plans_replaces_plan_id_payment_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_plans")),
        sa.UniqueConstraint("replaces_plan_id", name=op.f("uq_payment_plans_replaces_plan_id")),
    )
    op.create_index("ix_payment_plans_request_id", "payment_plans", ["request_id"])
    op.create_table(
        "payment_plan_installments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.CheckConstraint("number >= 1 AND amount >= 0", name=op.f("ck_payment_plan_installments_valid")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["payment_plans.id"], name=op.f("fk_payment_plan_installments_plan_id_payment_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_plan_installments")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_payment_plan_installments_plan_id_number")),
    )
    op.create_index("ix_payment_plan_installments_due_date", "payment_plan_installments", ["due_date"])
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(["plan_id"], ["payment_plans.id"], name=op.f("fk_payments_plan_id_payment_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index("ix_payments_plan_id", "payments", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_payments_plan_id", table_name="payments")
    op.drop_table("payments")
    op.drop_index("ix_payment_plan_installments_due_date", table_name="payment_plan_installments")
    op.drop_table("payment_plan_installments")
    op.drop_index("ix_payment_plans_request_id", table_name="payment_plans")
    op.drop_table("payment_plans")
