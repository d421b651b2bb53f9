"""Records: patients, payers, cases, requests, audit trail

Revision ID: 0001_records
Revises: (none)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_records"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=True),
        sa.Column("family_name", sa.Text(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("external_id", name=op.f("uq_patients_external_id")),
    )
    op.create_table(
        "payers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("fax", sa.String(length=40), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("portal_url", sa.String(length=500), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=True),
        sa.Column("turnaround_days", sa.Integer(), nullable=False),
        sa.Column("urgent_turnaround_hours", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("turnaround_days > 0", name=op.f("ck_payers_turnaround_positive")),
        sa.CheckConstraint("urgent_turnaround_hours > 0", name=op.f("ck_payers_urgent_turnaround_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payers")),
        sa.UniqueConstraint("name_key", name=op.f("uq_payers_name_key")),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("sha256", sa.String(length=71), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_cases_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("case_id", "version", name="uq_cases_case_id_version"),
    )
    op.create_index("ix_cases_case_id", "cases", ["case_id"])
    op.create_index("ix_cases_patient_id", "cases", ["patient_id"])
    op.create_table(
        "coverages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=True),
        sa.Column("payer_name", sa.Text(), nullable=True),
        sa.Column("plan_type", sa.String(length=20), nullable=False),
        sa.Column("policy_id", sa.Text(), nullable=True),
        sa.Column("member_id", sa.Text(), nullable=True),
        sa.Column("group_number", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_coverages_patient_id_patients")),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_coverages_payer_id_payers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverages")),
    )
    op.create_index("ix_coverages_patient_id", "coverages", ["patient_id"])
    op.create_table(
        "pa_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("case_record_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("coverage_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("treatment", sa.String(length=32), nullable=False),
        sa.Column("indication", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("info_requested", sa.Text(), nullable=True),
        sa.Column("denial_reason", sa.Text(), nullable=True),
        sa.Column("denied_on", sa.Date(), nullable=True),
        sa.Column("appeal_deadline", sa.Date(), nullable=True),
        sa.Column("payer_reference", sa.String(length=120), nullable=True),
        sa.CheckConstraint("urgency IN ('standard', 'expedited')", name=op.f("ck_pa_requests_urgency")),
        sa.ForeignKeyConstraint(["case_record_id"], ["cases.id"], name=op.f("fk_pa_requests_case_record_id_cases")),
        sa.ForeignKeyConstraint(["coverage_id"], ["coverages.id"], name=op.f("fk_pa_requests_coverage_id_coverages")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_pa_requests_patient_id_patients")),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_pa_requests_payer_id_payers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pa_requests")),
    )
    op.create_index("ix_pa_requests_case_id", "pa_requests", ["case_id"])
    op.create_index("ix_pa_requests_patient_id", "pa_requests", ["patient_id"])
    op.create_index("ix_pa_requests_payer_id", "pa_requests", ["payer_id"])
    op.create_index("ix_pa_requests_status_due_at", "pa_requests", ["status", "due_at"])
    op.create_table(
        "authorizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=80), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("units_authorized", sa.Integer(), nullable=False),
        sa.Column("units_used", sa.Integer(), nullable=False),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "units_used >= 0 AND units_authorized >= 0", name=op.f("ck_authorizations_units_non_negative")
        ),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_authorizations_valid_dates")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["pa_requests.id"], name=op.f("fk_authorizations_request_id_pa_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorizations")),
    )
    op.create_index("ix_authorizations_request_id", "authorizations", ["request_id"])
    op.create_table(
        "determinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("case_record_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=True),
        sa.Column("policy_version", sa.String(length=40), nullable=True),
        sa.Column("policy_hash", sa.String(length=71), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("next_step", sa.String(length=40), nullable=False),
        sa.Column("result", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_record_id"], ["cases.id"], name=op.f("fk_determinations_case_record_id_cases")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["pa_requests.id"], name=op.f("fk_determinations_request_id_pa_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_determinations")),
    )
    op.create_index("ix_determinations_request_id", "determinations", ["request_id"])
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=71), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("control_number", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["pa_requests.id"], name=op.f("fk_documents_request_id_pa_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    op.create_index("ix_documents_request_id", "documents", ["request_id"])
    op.create_table(
        "status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payer_reference", sa.String(length=120), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["pa_requests.id"], name=op.f("fk_status_events_request_id_pa_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_events")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_status_events_idempotency_key")),
    )
    op.create_index("ix_status_events_request_id", "status_events", ["request_id"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["pa_requests.id"], name=op.f("fk_submissions_request_id_pa_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_submissions_idempotency_key")),
    )
    op.create_index("ix_submissions_request_id", "submissions", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_submissions_request_id", table_name="submissions")
    op.drop_table("submissions")
    op.drop_index("ix_status_events_request_id", table_name="status_events")
    op.drop_table("status_events")
    op.drop_index("ix_documents_request_id", table_name="documents")
    op.drop_table("documents")
    op.drop_index("ix_determinations_request_id", table_name="determinations")
    op.drop_table("determinations")
    op.drop_index("ix_authorizations_request_id", table_name="authorizations")
    op.drop_table("authorizations")
    op.drop_index("ix_pa_requests_status_due_at", table_name="pa_requests")
    op.drop_index("ix_pa_requests_payer_id", table_name="pa_requests")
    op.drop_index("ix_pa_requests_patient_id", table_name="pa_requests")
    op.drop_index("ix_pa_requests_case_id", table_name="pa_requests")
    op.drop_table("pa_requests")
    op.drop_index("ix_coverages_patient_id", table_name="coverages")
    op.drop_table("coverages")
    op.drop_index("ix_cases_patient_id", table_name="cases")
    op.drop_index("ix_cases_case_id", table_name="cases")
    op.drop_table("cases")
    op.drop_table("payers")
    op.drop_table("patients")
