"""Request services: intake, submit, record the payer's answer, transition, use units, worklist.

Each changing service opens the unit of work it is given, writes the change together with its
status event, and commits once; a concurrent change makes it raise
:class:`~coverage.errors.StaleVersion` and write nothing. Automated callers pass an
``idempotency_key`` so that a retried call is a no-op. Log lines and errors carry ids only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from coverage.cases import Case
from coverage.determinations import Determination
from coverage.errors import IllegalTransition, InvalidInput, NotFound, StaleVersion
from coverage.policies.service import Checker
from coverage.requests import clocks as clk
from coverage.requests.answers import Answer, Approval, Denial, Pending
from coverage.requests.lifecycle import (
    AUTHORIZED,
    AWAITING_PAYER,
    CHANNELS,
    REOPENABLE,
    Status,
    Urgency,
    answer_target,
    can_transition,
    check_transition,
    initial_status,
    parse_status,
)
from coverage.requests.views import (
    AuthorizationView,
    DocumentView,
    EventView,
    IntakeResult,
    RequestDetail,
    RequestView,
    SubmissionView,
    WorkItem,
)
from coverage.store import tables as t
from coverage.store.repositories import payer_name_key
from coverage.store.uow import UnitOfWork

log = logging.getLogger(__name__)

DEFAULT_CLOCKS = clk.ClockSettings()


def _now(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return t.utcnow()
    if at.tzinfo is None:
        raise InvalidInput(["at: must be timezone-aware"])
    return at.astimezone(dt.UTC)


def _by(by: str) -> str:
    name = by.strip()
    if not name:
        raise InvalidInput(["by: required (who made the change)"])
    return name[:120]


def _status(row: t.PARequest) -> Status:
    return parse_status(row.status)


def _load(uow: UnitOfWork, request_id: int) -> t.PARequest:
    row = uow.requests.get(request_id)
    if row is None:
        raise NotFound(f"request {request_id}: no such request")
    return row


def _event(
    row: t.PARequest,
    *,
    from_status: Status | None,
    to_status: Status,
    at: dt.datetime,
    by: str,
    reason: str | None = None,
    payer_reference: str | None = None,
    idempotency_key: str | None = None,
) -> t.StatusEvent:
    return t.StatusEvent(
        request_id=row.id,
        from_status=from_status,
        to_status=to_status,
        at=at,
        by=by,
        reason=reason,
        payer_reference=payer_reference,
        idempotency_key=idempotency_key,
    )


def _turnaround(uow: UnitOfWork, row: t.PARequest, clocks: clk.ClockSettings) -> tuple[int, int]:
    payer = uow.payers.get(row.payer_id) if row.payer_id is not None else None
    if payer is None:
        return clocks.turnaround_days, clocks.urgent_turnaround_hours
    return payer.turnaround_days, payer.urgent_turnaround_hours


def _urgency(row: t.PARequest) -> Urgency:
    return "expedited" if row.urgency == "expedited" else "standard"


def _move(
    uow: UnitOfWork,
    row: t.PARequest,
    target: Status,
    *,
    at: dt.datetime,
    by: str,
    clocks: clk.ClockSettings,
    reason: str | None = None,
    payer_reference: str | None = None,
    idempotency_key: str | None = None,
) -> None:
    """Apply a legal move: the status, the clocks it starts or stops, and its event (same transaction)."""
    current = _status(row)
    if target in ("submitted", "appeal_submitted"):
        if target == "submitted":
            days, hours = _turnaround(uow, row, clocks)
            row.due_at = clk.answer_due(at, urgency=_urgency(row), turnaround_days=days, urgent_turnaround_hours=hours)
        else:
            row.due_at = clk.appeal_decision_due(at, urgency=_urgency(row))
        row.info_requested = None
    elif target != "pended":
        row.due_at = None
    if target == "denied":
        row.denied_on = at.date()
        row.appeal_deadline = clk.appeal_deadline(at.date(), window_days=clocks.appeal_window_days)
        row.denial_reason = reason
    elif target == "appeal_denied":
        row.denied_on = at.date()
        row.appeal_deadline = clk.external_review_deadline(at.date())
        row.denial_reason = reason or row.denial_reason
    if payer_reference:
        row.payer_reference = payer_reference
    row.status = target
    row.status_changed_at = at
    row.updated_at = at
    uow.requests.add_child(
        _event(
            row,
            from_status=current,
            to_status=target,
            at=at,
            by=by,
            reason=reason,
            payer_reference=payer_reference,
            idempotency_key=idempotency_key,
        )
    )
    log.info("request %s: %s -> %s", row.id, current, target)


# --- intake -----------------------------------------------------------------------------------


def intake(
    case_text: bytes | str,
    *,
    uow: UnitOfWork,
    checker: Checker,
    by: str,
    expedited: bool = False,
    at: dt.datetime | None = None,
) -> IntakeResult:
    """Validate, store and evaluate a case: a new case version, and a new or re-opened request.

    A new intake of a case whose newest request is still ``draft`` or ``ready`` re-evaluates
    that request (for instance draft to ready once documentation arrived); otherwise a new
    request is opened. Nothing is written unless everything is.
    """
    by = _by(by)
    now = _now(at)
    case = checker.parse(case_text)  # raises InvalidCase before anything is opened
    determination = checker.determine(case)
    raw = case_text.encode("utf-8") if isinstance(case_text, str) else case_text
    document: dict[str, Any] = json.loads(raw)
    target = initial_status(determination.outcome)
    with uow:
        _check_case_owner(uow, case)
        patient, coverage = _store_patient_and_coverage(uow, case, now)

        version = uow.cases.latest_version(case.case_id) + 1
        record = uow.cases.add(
            t.CaseRecord(
                case_id=case.case_id,
                version=version,
                patient_id=patient.id,
                document=document,
                sha256="sha256:" + hashlib.sha256(raw).hexdigest(),
                received_at=now,
                received_by=by,
            )
        )
        uow.flush()

        row = uow.requests.latest_for_case(case.case_id, REOPENABLE)
        new_request = row is None
        if row is None:
            row = uow.requests.add(
                t.PARequest(
                    case_id=case.case_id,
                    case_record_id=record.id,
                    patient_id=patient.id,
                    coverage_id=coverage.id,
                    payer_id=coverage.payer_id,
                    status=target,
                    urgency="expedited" if expedited else "standard",
                    treatment=case.request.treatment,
                    indication=case.request.indication,
                    kind=case.request.kind,
                    created_at=now,
                    updated_at=now,
                    status_changed_at=now,
                )
            )
            uow.flush()
            uow.requests.add_child(
                _event(row, from_status=None, to_status=target, at=now, by=by, reason=_intake_reason(determination))
            )
        else:
            current = _status(row)
            row.case_record_id = record.id
            row.coverage_id = coverage.id
            row.payer_id = coverage.payer_id
            row.treatment, row.indication, row.kind = (
                case.request.treatment,
                case.request.indication,
                case.request.kind,
            )
            if expedited:
                row.urgency = "expedited"
            reason = f"case version {version}: {_intake_reason(determination)}"
            if target == current:
                row.updated_at = now
                uow.requests.add_child(
                    _event(row, from_status=current, to_status=current, at=now, by=by, reason=reason)
                )
            else:
                check_transition(row.id, current, target)
                _move(uow, row, target, at=now, by=by, clocks=DEFAULT_CLOCKS, reason=reason)
        uow.requests.add_child(
            t.Determination(
                request_id=row.id,
                case_record_id=record.id,
                policy_id=determination.policy_id,
                policy_version=determination.policy_version,
                policy_hash=determination.policy_hash,
                outcome=determination.outcome,
                next_step=determination.next_step,
                result=determination.to_dict(),
                created_at=now,
            )
        )
        uow.flush()
        request_id = row.id
        uow.commit()
    log.info("intake: case version %s stored, request %s is %s", version, request_id, target)
    return IntakeResult(
        request_id=request_id,
        status=target,
        determination=determination,
        case_version=version,
        new_request=new_request,
    )


def _check_case_owner(uow: UnitOfWork, case: Case) -> None:
    """Refuse a new version of a case stored for another patient (its letters would go out under the wrong name)."""
    owner = uow.cases.patient_id_of(case.case_id)
    if owner is None:
        return
    patient = uow.patients.by_external_id(case.patient.id)
    if patient is None or patient.id != owner:
        raise InvalidInput([f"case_id: {case.case_id} is already the case of another patient"])


def _store_patient_and_coverage(uow: UnitOfWork, case: Case, now: dt.datetime) -> tuple[t.Patient, t.Coverage]:
    """The case's patient (created or updated) and coverage (reused when identical), linked to the payer directory."""
    patient = uow.patients.by_external_id(case.patient.id)
    if patient is None:
        patient = uow.patients.add(t.Patient(external_id=case.patient.id, created_at=now))
    patient.given_name = case.patient.given_name
    patient.family_name = case.patient.family_name
    patient.birth_date = case.patient.birth_date
    patient.updated_at = now
    uow.flush()

    cov = case.coverage
    payer = uow.payers.by_name(cov.payer_name) if cov.payer_name else None
    coverage = uow.patients.find_coverage(
        patient.id,
        plan_type=cov.plan_type,
        policy_id=cov.policy_id,
        payer_name=cov.payer_name,
        member_id=cov.member_id,
        group_number=cov.group_number,
    )
    if coverage is None:
        coverage = uow.patients.add_coverage(
            t.Coverage(
                patient_id=patient.id,
                plan_type=cov.plan_type,
                policy_id=cov.policy_id,
                payer_name=cov.payer_name,
                member_id=cov.member_id,
                group_number=cov.group_number,
                created_at=now,
            )
        )
    coverage.payer_id = payer.id if payer is not None else None
    return patient, coverage


