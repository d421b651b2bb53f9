"""Sessions (rule 10): a treatment given, charged to the course's authorization in force on its date."""

from __future__ import annotations

import datetime as dt

from coverage.errors import InvalidInput, NotFound
from coverage.fields import clean_text
from coverage.policies.billing import unit_kind
from coverage.requests import model as m
from coverage.requests.clocks import clinic_today
from coverage.requests.views import SessionView, session_view
from coverage.services import requests as services
from coverage.services.context import Context, actor
from coverage.store.uow import UnitOfWork

#: Esketamine doses a session can have (mg); the case format's.
DOSES = (28, 56, 84)


def _units(request: m.Request, dose_mg: int | None) -> tuple[str | None, int]:
    """The code and units of one session: the dose for a code counted in mg (J0013), else per session (rule 9)."""
    code, per_session = services.units_per_session(request)
    if code is not None and unit_kind(code) == "mg" and dose_mg is not None:
        return code, dose_mg
    if code in ("G2082", "G2083") and dose_mg is not None:
        return ("G2082" if dose_mg <= 56 else "G2083"), per_session  # Medicare: by the dose given
    return code, per_session


def _check_day(uow: UnitOfWork, request: m.Request, day: dt.date, timezone: str) -> None:
    """A session is given after the patient was born and not before the patient's first intake."""
    patient = uow.patients.get(request.patient_id)
    born = patient.birth_date if patient is not None else None
    if born is not None and day < born:
        raise InvalidInput([f"--date: {day.isoformat()} is before the patient's birth date"])
    if patient is not None and patient.created_at is not None:
        at = patient.created_at if patient.created_at.tzinfo is not None else patient.created_at.replace(tzinfo=dt.UTC)
        opened = clinic_today(timezone, now=at)
        if day < opened:
            raise InvalidInput(
                [f"--date: {day.isoformat()} is before the patient's first intake ({opened.isoformat()})"]
            )


def add(
    request_id: int,
    *,
    day: dt.date,
    uow: UnitOfWork,
    ctx: Context,
    by: str,
    dose_mg: int | None = None,
) -> SessionView:
    """A session of the request's course on ``day`` (not in the future); dose defaults to the case's."""
    by, when = actor(by), ctx.when()
    with uow:
        course, request = services.load(uow, request_id)
        _check_day(uow, request, day, ctx.timezone)
        case_dose = request.current_version.document.get("request", {}).get("dose_mg")
        if request.treatment == "esketamine":
            dose = case_dose if dose_mg is None else dose_mg
            if dose not in DOSES:
                raise InvalidInput([f"--dose-mg: {dose} is not one of {', '.join(map(str, DOSES))}"])
        elif dose_mg is not None:
            raise InvalidInput(["--dose-mg: an IV ketamine session has no esketamine dose"])
        else:
            dose = None
        code, units = _units(request, dose)
        session = course.add_session(request, day=day, dose_mg=dose, units=units, code=code, when=when, by=by)
        uow.flush()
        view = session_view(session, course)
        uow.commit()
    return view


def void(session_id: int, reason: str, *, uow: UnitOfWork, ctx: Context, by: str) -> SessionView:
    """Correct a session recorded by mistake: it stays on record, voided, charged to nothing."""
    by, when = actor(by), ctx.when()
    reason = clean_text("--reason", reason)
    with uow:
        course = uow.courses.by_session(session_id)
        if course is None:
            raise NotFound(f"session {session_id}: no such session")
        session = next(s for s in course.sessions if s.id == session_id)
        course.void_session(session, reason, when, by)
        view = session_view(session, course)
        uow.commit()
    return view


def list_sessions(request_id: int, *, uow: UnitOfWork) -> list[SessionView]:
    """Every session of the request's course, voided ones too, in the order recorded."""
    with uow:
        course, _ = services.load(uow, request_id)
        return [session_view(s, course) for s in course.sessions]
