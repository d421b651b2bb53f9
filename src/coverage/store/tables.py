"""The records, as SQLAlchemy 2 typed declarative tables on one :data:`Base.metadata`.

Other modules (the self-pay tables) add their own tables on the same ``Base``; each table
change ships with an Alembic migration in ``coverage/store/migrations/versions``.
Free text that comes from a case (names, member and group numbers, payer names, the
patient's id) is ``Text``: the case format puts no length on it, and a limit here would turn
a valid case into a database error. Timestamps are UTC and timezone-aware on both databases
(:class:`UTCDateTime`); money is ``Numeric``/``Decimal`` (:data:`MONEY`); documents are JSON
(JSONB on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

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

#: A JSON document; JSONB on PostgreSQL.
JSON_DOCUMENT = JSON().with_variant(postgresql.JSONB(), "postgresql")


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


class CaseRecord(Base):
    """One version of a validated case document; a new intake of the same case id is a new version."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("case_id", "version", name="uq_cases_case_id_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    sha256: Mapped[str] = mapped_column(String(71))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    received_by: Mapped[str] = mapped_column(String(120))


class PARequest(Base):
    """A prior-authorization request and where it stands; ``version`` guards every change."""

    __tablename__ = "pa_requests"
    __table_args__ = (
        CheckConstraint("urgency IN ('standard', 'expedited')", name="urgency"),
        Index("ix_pa_requests_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    case_record_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    coverage_id: Mapped[int] = mapped_column(ForeignKey("coverages.id"))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    urgency: Mapped[str] = mapped_column(String(16), default="standard")
    treatment: Mapped[str] = mapped_column(String(32))
    indication: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: When the payer's answer (or an appeal decision) is due; set on submission.
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: When an automated status check last looked at this request (not a domain change).
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    info_requested: Mapped[str | None] = mapped_column(Text)
    denial_reason: Mapped[str | None] = mapped_column(Text)
    denied_on: Mapped[dt.date | None] = mapped_column(Date)
    appeal_deadline: Mapped[dt.date | None] = mapped_column(Date)
    payer_reference: Mapped[str | None] = mapped_column(String(120))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # SQLAlchemy reads a plain dict

    authorizations: Mapped[list[Authorization]] = relationship(
        order_by="Authorization.id", back_populates="request", lazy="selectin"
    )


class Determination(Base):
    """The engine's output for one case version, with the policy version and hash it used."""

    __tablename__ = "determinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("pa_requests.id"), index=True)
    case_record_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    policy_id: Mapped[str | None] = mapped_column(String(100))
    policy_version: Mapped[str | None] = mapped_column(String(40))
    policy_hash: Mapped[str | None] = mapped_column(String(71))
    outcome: Mapped[str] = mapped_column(String(40))
    next_step: Mapped[str] = mapped_column(String(40))
    result: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Document(Base):
    """A file sent or received for a request: a letter, a form, the payer's answer."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("pa_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(71))
    path: Mapped[str | None] = mapped_column(Text)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    size: Mapped[int] = mapped_column(Integer)
    #: The X12 275 / PWK attachment control number, when the document went electronically.
    control_number: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StatusEvent(Base):
    """One line of the append-only audit trail: a status change (or a recorded act) of a request."""

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("pa_requests.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)
    payer_reference: Mapped[str | None] = mapped_column(String(120))
    #: Set by automated callers so that the same answer applied twice is written once.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class Submission(Base):
    """A request sent to the payer; the unique idempotency key makes "never submit twice" hold."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("pa_requests.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(120))
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(120))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class Authorization(Base):
    """An approval: the payer's number, valid dates and units; the latest one is current."""

    __tablename__ = "authorizations"
    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="valid_dates"),
        CheckConstraint("units_used >= 0 AND units_authorized >= 0", name="units_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("pa_requests.id"), index=True)
    number: Mapped[str] = mapped_column(String(80))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    units_authorized: Mapped[int] = mapped_column(Integer)
    units_used: Mapped[int] = mapped_column(Integer, default=0)
    partial: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    request: Mapped[PARequest] = relationship(back_populates="authorizations")