def _intake_reason(determination: Determination) -> str:
    return f"intake: {determination.outcome}, next step {determination.next_step}"


# --- submissions and answers ------------------------------------------------------------------

#: Where a submission takes a request: the first request, the information asked for, an appeal.
_SUBMIT_TARGET: dict[str, Status] = {"ready": "submitted", "pended": "submitted", "appeal_drafted": "appeal_submitted"}


def _submission_view(row: t.Submission) -> SubmissionView:
    return SubmissionView(
        id=row.id,
        request_id=row.request_id,
        channel=row.channel,
        reference=row.reference,
        submitted_at=row.submitted_at,
        by=row.by,
        idempotency_key=row.idempotency_key,
    )


def submit(
    request_id: int,
    *,
    uow: UnitOfWork,
    channel: str,
    by: str,
    reference: str | None = None,
    idempotency_key: str | None = None,
    at: dt.datetime | None = None,
    clocks: clk.ClockSettings = DEFAULT_CLOCKS,
) -> SubmissionView:
    """Record that the request went to the payer (ready or pended to submitted; appeal_drafted to
    appeal_submitted) and start the answer clock.

    With an ``idempotency_key`` already used, the earlier submission is returned and nothing is
    written: a request is never submitted twice for one key.
    """
    by = _by(by)
    now = _now(at)
    if channel not in CHANNELS:
        raise InvalidInput([f"channel: {channel!r} is not one of {', '.join(CHANNELS)}"])
    with uow:
        if idempotency_key is not None:
            existing = uow.requests.submission_by_key(idempotency_key)
            if existing is not None:
                if existing.request_id != request_id:
                    raise InvalidInput([f"idempotency_key: already used for request {existing.request_id}"])
                return _submission_view(existing)
        row = _load(uow, request_id)
        current = _status(row)
        target = _SUBMIT_TARGET.get(current)
        if target is None:
            check_transition(request_id, current, "submitted")  # raises, naming what is allowed
            raise AssertionError  # pragma: no cover - check_transition raised
        submission = t.Submission(
            request_id=row.id,
            channel=channel,
            reference=reference,
            submitted_at=now,
            by=by,
            idempotency_key=idempotency_key,
        )
        uow.requests.add_child(submission)
        what = "appeal" if target == "appeal_submitted" else ("information" if current == "pended" else "request")
        _move(
            uow,
            row,
            target,
            at=now,
            by=by,
            clocks=clocks,
            reason=f"{what} sent by {channel}",
            payer_reference=reference,
        )
        uow.flush()
        view = _submission_view(submission)
        uow.commit()
    return view


