"""Production on a Prefect server: sending claims and the records' view of flow runs

Revision ID: 0005_production
Revises: 0006_web

``sending_claims``: at most one run hands a request to a payer's gateway at a time.
``workflow_runs``: each flow run's start and end as our flows record them, so a failed or
crashed run of a request shows on the worklist.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_production"
down_revision: str | Sequence[str] | None = "0004_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sending_claims",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("claimant", sa.String(length=80), nullable=False),
        sa.Column("sending", sa.Integer(), nullable=False),
        sa.Column("claimed_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["pa_requests.id"], name=op.f("fk_sending_claims_request_id_pa_requests")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_sending_claims")),
    )
    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "state IN ('running', 'completed', 'failed', 'crashed')", name=op.f("ck_workflow_runs_state")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["pa_requests.id"], name=op.f("fk_workflow_runs_request_id_pa_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_runs")),
        sa.UniqueConstraint("flow_run_id", name=op.f("uq_workflow_runs_flow_run_id")),
    )
    op.create_index(op.f("ix_workflow_runs_request_id"), "workflow_runs", ["request_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_workflow_runs_request_id"), table_name="workflow_runs")
    op.drop_table("workflow_runs")
    op.drop_table("sending_claims")
