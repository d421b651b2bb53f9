"""What the services return: plain immutable records read off a course, detached from any session.

``RequestDetail.to_dict`` is ``requests show --json`` (lifecycle.md lists the keys scripts rely
on); ``WorkItem.to_dict`` is a line of ``worklist --json``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coverage.determinations import Determination
from coverage.requests import clocks as clk
from coverage.requests import model as m
from coverage.requests.lifecycle import APPROVING, WITH_PAYER

if TYPE_CHECKING:
    from coverage.store.repositories import RequestFacts


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class EventView:
    """One line of a request's audit trail (old status names stay as they were written)."""

    action: str
    from_status: str | None
    to_status: str
    at: dt.datetime
    by: str
    reason: str | None
    payer_reference: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "from": self.from_status,
            "to": self.to_status,
            "at": self.at.isoformat(),
            "by": self.by,
            "reason": self.reason,
            "payer_reference": self.payer_reference,
        }


@dataclass(frozen=True, slots=True)
class AuthorizationView:
    """An authorization with its units used and left, and when they run out at the course's pace."""

    number: str
    valid_from: dt.date
    valid_to: dt.date
    code: str
    units: int
    units_used: int
    units_left: int
    runs_out_on: dt.date | None
    partial: bool
    voided: bool
    superseded: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "code": self.code,
            "units": self.units,
            "units_used": self.units_used,
            "units_left": self.units_left,
            "runs_out_on": _iso(self.runs_out_on),
            "partial": self.partial,
            "voided": self.voided,
            "superseded": self.superseded,
        }


@dataclass(frozen=True, slots=True)
class SubmissionView:
    """A sending."""

    id: int
    channel: str
    reference: str | None
    sent_on: dt.date
    by: str
    purpose: str
    voided: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "reference": self.reference,
            "sent_on": self.sent_on.isoformat(),
            "by": self.by,
            "purpose": self.purpose,
            "voided": self.voided,
        }


@dataclass(frozen=True, slots=True)
class AnswerView:
    """A decision of the payer."""

    decision: str
    decided_on: dt.date
    reference: str | None
    reason: str | None
    info_requested: str | None
    respond_by: dt.date | None
    authorization_number: str | None
    voided: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "decided_on": self.decided_on.isoformat(),
            "reference": self.reference,
            "reason": self.reason,
            "info_requested": self.info_requested,
            "respond_by": _iso(self.respond_by),
            "authorization_number": self.authorization_number,
            "voided": self.voided,
        }