def record_answer(
    request_id: int,
    *,
    uow: UnitOfWork,
    answer: Answer,
    by: str,
    idempotency_key: str | None = None,
    at: dt.datetime | None = None,
    clocks: clk.ClockSettings = DEFAULT_CLOCKS,
) -> RequestView:
    """Record the payer's answer: approval (with the authorization), denial, or pended.

    An approval of an already authorized (or expired) request is its renewal; answers to an
    appeal land on appeal_approved/appeal_denied (an approval with its authorization). The
    authorization of an appeal already recorded as approved (``transition appeal_approved``)
    is attached without a status change: it is the first authorization, not a renewal. With an
    ``idempotency_key`` already applied, nothing is written and the request is returned as it
    stands.
    """
    by = _by(by)
    now = _now(at)
    with uow:
        if idempotency_key is not None:
            applied = uow.requests.event_by_key(idempotency_key)
            if applied is not None:
                if applied.request_id != request_id:
                    raise InvalidInput([f"idempotency_key: already used for request {applied.request_id}"])
                return _view(uow, _load(uow, request_id), now.date(), clocks)
        row = _load(uow, request_id)
        current = _status(row)
        if isinstance(answer, Approval):
            kind: Any = "partially_approved" if answer.partial else "approved"
        elif isinstance(answer, Denial):
            kind = "denied"
        else:
            kind = "pended"
        if current == "appeal_approved" and kind != "pended" and not row.authorizations:
            # Won on appeal: the payer's authorization arrives after the decision. It is the
            # first authorization, not a renewal: attach it and stay appeal_approved.
            if kind == "denied":
                raise IllegalTransition(f"request {request_id}: the appeal was approved; record its authorization")
            target: Status = current
        else:
            target = answer_target(request_id, current, kind)
        reason: str
        if isinstance(answer, Approval):
            uow.requests.add_child(
                t.Authorization(
                    request_id=row.id,
                    number=answer.number.strip(),
                    valid_from=answer.valid_from,
                    valid_to=answer.valid_to,
                    units_authorized=answer.units_authorized,
                    units_used=0,
                    partial=answer.partial,
                    created_at=now,
                )
            )
            row.denial_reason = None
            reason = (
                f"authorization {answer.number.strip()}: {answer.valid_from.isoformat()} to "
                f"{answer.valid_to.isoformat()}, {answer.units_authorized} units"
                + (" (partial)" if answer.partial else "")
            )
        elif isinstance(answer, Denial):
            reason = answer.reason
        else:
            assert isinstance(answer, Pending)
            row.info_requested = answer.info_requested
            reason = f"information requested: {answer.info_requested}"
        if target == current:
            if answer.payer_reference:
                row.payer_reference = answer.payer_reference
            row.updated_at = now
            uow.requests.add_child(
                _event(
                    row,
                    from_status=current,
                    to_status=current,
                    at=now,
                    by=by,
                    reason=reason,
                    payer_reference=answer.payer_reference,
                    idempotency_key=idempotency_key,
                )
            )
        else:
            _move(
                uow,
                row,
                target,
                at=now,
                by=by,
                clocks=clocks,
                reason=reason,
                payer_reference=answer.payer_reference,
                idempotency_key=idempotency_key,
            )
        uow.flush()
        uow.session.refresh(row, ["authorizations"])
        view = _view(uow, row, now.date(), clocks)
        uow.commit()
    return view


