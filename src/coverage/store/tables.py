"""The records' tables, on one :data:`Base.metadata`; each change ships with an Alembic migration.

Patients, payers, coverages and the self-pay tables are declarative rows. A course and its
requests are the domain's own classes (:mod:`coverage.requests.model`), mapped onto the plain
``Table`` objects below by :mod:`coverage.store.orm`, so the domain imports no SQLAlchemy.
Free text that comes from a case (names, member and group numbers, payer names, the
patient's id) is ``Text``: the case format puts no length on it, and a limit here would turn
a valid case into a database error. Timestamps are UTC and timezone-aware on both databases
(:class:`UTCDateTime`); money is ``Numeric``/``Decimal`` (:data:`MONEY`); documents are JSON
(JSONB on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Constraint names that Alembic can find again on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Money: exact cents, read back as ``Decimal``.
MONEY = Numeric(12, 2, asdecimal=True)


class JSONDocument(TypeDecorator[Any]):
    """A JSON document; JSONB on PostgreSQL (its dialect is imported only when PostgreSQL is used)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


#: A JSON document; JSONB on PostgreSQL.
JSON_DOCUMENT = JSONDocument()


def utcnow() -> dt.datetime:
    """Now, in UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is stored as UTC
    without an offset and read back as aware UTC. Naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Every table of the project."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


class Patient(Base):
    """A patient, known by the clinic's own id (MRN); names and birth date are PHI."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(Text, unique=True)
    given_name: Mapped[str | None] = mapped_column(Text)
    family_name: Mapped[str | None] = mapped_column(Text)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Payer(Base):
    """The payer directory: how to reach a payer and how fast it answers."""

    __tablename__ = "payers"
    __table_args__ = (
        CheckConstraint("turnaround_days > 0", name="turnaround_positive"),
        CheckConstraint("urgent_turnaround_hours > 0", name="urgent_turnaround_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    #: ``name`` case-folded with single spaces: what a case's ``coverage.payer_name`` is matched on.
    name_key: Mapped[str] = mapped_column(Text, unique=True)
    fax: Mapped[str | None] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(40))
    portal_url: Mapped[str | None] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(20), default="fax")
    policy_id: Mapped[str | None] = mapped_column(String(100))
    turnaround_days: Mapped[int] = mapped_column(Integer)
    urgent_turnaround_hours: Mapped[int] = mapped_column(Integer)
    #: The payer's internal-appeal window in days (``None``: the settings' default, 180).
    appeal_window_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Coverage(Base):
    """A patient's insurance as a case states it."""

    __tablename__ = "coverages"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    payer_name: Mapped[str | None] = mapped_column(Text)
    plan_type: Mapped[str] = mapped_column(String(20))
    policy_id: Mapped[str | None] = mapped_column(Text)
    member_id: Mapped[str | None] = mapped_column(Text)
    group_number: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _when(name: str, *, nullable: bool = False) -> Column[dt.datetime]:
    return Column(name, UTCDateTime(), nullable=nullable)


def _flag(name: str) -> Column[bool]:
    return Column(name, Boolean, nullable=False, default=False, server_default=false())


def _request_fk() -> Column[int]:
    return Column("request_id", ForeignKey("pa_requests.id"), nullable=False, index=True)


#: A course: one patient's treatment under one ``case_id`` (``version`` guards every change to it).
courses = Table(
    "courses",
    Base.metadata,
    _id(),
    Column("case_id", String(64), nullable=False, unique=True),
    Column("patient_id", ForeignKey("patients.id"), nullable=False, index=True),
    Column("treatment", String(32), nullable=False),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer, nullable=False),
)