@dataclass(frozen=True, slots=True)
class SendTaskView:
    """The open send task: what a person must send, where, and how many pages."""

    channel: str
    destination: str | None
    documents: tuple[str, ...]
    pages: int
    opened_on: dt.date
    failed_attempts: tuple[dict[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "destination": self.destination,
            "documents": list(self.documents),
            "pages": self.pages,
            "opened_on": self.opened_on.isoformat(),
            "failed_attempts": [dict(f) for f in self.failed_attempts],
        }


@dataclass(frozen=True, slots=True)
class DocumentView:
    """A stored document's metadata (the file is read from the document store)."""

    id: int
    kind: str
    control_number: str
    dated: dt.date | None
    pages: int | None
    sha256: str
    title: str | None
    size: int
    key: str | None
    path: str | None
    withdrawn: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "control_number": self.control_number,
            "dated": _iso(self.dated),
            "pages": self.pages,
            "sha256": self.sha256,
            "title": self.title,
            "size": self.size,
            "key": self.key,
            "withdrawn": self.withdrawn,
        }


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session of the course and the authorization it is charged to."""

    id: int
    request_id: int | None
    date: dt.date
    dose_mg: int | None
    units: int
    code: str | None
    authorization_number: str | None
    voided: bool
    void_reason: str | None
    #: Whether the course needs an authorization at all (not self-pay, not "no PA required").
    needs_authorization: bool = True
    #: Other sessions of the course on the same day (a second one is usually a typing mistake).
    same_day: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_id": self.request_id,
            "date": self.date.isoformat(),
            "dose_mg": self.dose_mg,
            "units": self.units,
            "code": self.code,
            "authorization_number": self.authorization_number,
            "voided": self.voided,
            "void_reason": self.void_reason,
            "needs_authorization": self.needs_authorization,
            "same_day": self.same_day,
        }

    def charge(self) -> str:
        """How the session is charged, in words."""
        if self.voided:
            return f"voided: {self.void_reason}"
        if self.authorization_number:
            return f"charged to {self.authorization_number}"
        return "no authorization covers it" if self.needs_authorization else "no authorization needed"


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request and where it stands on a day (``status`` derived: expiring or expired)."""

    request_id: int
    course_id: int
    case_id: str
    kind: str
    previous_request_id: int | None
    later_request_ids: tuple[int, ...]
    patient_id: str
    status: str
    stored_status: str
    version: int
    urgency: str
    expedited_reason: str | None
    treatment: str
    indication: str
    payer_name: str | None
    payer_id: int | None
    case_version: int
    case_versions: tuple[int, ...]
    created_at: dt.datetime
    status_changed_at: dt.datetime
    due_at: dt.datetime | None
    overdue: bool
    signoff: str | None
    send_task: SendTaskView | None
    authorization: AuthorizationView | None
    appeal_deadline: dt.date | None
    outcome: str | None
    as_of: dt.date

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "course_id": self.course_id,
            "case_id": self.case_id,
            "kind": self.kind,
            "previous_request_id": self.previous_request_id,
            "later_request_ids": list(self.later_request_ids),
            "patient_id": self.patient_id,
            "status": self.status,
            "stored_status": self.stored_status,
            "version": self.version,
            "urgency": self.urgency,
            "expedited_reason": self.expedited_reason,
            "treatment": self.treatment,
            "indication": self.indication,
            "payer_name": self.payer_name,
            "case_version": self.case_version,
            "case_versions": list(self.case_versions),
            "created_at": self.created_at.isoformat(),
            "status_changed_at": self.status_changed_at.isoformat(),
            "due_at": _iso(self.due_at),
            "overdue": self.overdue,
            "signoff": self.signoff,
            "send_task": self.send_task.to_dict() if self.send_task else None,
            "authorization": self.authorization.to_dict() if self.authorization else None,
            "appeal_deadline": _iso(self.appeal_deadline),
            "outcome": self.outcome,
            "as_of": self.as_of.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A request as a list shows it (``requests list``), read without loading its course."""

    request_id: int
    course_id: int
    case_id: str
    kind: str
    patient_id: str
    status: str
    stored_status: str
    urgency: str
    payer_name: str | None
    due_at: dt.datetime | None
    overdue: bool
    authorization: AuthorizationView | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "course_id": self.course_id,
            "case_id": self.case_id,
            "kind": self.kind,
            "patient_id": self.patient_id,
            "status": self.status,
            "stored_status": self.stored_status,
            "urgency": self.urgency,
            "payer_name": self.payer_name,
            "due_at": _iso(self.due_at),
            "overdue": self.overdue,
            "authorization": self.authorization.to_dict() if self.authorization else None,
        }


@dataclass(frozen=True, slots=True)
class RequestDetail:
    """A request with its determination, sendings, answers, authorizations, documents, sessions, history."""

    request: RequestView
    determination: Determination | None
    submissions: tuple[SubmissionView, ...]
    answers: tuple[AnswerView, ...]
    authorizations: tuple[AuthorizationView, ...]
    documents: tuple[DocumentView, ...]
    sessions: tuple[SessionView, ...]
    events: tuple[EventView, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.request.to_dict(),
            "determination": self.determination.to_dict() if self.determination else None,
            "submissions": [s.to_dict() for s in self.submissions],
            "answers": [a.to_dict() for a in self.answers],
            "authorizations": [a.to_dict() for a in self.authorizations],
            "documents": [d.to_dict() for d in self.documents],
            "sessions": [s.to_dict() for s in self.sessions],
            "events": [e.to_dict() for e in self.events],
        }


@dataclass(frozen=True, slots=True)
class WorkItem:
    """Something about a request that needs a person, and by when."""

    kind: str
    request_id: int
    due: dt.date
    detail: str
    case_id: str
    status: str
    urgency: str
    payer_name: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "request_id": self.request_id,
            "due": self.due.isoformat(),
            "detail": self.detail,
            "case_id": self.case_id,
            "status": self.status,
            "urgency": self.urgency,
            "payer_name": self.payer_name,
        }


# --- reading a course ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Names:
    """What a view adds from outside the course: the patient's clinic id and the payer's name."""

    patient_id: str
    payer_name: str | None


def authorization_view(course: m.Course, auth: m.Authorization, as_of: dt.date) -> AuthorizationView:
    used = auth.units_adjustment + course.units_charged(auth)
    left = auth.units_authorized - used
    return AuthorizationView(
        number=auth.number,
        valid_from=auth.valid_from,
        valid_to=auth.valid_to,
        code=auth.code,
        units=auth.units_authorized,
        units_used=used,
        units_left=left,
        runs_out_on=clk.runs_out_on(
            units_left=left, recent_units=course.recent_units(auth, as_of), as_of=as_of, valid_to=auth.valid_to
        )
        if auth.live
        else None,
        partial=auth.partial,
        voided=auth.voided,
        superseded=auth.superseded,
    )


def _send_task(task: m.SendTask | None) -> SendTaskView | None:
    if task is None:
        return None
    return SendTaskView(
        channel=task.channel,
        destination=task.destination,
        documents=tuple(task.documents),
        pages=task.pages,
        opened_on=task.opened_on,
        failed_attempts=tuple({"at": f.at.isoformat(), "by": f.by, "reason": f.reason} for f in task.failures),
    )


def request_view(
    request: m.Request, names: Names, *, as_of: dt.date, now: dt.datetime, clocks: clk.ClockSettings
) -> RequestView:
    """Where a request stands on ``as_of``."""
    course = request.course
    assert course is not None
    assert request.id is not None
    assert course.id is not None
    current = request.current_authorization
    in_force = current if current is not None and current.covers(as_of) else None
    signoff = request.signoff if request.status in ("ready", "pended", "appeal_drafted", "draft") else None
    if signoff is not None and signoff.status == "withdrawn":
        signoff = None
    evaluation = request.evaluation
    return RequestView(
        request_id=request.id,
        course_id=course.id,
        case_id=request.case_id,
        kind=request.kind,
        previous_request_id=request.previous_request_id,
        later_request_ids=tuple(r.id for r in course.later_requests(request) if r.id is not None),
        patient_id=names.patient_id,
        status=request.read_status(as_of, clocks),
        stored_status=request.status,
        version=request.version,
        urgency=request.urgency,
        expedited_reason=request.expedited_reason,
        treatment=request.treatment,
        indication=request.indication,
        payer_name=names.payer_name,
        payer_id=request.payer_id,
        case_version=request.current_version.version,
        case_versions=tuple(v.version for v in request.live_versions),
        created_at=request.created_at,
        status_changed_at=request.status_changed_at,
        due_at=request.due_at,
        overdue=request.status in WITH_PAYER and request.due_at is not None and now > request.due_at,
        signoff=signoff.status if signoff is not None else None,
        send_task=_send_task(request.open_task),
        authorization=authorization_view(course, in_force, as_of) if in_force is not None else None,
        appeal_deadline=request.appeal_deadline(clocks.appeal_window_days),
        outcome=evaluation.outcome if evaluation is not None else None,
        as_of=as_of,
    )


def request_row(facts: RequestFacts, *, as_of: dt.date, now: dt.datetime, clocks: clk.ClockSettings) -> RequestRow:
    """A listed request, its status read as of ``as_of`` like :meth:`~coverage.requests.model.Request.read_status`."""
    status = facts.status
    authorization = None
    if facts.auth_number is not None:
        assert facts.auth_valid_from is not None
        assert facts.auth_valid_to is not None
        assert facts.auth_units is not None
        if status in APPROVING:
            alert = clk.authorization_alert(
                valid_to=facts.auth_valid_to,
                units=facts.auth_units,
                units_used=facts.auth_used,
                as_of=as_of,
                clocks=clocks,
            )
            status = alert or status
        authorization = AuthorizationView(
            number=facts.auth_number,
            valid_from=facts.auth_valid_from,
            valid_to=facts.auth_valid_to,
            code=facts.auth_code or "",
            units=facts.auth_units,
            units_used=facts.auth_used,
            units_left=facts.auth_units - facts.auth_used,
            runs_out_on=None,
            partial=False,
            voided=False,
            superseded=False,
        )
    return RequestRow(
        request_id=facts.request_id,
        course_id=facts.course_id,
        case_id=facts.case_id,
        kind=facts.kind,
        patient_id=facts.patient_id,
        status=status,
        stored_status=facts.status,
        urgency=facts.urgency,
        payer_name=facts.payer_name,
        due_at=facts.due_at,
        overdue=facts.status in WITH_PAYER and facts.due_at is not None and now > facts.due_at,
        authorization=authorization,
    )


def request_detail(
    request: m.Request, names: Names, *, as_of: dt.date, now: dt.datetime, clocks: clk.ClockSettings
) -> RequestDetail:
    """Everything about a request, for ``requests show``."""
    course = request.course
    assert course is not None
    evaluation = request.evaluation
    return RequestDetail(
        request=request_view(request, names, as_of=as_of, now=now, clocks=clocks),
        determination=Determination.from_dict(evaluation.result) if evaluation is not None else None,
        submissions=tuple(
            SubmissionView(
                id=s.id or 0,
                channel=s.channel,
                reference=s.reference,
                sent_on=s.sent_on,
                by=s.by,
                purpose=s.purpose,
                voided=s.voided,
            )
            for s in request.submissions
        ),
        answers=tuple(
            AnswerView(
                decision=a.decision,
                decided_on=a.decided_on,
                reference=a.reference,
                reason=a.reason,
                info_requested=a.info_requested,
                respond_by=a.respond_by,
                authorization_number=a.authorization_number,
                voided=a.voided,
            )
            for a in request.answers
        ),
        authorizations=tuple(authorization_view(course, a, as_of) for a in request.authorizations),
        documents=tuple(document_view(d) for d in request.documents),
        sessions=tuple(session_view(s, course) for s in course.sessions),
        events=tuple(
            EventView(
                action=e.action,
                from_status=e.from_status,
                to_status=e.to_status,
                at=e.at,
                by=e.by,
                reason=e.reason,
                payer_reference=e.payer_reference,
            )
            for e in request.events
        ),
    )


def document_view(document: m.Document) -> DocumentView:
    return DocumentView(
        id=document.id or 0,
        kind=document.kind,
        control_number=document.control_number,
        dated=document.dated,
        pages=document.pages,
        sha256=document.sha256,
        title=document.title,
        size=document.size,
        key=document.key,
        path=document.path,
        withdrawn=document.withdrawn,
    )


def session_view(session: m.Session, course: m.Course | None = None) -> SessionView:
    auth = session.authorization
    others = [s for s in course.live_sessions if s is not session and s.date == session.date] if course else []
    return SessionView(
        needs_authorization=course.needs_authorization if course is not None else True,
        same_day=len(others),
        id=session.id or 0,
        request_id=session.request_id,
        date=session.date,
        dose_mg=session.dose_mg,
        units=session.units,
        code=session.code,
        authorization_number=auth.number if auth is not None else None,
        voided=session.voided,
        void_reason=session.void_reason,
    )