# --- other moves ------------------------------------------------------------------------------


def transition(
    request_id: int,
    to_status: str,
    *,
    uow: UnitOfWork,
    by: str,
    reason: str | None = None,
    expected_version: int | None = None,
    payer_reference: str | None = None,
    idempotency_key: str | None = None,
    at: dt.datetime | None = None,
    clocks: clk.ClockSettings = DEFAULT_CLOCKS,
) -> RequestView:
    """Move a request to ``to_status`` if the state machine allows it (appeal steps, cancel, renewal...).

    ``expected_version`` refuses the move (:class:`StaleVersion`) when the request changed since
    the caller read it. A move that is legal only from the *derived* status (an approval whose
    authorization has ended, to ``payment_plan``) first records the derived status.
    """
    by = _by(by)
    now = _now(at)
    target = parse_status(to_status)
    with uow:
        if idempotency_key is not None:
            applied = uow.requests.event_by_key(idempotency_key)
            if applied is not None:
                if applied.request_id != request_id:
                    raise InvalidInput([f"idempotency_key: already used for request {applied.request_id}"])
                return _view(uow, _load(uow, request_id), now.date(), clocks)
        row = _load(uow, request_id)
        if expected_version is not None and row.version != expected_version:
            raise StaleVersion(
                f"request {request_id}: version {expected_version} is stale (now {row.version}); reload and retry"
            )
        _apply_transition(
            uow,
            row,
            target,
            at=now,
            by=by,
            clocks=clocks,
            reason=reason,
            payer_reference=payer_reference,
            idempotency_key=idempotency_key,
        )
        uow.flush()
        view = _view(uow, row, now.date(), clocks)
        uow.commit()
    return view


