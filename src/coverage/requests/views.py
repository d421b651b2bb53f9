"""What the request services return: plain immutable records, detached from any session."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from coverage.determinations import Determination
from coverage.requests.lifecycle import Status


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class EventView:
    """One line of a request's audit trail."""

    from_status: Status | None
    to_status: Status
    at: dt.datetime
    by: str
    reason: str | None
    payer_reference: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_status,
            "to": self.to_status,
            "at": self.at.isoformat(),
            "by": self.by,
            "reason": self.reason,
            "payer_reference": self.payer_reference,
        }


@dataclass(frozen=True, slots=True)
class AuthorizationView:
    """The payer's authorization: number, valid dates, units."""

    number: str
    valid_from: dt.date
    valid_to: dt.date
    units_authorized: int
    units_used: int
    partial: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "units_authorized": self.units_authorized,
            "units_used": self.units_used,
            "partial": self.partial,
        }


@dataclass(frozen=True, slots=True)
class SubmissionView:
    """A request sent to the payer."""

    id: int
    request_id: int
    channel: str
    reference: str | None
    submitted_at: dt.datetime
    by: str
    idempotency_key: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_id": self.request_id,
            "channel": self.channel,
            "reference": self.reference,
            "submitted_at": self.submitted_at.isoformat(),
            "by": self.by,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True, slots=True)
class DocumentView:
    """A stored document's metadata (the content is read separately)."""

    id: int
    request_id: int
    kind: str
    sha256: str
    size: int
    path: str | None
    control_number: str | None
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
            "path": self.path,
            "control_number": self.control_number,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request and where it stands; ``status`` is as of ``as_of`` (expiring/expired derived)."""

    request_id: int
    case_id: str
    case_version: int
    patient_id: str
    status: Status
    stored_status: Status
    version: int
    urgency: str
    treatment: str
    indication: str
    kind: str
    payer_name: str | None
    payer_id: int | None
    created_at: dt.datetime
    status_changed_at: dt.datetime
    due_at: dt.datetime | None
    overdue: bool
    info_requested: str | None
    denial_reason: str | None
    denied_on: dt.date | None
    appeal_deadline: dt.date | None
    authorization: AuthorizationView | None
    as_of: dt.date

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "case_id": self.case_id,
            "case_version": self.case_version,
            "patient_id": self.patient_id,
            "status": self.status,
            "stored_status": self.stored_status,
            "version": self.version,
            "urgency": self.urgency,
            "treatment": self.treatment,
            "indication": self.indication,
            "kind": self.kind,
            "payer_name": self.payer_name,
            "created_at": self.created_at.isoformat(),
            "status_changed_at": self.status_changed_at.isoformat(),
            "due_at": _iso(self.due_at),
            "overdue": self.overdue,
            "info_requested": self.info_requested,
            "denial_reason": self.denial_reason,
            "denied_on": _iso(self.denied_on),
            "appeal_deadline": _iso(self.appeal_deadline),
            "authorization": self.authorization.to_dict() if self.authorization else None,
            "as_of": self.as_of.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class RequestDetail:
    """A request with its determination, documents, submissions and full history."""

    request: RequestView
    determination: Determination | None
    events: tuple[EventView, ...]
    documents: tuple[DocumentView, ...]
    submissions: tuple[SubmissionView, ...]
    authorizations: tuple[AuthorizationView, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.request.to_dict(),
            "determination": self.determination.to_dict() if self.determination else None,
            "events": [e.to_dict() for e in self.events],
            "documents": [d.to_dict() for d in self.documents],
            "submissions": [s.to_dict() for s in self.submissions],
            "authorizations": [a.to_dict() for a in self.authorizations],
        }


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What intake stored: the request (new or re-opened), its status and the determination."""

    request_id: int
    status: Status
    determination: Determination
    case_version: int
    new_request: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "status": self.status,
            "case_version": self.case_version,
            "new_request": self.new_request,
            "determination": self.determination.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class WorkItem:
    """Something about a request that needs a person, and by when."""

    request_id: int
    case_id: str
    kind: str
    due: dt.date
    status: Status
    urgency: str
    payer_name: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "case_id": self.case_id,
            "kind": self.kind,
            "due": self.due.isoformat(),
            "status": self.status,
            "urgency": self.urgency,
            "payer_name": self.payer_name,
            "detail": self.detail,
        }