#: A request; ``version`` guards every change.
pa_requests = Table(
    "pa_requests",
    Base.metadata,
    _id(),
    Column("course_id", ForeignKey("courses.id"), nullable=False, index=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("patient_id", ForeignKey("patients.id"), nullable=False, index=True),
    Column("coverage_id", ForeignKey("coverages.id"), nullable=False),
    Column("payer_id", ForeignKey("payers.id"), index=True),
    Column("kind", String(16), nullable=False),
    Column("previous_request_id", ForeignKey("pa_requests.id")),
    Column("status", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("urgency", String(16), nullable=False, default="standard"),
    Column("expedited_reason", Text),
    Column("treatment", String(32), nullable=False),
    Column("indication", String(16), nullable=False),
    _flag("signoff_required"),
    Column("appeal_window_days", Integer),
    _when("created_at"),
    _when("updated_at"),
    _when("status_changed_at"),
    #: When the payer's answer (or an appeal decision) is due; set by each sending.
    _when("due_at", nullable=True),
    #: When an automated status check last looked at this request (not a change: no version bump).
    _when("checked_at", nullable=True),
    CheckConstraint("urgency IN ('standard', 'expedited')", name="urgency"),
    Index("ix_pa_requests_status_due_at", "status", "due_at"),
)

#: Case versions: the case JSON as taken in, numbered per ``case_id``.
cases = Table(
    "cases",
    Base.metadata,
    _id(),
    Column("case_id", String(64), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("request_id", ForeignKey("pa_requests.id"), index=True),
    Column("patient_id", ForeignKey("patients.id"), nullable=False, index=True),
    Column("document", JSON_DOCUMENT, nullable=False),
    Column("sha256", String(71), nullable=False),
    _when("received_at"),
    Column("received_by", String(120), nullable=False),
    _flag("superseded"),
    UniqueConstraint("case_id", "version", name="uq_cases_case_id_version"),
)

#: Evaluations: the engine's output for a case version, as of the day of the act.
determinations = Table(
    "determinations",
    Base.metadata,
    _id(),
    _request_fk(),
    Column("case_record_id", ForeignKey("cases.id"), nullable=False),
    Column("evaluated_on", Date),
    Column("policy_id", String(100)),
    Column("policy_version", String(40)),
    Column("policy_hash", String(71)),
    Column("outcome", String(40), nullable=False),
    Column("next_step", String(40), nullable=False),
    Column("result", JSON_DOCUMENT, nullable=False),
    _when("created_at"),
)

#: Sendings: the unique idempotency key makes "never submit twice" hold.
submissions = Table(
    "submissions",
    Base.metadata,
    _id(),
    _request_fk(),
    Column("channel", String(20), nullable=False),
    Column("reference", String(120)),
    Column("sent_on", Date, nullable=False),
    _when("submitted_at"),
    Column("by", String(120), nullable=False),
    Column("purpose", String(16), nullable=False, default="request"),
    Column("idempotency_key", String(200), unique=True),
    _flag("voided"),
)

#: Authorizations granted by approving answers; units used are the sessions charged plus the adjustment.
authorizations = Table(
    "authorizations",
    Base.metadata,
    _id(),
    _request_fk(),
    Column("number", String(80), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Column("code", String(16), nullable=False, default=""),
    Column("units_authorized", Integer, nullable=False),
    Column("units_adjustment", Integer, nullable=False, default=0),
    _flag("partial"),
    _flag("voided"),
    _flag("superseded"),
    _when("created_at"),
    CheckConstraint("valid_to >= valid_from", name="valid_dates"),
    CheckConstraint("units_authorized >= 0 AND units_adjustment >= 0", name="units_non_negative"),
)

#: The payer's answers; ``idempotency_key`` (a payer's answer id) is applied once, even after an undo.
answers = Table(
    "answers",
    Base.metadata,
    _id(),
    _request_fk(),
    Column("decision", String(24), nullable=False),
    Column("decided_on", Date, nullable=False),
    _when("recorded_at"),
    Column("by", String(120), nullable=False),
    Column("reference", String(120)),
    Column("reason", Text),
    Column("info_requested", Text),
    Column("respond_by", Date),
    Column("authorization_number", String(80)),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("units", Integer),
    _flag("appeal"),
    Column("idempotency_key", String(200), unique=True),
    _flag("voided"),
    Column("authorization_id", ForeignKey("authorizations.id")),
)

#: Treatment sessions of a course.
treatment_sessions = Table(
    "treatment_sessions",
    Base.metadata,
    _id(),
    Column("course_id", ForeignKey("courses.id"), nullable=False, index=True),
    Column("request_id", ForeignKey("pa_requests.id")),
    Column("date", Date, nullable=False),
    Column("dose_mg", Integer),
    Column("units", Integer, nullable=False),
    Column("code", String(16)),
    Column("authorization_id", ForeignKey("authorizations.id"), index=True),
    _when("recorded_at"),
    Column("by", String(120), nullable=False),
    _flag("voided"),
    Column("void_reason", Text),
    CheckConstraint("units >= 0", name="units_non_negative"),
)

#: Documents waiting for a person to send them.
send_tasks = Table(
    "send_tasks",
    Base.metadata,
    _id(),
    _request_fk(),
    Column("channel", String(20), nullable=False),
    Column("destination", String(500)),
    Column("documents", JSON, nullable=False),
    Column("pages", Integer, nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("opened_on", Date, nullable=False),
    _when("opened_at"),
    _when("closed_at", nullable=True),
    Column("closed_reason", Text),
    Column("submission_id", ForeignKey("submissions.id")),
)

send_failures = Table(
    "send_failures",
    Base.metadata,
    _id(),
    Column("task_id", ForeignKey("send_tasks.id"), nullable=False, index=True),
    _when("at"),
    Column("by", String(120), nullable=False),
    Column("reason", Text, nullable=False),
)

#: A clinician's sign-off of a sending; at most one pending per request (a partial unique index).
signoffs = Table(
    "signoffs",
    Base.metadata,
    _id(),
    _request_fk(),
    _when("requested_at"),
    Column("case_version", Integer, nullable=False),
    Column("sending", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    _when("decided_at", nullable=True),
    Column("by", String(120)),
    Column("note", Text),
    CheckConstraint("status IN ('pending', 'approved', 'rejected', 'withdrawn')", name="status"),
    Index(
        "uq_signoffs_one_pending",
        "request_id",
        unique=True,
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

#: Files of a request. ``key`` is relative to the document store (``<request id>/<control number>.pdf``);
#: ``path`` and ``content`` are where documents of earlier versions live.
documents = Table(
    "documents",
    Base.metadata,
    _id(),
    _request_fk(),
    Column("kind", String(40), nullable=False),
    Column("sha256", String(71), nullable=False),
    Column("key", Text),
    Column("path", Text),
    Column("content", LargeBinary),
    Column("size", Integer, nullable=False),
    Column("pages", Integer),
    Column("dated", Date),
    Column("title", Text),
    Column("case_version", Integer),
    Column("control_number", String(80)),
    _flag("withdrawn"),
    _when("created_at"),
    UniqueConstraint("request_id", "control_number", name="uq_documents_request_id_control_number"),
)

#: What each course asks of a person, worked out again on every change (coverage.requests.work).
work_items = Table(
    "work_items",
    Base.metadata,
    _id(),
    Column("course_id", ForeignKey("courses.id"), nullable=False, index=True),
    _request_fk(),
    Column("kind", String(40), nullable=False),
    Column("due", Date, nullable=False),
    Column("visible_from", Date, nullable=False),
    Column("visible_until", Date),
    Column("detail", Text, nullable=False),
    Index("ix_work_items_visible_from_due", "visible_from", "due"),
)

#: The clock settings the work items were worked out with (one row); other settings mean a rebuild.
work_projection = Table(
    "work_projection",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("signature", Text, nullable=False),
)

#: A request being handed to a payer's gateway right now: at most one claim per request, taken in a
#: transaction of its own (with the request's version checked) before the gateway call, dropped once
#: the submission is recorded. Two overlapping runs for one request never both send.
sending_claims = Table(
    "sending_claims",
    Base.metadata,
    Column("request_id", ForeignKey("pa_requests.id"), primary_key=True),
    Column("claimant", String(80), nullable=False),
    Column("sending", Integer, nullable=False),
    _when("claimed_at"),
)

#: Our flow runs as the records see them, written by the flows at start and end: ids, states and
#: error types only. A failed or crashed run of a request shows on the worklist (``run_failed``).
workflow_runs = Table(
    "workflow_runs",
    Base.metadata,
    _id(),
    Column("flow_run_id", String(64), nullable=False),
    Column("flow", String(40), nullable=False),
    Column("request_id", ForeignKey("pa_requests.id"), index=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    _when("started_at"),
    _when("ended_at", nullable=True),
    Column("reason", String(200)),
    UniqueConstraint("flow_run_id", name="uq_workflow_runs_flow_run_id"),
    CheckConstraint("state IN ('running', 'completed', 'failed', 'crashed')", name="state"),
)

#: The append-only audit trail.
status_events = Table(
    "status_events",
    Base.metadata,
    _id(),
    _request_fk(),
    Column("action", String(32), nullable=False, default="move"),
    Column("from_status", String(32)),
    Column("to_status", String(32), nullable=False),
    _when("at"),
    Column("by", String(120), nullable=False),
    Column("reason", Text),
    Column("payer_reference", String(120)),
    #: Set by automated callers so that the same act applied twice is written once.
    Column("idempotency_key", String(200), unique=True),
    Column("undoes_event_id", ForeignKey("status_events.id")),
)


# --- self-pay -----------------------------------------------------------------------------------


class Account(Base):
    """A patient's self-pay account: one per patient; ``version`` guards every write to its ledger.

    Every write takes the row first (``SELECT ... FOR UPDATE`` on PostgreSQL), so two clerks
    posting to one account queue instead of both passing a balance check.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Set by every write to the ledger, so the row's ``version`` moves and a stale writer is refused.
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # SQLAlchemy's own class attribute

    entries: Mapped[list[LedgerEntry]] = relationship(order_by="LedgerEntry.id", lazy="selectin")


class LedgerEntry(Base):
    """One row of an account's ledger: a charge, adjustment, payment, refund or void; never changed."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('charge', 'adjustment', 'payment', 'refund', 'void')", name="kind"),
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("method IS NULL OR method IN ('card', 'cash', 'check', 'hsa', 'fsa')", name="method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    #: The day of the money: paid, refunded, charged, voided.
    on_date: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str | None] = mapped_column(String(8))
    code: Mapped[str | None] = mapped_column(String(16))
    units: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("pa_requests.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    #: A refund's payment; a void's entry.
    refers_to: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(120))


class PaymentPlan(Base):
    """A self-pay plan: what the account owes for a request, scheduled in installments."""

    __tablename__ = "payment_plans"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'cancelled', 'restructured', 'completed')", name="status"),
        CheckConstraint("total > 0 AND discount >= 0", name="amounts"),
        # One active plan per account, even when two clerks make one at once.
        Index(
            "uq_payment_plans_one_active",
            "account_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("pa_requests.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
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


# --- the web app: staff accounts, their sessions, and who looked at which patient ----------------


class WebUser(Base):
    """A person who signs in to the web app: a clerk, a clinician or an admin (argon2 hash only)."""

    __tablename__ = "web_users"
    __table_args__ = (CheckConstraint("role IN ('clerk', 'clinician', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    failed_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser: the cookie carries a token, the table only its sha256."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: A one-time message shown on the next page (what the last action did).
    flash: Mapped[str | None] = mapped_column(Text)


class WebFormToken(Base):
    """A spent one-time form token: the first post of a form spends it, a second is not done again.

    In the database, not a process's memory, so every web worker (and a restarted one) knows it;
    removed with its session, and forgotten a day after it was spent.
    """

    __tablename__ = "web_form_tokens"

    session_id: Mapped[int] = mapped_column(ForeignKey("web_sessions.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    spent_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class AccessLog(Base):
    """Append-only: who saw which patient's data, when, on which request, and what they saw."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(String(120), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: The clinic's patient id (the case's ``patient.id``).
    patient_id: Mapped[str] = mapped_column(Text, index=True)
    request_id: Mapped[int | None] = mapped_column(Integer)
    what: Mapped[str] = mapped_column(String(200))