def _apply_transition(
    uow: UnitOfWork,
    row: t.PARequest,
    target: Status,
    *,
    at: dt.datetime,
    by: str,
    clocks: clk.ClockSettings,
    reason: str | None = None,
    payer_reference: str | None = None,
    idempotency_key: str | None = None,
) -> None:
    current = _status(row)
    derived = _effective(row, at.date(), clocks)
    if not can_transition(current, target) and derived != current and can_transition(derived, target):
        _move(uow, row, derived, at=at, by=by, clocks=clocks, reason=_derived_reason(row, derived))
        current = derived
    check_transition(row.id, current, target)
    _move(
        uow,
        row,
        target,
        at=at,
        by=by,
        clocks=clocks,
        reason=reason,
        payer_reference=payer_reference,
        idempotency_key=idempotency_key,
    )


def transition_within(
    request_id: int,
    to_status: str,
    *,
    uow: UnitOfWork,
    by: str,
    reason: str | None = None,
    at: dt.datetime | None = None,
    clocks: clk.ClockSettings = DEFAULT_CLOCKS,
) -> None:
    """:func:`transition` inside a unit of work the caller already opened and will commit.

    For services of other nouns whose own writes must land with the move or not at all (a
    payment plan and the request's move to ``payment_plan``).
    """
    _apply_transition(
        uow, _load(uow, request_id), parse_status(to_status), at=_now(at), by=_by(by), clocks=clocks, reason=reason
    )


def _derived_reason(row: t.PARequest, derived: Status) -> str:
    auth = _current_authorization(row)
    if auth is None:
        return derived
    if derived == "expired":
        return f"authorization {auth.number} ended {auth.valid_to.isoformat()}"
    return (
        f"authorization {auth.number} ends {auth.valid_to.isoformat()}, {auth.units_used}/{auth.units_authorized} units"
    )


