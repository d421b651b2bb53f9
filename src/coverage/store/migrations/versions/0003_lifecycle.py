"""A request's whole life: courses, answers, sessions, send tasks, sign-offs, undo

Revision ID: 0003_lifecycle
Revises: 0002_payments

The migration of existing records (lifecycle.md): events are never rewritten (old status names
stay readable); each case id becomes a course; a ``renewed`` (or stored ``expiring`` /
``expired``) request becomes the approving status it had, with its latest authorization (the
earlier ones kept, marked superseded), and an event says so; units counted by the old
``requests use`` stay on their authorization as one undated adjustment; where one case id has
two open requests, the older is cancelled with the reason "superseded". The payer's answers,
kept until now only as statuses, events and columns of the request, become answer rows.
Stored documents keep their paths; new ones use keys in the document store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_lifecycle"
down_revision: str | Sequence[str] | None = "0002_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
APPROVING = ("approved", "partially_approved", "appeal_approved")
OPEN = ("draft", "ready", "pended")
ACTOR = "migration 0003"


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())


def _request_fk(table: str) -> list[Any]:
    return [
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["pa_requests.id"], name=op.f(f"fk_{table}_request_id_pa_requests")),
    ]


def _create_tables() -> None:
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("treatment", sa.String(length=32), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_courses_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("case_id", name=op.f("uq_courses_case_id")),
    )
    op.create_index("ix_courses_patient_id", "courses", ["patient_id"])
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        *_request_fk("answers"),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("info_requested", sa.Text(), nullable=True),
        sa.Column("respond_by", sa.Date(), nullable=True),
        sa.Column("authorization_number", sa.String(length=80), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("units", sa.Integer(), nullable=True),
        _flag("appeal"),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        _flag("voided"),
        sa.Column("authorization_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["authorization_id"], ["authorizations.id"], name=op.f("fk_answers_authorization_id_authorizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_answers_idempotency_key")),
    )
    op.create_index("ix_answers_request_id", "answers", ["request_id"])
    op.create_table(
        "treatment_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("dose_mg", sa.Integer(), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("authorization_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        _flag("voided"),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("units >= 0", name=op.f("ck_treatment_sessions_units_non_negative")),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_treatment_sessions_course_id_courses")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["pa_requests.id"], name=op.f("fk_treatment_sessions_request_id_pa_requests")
        ),
        sa.ForeignKeyConstraint(
            ["authorization_id"],
            ["authorizations.id"],
            name=op.f("fk_treatment_sessions_authorization_id_authorizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_sessions")),
    )
    op.create_index("ix_treatment_sessions_course_id", "treatment_sessions", ["course_id"])
    op.create_index("ix_treatment_sessions_authorization_id", "treatment_sessions", ["authorization_id"])
    op.create_table(
        "send_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        *_request_fk("send_tasks"),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("destination", sa.String(length=500), nullable=True),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_send_tasks_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_tasks")),
    )
    op.create_index("ix_send_tasks_request_id", "send_tasks", ["request_id"])
    op.create_table(
        "send_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["send_tasks.id"], name=op.f("fk_send_failures_task_id_send_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_failures")),
    )
    op.create_index("ix_send_failures_task_id", "send_failures", ["task_id"])
    op.create_table(
        "signoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        *_request_fk("signoffs"),
        sa.Column("requested_at", WHEN, nullable=False),
        sa.Column("case_version", sa.Integer(), nullable=False),
        sa.Column("sending", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("by", sa.String(length=120), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'withdrawn')", name=op.f("ck_signoffs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signoffs")),
    )
    op.create_index("ix_signoffs_request_id", "signoffs", ["request_id"])
    op.create_table(
        "work_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        *_request_fk("work_items"),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("visible_from", sa.Date(), nullable=False),
        sa.Column("visible_until", sa.Date(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_work_items_course_id_courses")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
    )
    op.create_index("ix_work_items_course_id", "work_items", ["course_id"])
    op.create_index("ix_work_items_request_id", "work_items", ["request_id"])
    op.create_index("ix_work_items_visible_from_due", "work_items", ["visible_from", "due"])
    op.create_table(
        "work_projection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_projection")),
    )
    op.create_index(
        "uq_payment_plans_one_active",
        "payment_plans",
        ["request_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "uq_signoffs_one_pending",
        "signoffs",
        ["request_id"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def _add_columns() -> None:
    with op.batch_alter_table("payers") as batch:
        batch.add_column(sa.Column("appeal_window_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("pa_requests") as batch:
        batch.add_column(sa.Column("course_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("previous_request_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("expedited_reason", sa.Text(), nullable=True))
        batch.add_column(_flag("signoff_required"))
        batch.add_column(sa.Column("appeal_window_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
        batch.add_column(_flag("superseded"))
    with op.batch_alter_table("determinations") as batch:
        batch.add_column(sa.Column("evaluated_on", sa.Date(), nullable=True))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("sent_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("purpose", sa.String(length=16), nullable=False, server_default="request"))
        batch.add_column(_flag("voided"))
    with op.batch_alter_table("authorizations") as batch:
        batch.add_column(sa.Column("code", sa.String(length=16), nullable=False, server_default=""))
        batch.add_column(sa.Column("units_adjustment", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(_flag("voided"))
        batch.add_column(_flag("superseded"))
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pages", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("dated", sa.Date(), nullable=True))
        batch.add_column(sa.Column("title", sa.Text(), nullable=True))
        batch.add_column(sa.Column("case_version", sa.Integer(), nullable=True))
        batch.add_column(_flag("withdrawn"))
    with op.batch_alter_table("status_events") as batch:
        batch.add_column(sa.Column("action", sa.String(length=32), nullable=False, server_default="move"))
        batch.add_column(sa.Column("undoes_event_id", sa.Integer(), nullable=True))


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.datetime.fromisoformat(str(value)).date()


def _rows(connection: sa.Connection, sql: str, **params: Any) -> list[Any]:
    return list(connection.execute(sa.text(sql), params))


def _run(connection: sa.Connection, sql: str, **params: Any) -> None:
    connection.execute(sa.text(sql), params)


#: The action of an old event, by the status it went to (``None``: the event had no from-status).
_ANSWER_STATUSES = {
    "pended": ("pended", False),
    "approved": ("approved", False),
    "renewed": ("approved", False),
    "partially_approved": ("partially_approved", False),
    "denied": ("denied", False),
    "appeal_approved": ("approved", True),
    "appeal_denied": ("denied", True),
}


def _migrate_data(connection: sa.Connection) -> None:  # one pass over the old records
    now = dt.datetime.now(dt.UTC)
    requests = _rows(
        connection,
        "SELECT id, case_id, patient_id, treatment, status, created_at, updated_at, info_requested, denial_reason "
        "FROM pa_requests ORDER BY id",
    )
    courses: dict[str, int] = {}
    for row in requests:
        if row.case_id not in courses:
            connection.execute(
                sa.text(
                    "INSERT INTO courses (case_id, patient_id, treatment, created_at, updated_at, version) "
                    "VALUES (:case_id, :patient_id, :treatment, :created_at, :updated_at, 1)"
                ),
                {
                    "case_id": row.case_id,
                    "patient_id": row.patient_id,
                    "treatment": row.treatment,
                    "created_at": row.created_at,
                    "updated_at": row.updated_at,
                },
            )
            courses[row.case_id] = connection.execute(
                sa.text("SELECT id FROM courses WHERE case_id = :case_id"), {"case_id": row.case_id}
            ).scalar_one()
        connection.execute(
            sa.text("UPDATE pa_requests SET course_id = :course WHERE id = :id"),
            {"course": courses[row.case_id], "id": row.id},
        )

    # Case versions belong to the request that was open when they came in.
    for version in _rows(connection, "SELECT id, case_id, received_at FROM cases ORDER BY id"):
        candidates = [r for r in requests if r.case_id == version.case_id]
        received = version.received_at
        before = [r for r in candidates if r.created_at is not None and r.created_at <= received]
        owner = (before or candidates)[-1 if before else 0] if candidates else None
        if owner is not None:
            connection.execute(
                sa.text("UPDATE cases SET request_id = :request WHERE id = :id"),
                {"request": owner.id, "id": version.id},
            )

    for determination in _rows(connection, "SELECT id, created_at FROM determinations"):
        connection.execute(
            sa.text("UPDATE determinations SET evaluated_on = :day WHERE id = :id"),
            {"day": _day(determination.created_at), "id": determination.id},
        )
    for submission in _rows(connection, "SELECT id, submitted_at FROM submissions"):
        connection.execute(
            sa.text("UPDATE submissions SET sent_on = :day WHERE id = :id"),
            {"day": _day(submission.submitted_at), "id": submission.id},
        )
    for document in _rows(connection, "SELECT id, created_at FROM documents"):
        connection.execute(
            sa.text("UPDATE documents SET dated = :day WHERE id = :id"),
            {"day": _day(document.created_at), "id": document.id},
        )
    # Rows written twice by concurrent runs of earlier versions: the first one stays.
    connection.execute(
        sa.text(
            "DELETE FROM documents WHERE control_number IS NOT NULL AND id NOT IN ("
            "SELECT MIN(id) FROM documents WHERE control_number IS NOT NULL GROUP BY request_id, control_number)"
        )
    )
    # Units counted by the old `requests use` stay as one undated adjustment.
    connection.execute(sa.text("UPDATE authorizations SET units_adjustment = units_used"))

    for request in requests:
        _migrate_request(connection, request, now)

    # One open request per course: the older ones are cancelled as superseded.
    by_case: dict[str, list[Any]] = {}
    for request in _rows(connection, "SELECT id, case_id, status FROM pa_requests ORDER BY id"):
        if request.status in OPEN:
            by_case.setdefault(request.case_id, []).append(request)
    for open_requests in by_case.values():
        for older in open_requests[:-1]:
            _event(connection, older.id, (older.status, "cancelled"), at=now, reason="superseded", action="migration")
            _run(connection, "UPDATE pa_requests SET status = 'cancelled' WHERE id = :id", id=older.id)


def _event(
    connection: sa.Connection, request_id: int, moved: tuple[str, str], *, at: dt.datetime, reason: str, action: str
) -> None:
    from_status, to_status = moved
    connection.execute(
        sa.text(
            "INSERT INTO status_events (request_id, action, from_status, to_status, at, by, reason) "
            "VALUES (:request, :action, :from_status, :to_status, :at, :by, :reason)"
        ),
        {
            "request": request_id,
            "action": action,
            "from_status": from_status,
            "to_status": to_status,
            "at": at.replace(tzinfo=None) if connection.dialect.name == "sqlite" else at,
            "by": ACTOR,
            "reason": reason,
        },
    )


def _migrate_request(connection: sa.Connection, request: Any, now: dt.datetime) -> None:
    events = _rows(
        connection,
        "SELECT id, from_status, to_status, at, by, reason, payer_reference FROM status_events "
        "WHERE request_id = :request ORDER BY id",
        request=request.id,
    )
    authorizations = _rows(
        connection,
        "SELECT id, number, valid_from, valid_to, units_authorized FROM authorizations "
        "WHERE request_id = :request ORDER BY id",
        request=request.id,
    )
    billing = _rows(
        connection,
        "SELECT result FROM determinations WHERE request_id = :request ORDER BY id DESC",
        request=request.id,
    )
    code = ""
    if billing:
        result = billing[0].result
        if isinstance(result, str):
            import json

            result = json.loads(result)
        lines = result.get("billing") or []
        code = lines[0]["code"] if lines else ""
    connection.execute(
        sa.text("UPDATE authorizations SET code = :code WHERE request_id = :request"),
        {"code": code, "request": request.id},
    )

    unused = list(authorizations)
    last_approving = None
    denials = [e for e in events if e.to_status in ("denied", "appeal_denied")]
    for event in events:
        action = "move"
        if event.from_status is None:
            action = "intake"
        elif event.to_status in ("submitted", "appeal_submitted") and event.from_status != event.to_status:
            action = "submit"
        elif event.to_status in _ANSWER_STATUSES and (
            event.from_status != event.to_status or event.to_status == "renewed"
        ):
            action = "answer"
        elif event.to_status in ("expiring", "expired") or event.from_status == event.to_status:
            action = "note"
        connection.execute(
            sa.text("UPDATE status_events SET action = :action WHERE id = :id"), {"action": action, "id": event.id}
        )
        if action != "answer":
            continue
        decision, appeal = _ANSWER_STATUSES[event.to_status]
        auth = unused.pop(0) if decision in ("approved", "partially_approved") and unused else None
        if event.to_status in APPROVING or event.to_status == "renewed":
            last_approving = event.to_status if event.to_status != "renewed" else (last_approving or "approved")
        reason = event.reason
        if decision == "denied" and event is (denials[-1] if denials else None) and request.denial_reason:
            reason = request.denial_reason
        connection.execute(
            sa.text(
                "INSERT INTO answers (request_id, decision, decided_on, recorded_at, by, reference, reason, "
                "info_requested, authorization_number, valid_from, valid_to, units, appeal, voided, authorization_id) "
                "VALUES (:request, :decision, :decided_on, :recorded_at, :by, :reference, :reason, :info, :number, "
                ":valid_from, :valid_to, :units, :appeal, :voided, :auth)"
            ),
            {
                "request": request.id,
                "decision": decision,
                "decided_on": _day(event.at),
                "recorded_at": event.at,
                "by": event.by,
                "reference": event.payer_reference,
                "reason": reason if decision == "denied" else None,
                "info": (request.info_requested or reason) if decision == "pended" else None,
                "number": auth.number if auth else None,
                "valid_from": auth.valid_from if auth else None,
                "valid_to": auth.valid_to if auth else None,
                "units": auth.units_authorized if auth else None,
                "appeal": appeal,
                "voided": False,
                "auth": auth.id if auth else None,
            },
        )

    if request.status in ("renewed", "expiring", "expired"):
        target = last_approving or "approved"
        if len(authorizations) > 1:
            for earlier in authorizations[:-1]:
                connection.execute(
                    sa.text("UPDATE authorizations SET superseded = :yes WHERE id = :id"),
                    {"yes": True, "id": earlier.id},
                )
        _event(
            connection,
            request.id,
            (request.status, target),
            at=now,
            reason=f"{request.status} is no longer stored: a renewal is a continuation request",
            action="migration",
        )
        connection.execute(
            sa.text("UPDATE pa_requests SET status = :status WHERE id = :id"), {"status": target, "id": request.id}
        )


def upgrade() -> None:
    _create_tables()
    _add_columns()
    _migrate_data(op.get_bind())
    with op.batch_alter_table("pa_requests") as batch:
        batch.alter_column("course_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(op.f("fk_pa_requests_course_id_courses"), "courses", ["course_id"], ["id"])
        batch.create_foreign_key(
            op.f("fk_pa_requests_previous_request_id_pa_requests"), "pa_requests", ["previous_request_id"], ["id"]
        )
        batch.create_index("ix_pa_requests_course_id", ["course_id"])
        batch.drop_constraint(op.f("fk_pa_requests_case_record_id_cases"), type_="foreignkey")
        for column in (
            "case_record_id",
            "info_requested",
            "denial_reason",
            "denied_on",
            "appeal_deadline",
            "payer_reference",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("cases") as batch:
        batch.create_foreign_key(op.f("fk_cases_request_id_pa_requests"), "pa_requests", ["request_id"], ["id"])
        batch.create_index("ix_cases_request_id", ["request_id"])
    with op.batch_alter_table("submissions") as batch:
        batch.alter_column("sent_on", existing_type=sa.Date(), nullable=False)
    with op.batch_alter_table("authorizations") as batch:
        batch.drop_constraint(op.f("ck_authorizations_units_non_negative"), type_="check")
        batch.drop_column("units_used")
        batch.create_check_constraint(
            op.f("ck_authorizations_units_non_negative"), "units_authorized >= 0 AND units_adjustment >= 0"
        )
    with op.batch_alter_table("documents") as batch:
        batch.create_unique_constraint("uq_documents_request_id_control_number", ["request_id", "control_number"])
    with op.batch_alter_table("status_events") as batch:
        batch.create_foreign_key(
            op.f("fk_status_events_undoes_event_id_status_events"), "status_events", ["undoes_event_id"], ["id"]
        )


def downgrade() -> None:
    """Back to one status column per request: answers, sessions, tasks and sign-offs are dropped."""
    connection = op.get_bind()
    with op.batch_alter_table("authorizations") as batch:
        batch.add_column(sa.Column("units_used", sa.Integer(), nullable=False, server_default="0"))
    connection.execute(
        sa.text(
            "UPDATE authorizations SET units_used = units_adjustment + COALESCE(("
            "SELECT SUM(units) FROM treatment_sessions s WHERE s.authorization_id = authorizations.id "
            "AND NOT s.voided), 0)"
        )
    )
    with op.batch_alter_table("authorizations") as batch:
        batch.drop_constraint(op.f("ck_authorizations_units_non_negative"), type_="check")
        for column in ("code", "units_adjustment", "voided", "superseded"):
            batch.drop_column(column)
        batch.create_check_constraint(
            op.f("ck_authorizations_units_non_negative"), "units_used >= 0 AND units_authorized >= 0"
        )
    with op.batch_alter_table("pa_requests") as batch:
        batch.add_column(sa.Column("case_record_id", sa.Integer(), nullable=True))
        for column in ("info_requested", "denial_reason"):
            batch.add_column(sa.Column(column, sa.Text(), nullable=True))
        batch.add_column(sa.Column("denied_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("appeal_deadline", sa.Date(), nullable=True))
        batch.add_column(sa.Column("payer_reference", sa.String(length=120), nullable=True))
    connection.execute(
        sa.text(
            "UPDATE pa_requests SET case_record_id = "
            "(SELECT MAX(c.id) FROM cases c WHERE c.case_id = pa_requests.case_id)"
        )
    )
    with op.batch_alter_table("pa_requests") as batch:
        batch.alter_column("case_record_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(op.f("fk_pa_requests_case_record_id_cases"), "cases", ["case_record_id"], ["id"])
        batch.drop_constraint(op.f("fk_pa_requests_course_id_courses"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_pa_requests_previous_request_id_pa_requests"), type_="foreignkey")
        batch.drop_index("ix_pa_requests_course_id")
        for column in (
            "course_id",
            "previous_request_id",
            "expedited_reason",
            "signoff_required",
            "appeal_window_days",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(op.f("fk_cases_request_id_pa_requests"), type_="foreignkey")
        batch.drop_index("ix_cases_request_id")
        batch.drop_column("request_id")
        batch.drop_column("superseded")
    with op.batch_alter_table("determinations") as batch:
        batch.drop_column("evaluated_on")
    with op.batch_alter_table("submissions") as batch:
        for column in ("sent_on", "purpose", "voided"):
            batch.drop_column(column)
    with op.batch_alter_table("documents") as batch:
        batch.drop_constraint("uq_documents_request_id_control_number", type_="unique")
        for column in ("key", "pages", "dated", "title", "case_version", "withdrawn"):
            batch.drop_column(column)
    with op.batch_alter_table("status_events") as batch:
        batch.drop_constraint(op.f("fk_status_events_undoes_event_id_status_events"), type_="foreignkey")
        batch.drop_column("undoes_event_id")
        batch.drop_column("action")
    with op.batch_alter_table("payers") as batch:
        batch.drop_column("appeal_window_days")
    op.drop_index("uq_signoffs_one_pending", table_name="signoffs")
    op.drop_index("uq_payment_plans_one_active", table_name="payment_plans")
    tables = ("work_projection", "work_items", "signoffs", "send_failures", "send_tasks", "treatment_sessions")
    for table in (*tables, "answers", "courses"):
        op.drop_table(table)