def use_units(
    request_id: int,
    units: int,
    *,
    uow: UnitOfWork,
    by: str,
    at: dt.datetime | None = None,
    clocks: clk.ClockSettings = DEFAULT_CLOCKS,
) -> AuthorizationView:
    """Count units consumed by sessions against the current authorization (audited, version-checked)."""
    by = _by(by)
    now = _now(at)
    if units <= 0:
        raise InvalidInput(["units: must be a positive whole number"])
    with uow:
        row = _load(uow, request_id)
        current = _status(row)
        auth = _current_authorization(row)
        if auth is None or (current not in AUTHORIZED and current != "expired"):
            raise InvalidInput([f"request {request_id}: no authorization in force (status {current})"])
        if now.date() > auth.valid_to:
            raise InvalidInput([f"request {request_id}: authorization {auth.number} ended {auth.valid_to.isoformat()}"])
        if auth.units_used + units > auth.units_authorized:
            raise InvalidInput(
                [
                    f"units: {units} more would exceed the {auth.units_authorized} authorized "
                    f"({auth.units_used} used) on request {request_id}"
                ]
            )
        auth.units_used += units
        row.updated_at = now  # bumps the request's version: two clerks never both count the same units
        uow.requests.add_child(
            _event(
                row,
                from_status=current,
                to_status=current,
                at=now,
                by=by,
                reason=f"used {units} units ({auth.units_used} of {auth.units_authorized})",
            )
        )
        uow.flush()
        view = _authorization_view(auth)
        uow.commit()
    return view


def attach_document(
    request_id: int,
    *,
    uow: UnitOfWork,
    kind: str,
    content: bytes,
    sha256: str | None = None,
    control_number: str | None = None,
    path: str | None = None,
    at: dt.datetime | None = None,
) -> DocumentView:
    """Store a document for a request: its bytes (or, with ``path``, where the file is) and its hash."""
    now = _now(at)
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    if sha256 is not None and sha256.removeprefix("sha256:") != digest.removeprefix("sha256:"):
        raise InvalidInput(["sha256: does not match the content"])
    if not kind.strip():
        raise InvalidInput(["kind: required"])
    with uow:
        _load(uow, request_id)
        row = t.Document(
            request_id=request_id,
            kind=kind.strip(),
            sha256=digest,
            path=path,
            content=None if path is not None else content,
            size=len(content),
            control_number=control_number,
            created_at=now,
        )
        uow.requests.add_child(row)
        uow.flush()
        view = _document_view(row)
        uow.commit()
    return view


# --- reading ----------------------------------------------------------------------------------


def _current_authorization(row: t.PARequest) -> t.Authorization | None:
    return row.authorizations[-1] if row.authorizations else None


def _authorization_view(auth: t.Authorization) -> AuthorizationView:
    return AuthorizationView(
        number=auth.number,
        valid_from=auth.valid_from,
        valid_to=auth.valid_to,
        units_authorized=auth.units_authorized,
        units_used=auth.units_used,
        partial=auth.partial,
    )


def _document_view(row: t.Document) -> DocumentView:
    return DocumentView(
        id=row.id,
        request_id=row.request_id,
        kind=row.kind,
        sha256=row.sha256,
        size=row.size,
        path=row.path,
        control_number=row.control_number,
        created_at=row.created_at,
    )


def _effective(row: t.PARequest, as_of: dt.date, clocks: clk.ClockSettings) -> Status:
    auth = _current_authorization(row)
    return clk.effective_status(
        _status(row),
        valid_to=auth.valid_to if auth else None,
        units_authorized=auth.units_authorized if auth else 0,
        units_used=auth.units_used if auth else 0,
        as_of=as_of,
        clocks=clocks,
    )


def _payer_name(uow: UnitOfWork, row: t.PARequest) -> str | None:
    if row.payer_id is not None:
        payer = uow.payers.get(row.payer_id)
        if payer is not None:
            return payer.name
    coverage = uow.patients.coverage(row.coverage_id)
    return coverage.payer_name if coverage is not None else None


def _view(uow: UnitOfWork, row: t.PARequest, as_of: dt.date, clocks: clk.ClockSettings) -> RequestView:
    record = uow.cases.get(row.case_record_id)
    patient = uow.session.get(t.Patient, row.patient_id)
    auth = _current_authorization(row)
    end_of_day = dt.datetime.combine(as_of, dt.time.max, tzinfo=dt.UTC)
    return RequestView(
        request_id=row.id,
        case_id=row.case_id,
        case_version=record.version if record is not None else 0,
        patient_id=patient.external_id if patient is not None else "",
        status=_effective(row, as_of, clocks),
        stored_status=_status(row),
        version=row.version,
        urgency=row.urgency,
        treatment=row.treatment,
        indication=row.indication,
        kind=row.kind,
        payer_name=_payer_name(uow, row),
        payer_id=row.payer_id,
        created_at=row.created_at,
        status_changed_at=row.status_changed_at,
        due_at=row.due_at,
        overdue=row.status in AWAITING_PAYER and clk.is_overdue(row.due_at, end_of_day),
        info_requested=row.info_requested,
        denial_reason=row.denial_reason,
        denied_on=row.denied_on,
        appeal_deadline=row.appeal_deadline,
        authorization=_authorization_view(auth) if auth is not None else None,
        as_of=as_of,
    )


def _event_view(row: t.StatusEvent) -> EventView:
    return EventView(
        from_status=parse_status(row.from_status) if row.from_status is not None else None,
        to_status=parse_status(row.to_status),
        at=row.at,
        by=row.by,
        reason=row.reason,
        payer_reference=row.payer_reference,
    )


def _today() -> dt.date:
    """The default ``as_of``: today in the clinic's time zone, not UTC's."""
    return clk.clinic_today()


def get_request(
    request_id: int, *, uow: UnitOfWork, as_of: dt.date | None = None, clocks: clk.ClockSettings = DEFAULT_CLOCKS
) -> RequestDetail:
    """A request with its latest determination, documents, submissions and full history."""
    as_of = as_of or _today()
    with uow:
        row = _load(uow, request_id)
        determinations = uow.requests.determinations(request_id)
        return RequestDetail(
            request=_view(uow, row, as_of, clocks),
            determination=Determination.from_dict(determinations[-1].result) if determinations else None,
            events=tuple(_event_view(e) for e in uow.requests.events(request_id)),
            documents=tuple(_document_view(d) for d in uow.requests.documents(request_id)),
            submissions=tuple(_submission_view(s) for s in uow.requests.submissions(request_id)),
            authorizations=tuple(_authorization_view(a) for a in row.authorizations),
        )


def request_history(request_id: int, *, uow: UnitOfWork) -> list[EventView]:
    """The request's audit trail, oldest first."""
    with uow:
        _load(uow, request_id)
        return [_event_view(e) for e in uow.requests.events(request_id)]


def list_requests(
    *,
    uow: UnitOfWork,
    status: str | None = None,
    payer: str | None = None,
    as_of: dt.date | None = None,
    clocks: clk.ClockSettings = DEFAULT_CLOCKS,
) -> list[RequestView]:
    """Requests, oldest first; ``status`` matches the status as of ``as_of``; ``payer`` by name."""
    as_of = as_of or _today()
    wanted = parse_status(status) if status is not None else None
    stored = clk.stored_status_names(frozenset({wanted})) if wanted is not None else None
    with uow:
        views = [_view(uow, row, as_of, clocks) for row in uow.requests.list(statuses=stored)]
    if wanted is not None:
        views = [v for v in views if v.status == wanted]
    if payer is not None:
        key = payer_name_key(payer)
        views = [v for v in views if v.payer_name is not None and payer_name_key(v.payer_name) == key]
    return views


def get_case_document(request_id: int, *, uow: UnitOfWork) -> dict[str, Any]:
    """The case document (PHI) behind the request's latest intake; load it inside a task, never pass it."""
    with uow:
        row = _load(uow, request_id)
        record = uow.cases.get(row.case_record_id)
        assert record is not None  # a foreign key
        return dict(record.document)


# --- batches for flows ------------------------------------------------------------------------


def requests_due_for_check(
    now: dt.datetime,
    *,
    uow: UnitOfWork,
    limit: int = 100,
    min_interval: dt.timedelta = dt.timedelta(hours=4),
) -> list[int]:
    """Ids of requests awaiting the payer that no check looked at within ``min_interval``; soonest due first."""
    now = _now(now)
    with uow:
        rows = uow.requests.due_for_check(AWAITING_PAYER, checked_before=now - min_interval, limit=limit)
        return [row.id for row in rows]


def mark_checked(request_ids: Sequence[int], *, uow: UnitOfWork, at: dt.datetime | None = None) -> None:
    """Note that a status check looked at these requests (no status change, no version bump)."""
    with uow:
        uow.requests.mark_checked(request_ids, _now(at))
        uow.commit()


# --- worklist ---------------------------------------------------------------------------------

#: Tie-breaking rank of work kinds on the same due day (lower first).
WORK_RANK = {
    "overdue_answer": 0,
    "answer_due": 1,
    "information_requested": 1,
    "appeal_decision": 2,
    "external_review_decision": 2,
    "reauthorization_due": 3,
    "expiring": 3,
    "installment_overdue": 3,
    "ready_to_submit": 4,
}
_WORKLIST_STORED = frozenset({"ready", "pended", "denied", "appeal_denied", "expired", *AWAITING_PAYER, *AUTHORIZED})


def worklist(as_of: dt.date, *, uow: UnitOfWork, clocks: clk.ClockSettings = DEFAULT_CLOCKS) -> list[WorkItem]:
    """What needs a person on ``as_of``, most urgent first (earliest due, expedited first).

    Overdue or due answers, information requested, denials awaiting an appeal decision,
    final internal denials awaiting an external-review decision, expiring authorizations
    (days or units), re-authorizations due (authorization ended), requests ready to submit.
    """
    items: list[WorkItem] = []
    with uow:
        for row in uow.requests.list(statuses=_WORKLIST_STORED):
            view = _view(uow, row, as_of, clocks)
            item = _work_item(view)
            if item is not None:
                items.append(item)
    # Self-pay installments past due are work too; imported here because payments builds on requests.
    from coverage.payments.service import overdue_work_items

    items.extend(overdue_work_items(as_of, uow=uow))
    items.sort(key=lambda i: (i.due, i.urgency != "expedited", WORK_RANK[i.kind], i.request_id))
    return items


def _work_item(v: RequestView) -> WorkItem | None:
    def item(kind: str, due: dt.date, detail: str) -> WorkItem:
        return WorkItem(v.request_id, v.case_id, kind, due, v.status, v.urgency, v.payer_name, detail)

    auth = v.authorization
    if v.status == "pended":
        return item("information_requested", v.status_changed_at.date(), v.info_requested or "information requested")
    if v.status in ("submitted", "appeal_submitted") and v.due_at is not None and v.due_at.date() <= v.as_of:
        what = "appeal decision" if v.status == "appeal_submitted" else "payer answer"
        late = v.due_at.date() < v.as_of
        return item("overdue_answer" if late else "answer_due", v.due_at.date(), f"{what} due {v.due_at.date()}")
    if v.status == "denied" and v.appeal_deadline is not None:
        return item(
            "appeal_decision", v.appeal_deadline, f"appeal by {v.appeal_deadline}: {v.denial_reason or ''}".rstrip(": ")
        )
    if v.status == "appeal_denied" and v.appeal_deadline is not None:
        return item("external_review_decision", v.appeal_deadline, f"external review by {v.appeal_deadline}")
    if v.status == "expiring" and auth is not None:
        detail = f"authorization {auth.number} ends {auth.valid_to}, {auth.units_used}/{auth.units_authorized} units"
        return item("expiring", auth.valid_to, detail)
    if v.status == "expired" and auth is not None:
        return item("reauthorization_due", auth.valid_to, f"authorization {auth.number} ended {auth.valid_to}")
    if v.status == "ready":
        return item("ready_to_submit", v.status_changed_at.date(), "meets criteria: submit to the payer")
    return None
