"""The lifecycle's clocks, as pure functions: answer due dates, expiry, units, appeal deadlines."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from coverage.errors import ConfigurationError
from coverage.requests.lifecycle import AUTHORIZED, STATUSES, Status, Urgency

if TYPE_CHECKING:
    from coverage.settings import Settings

#: An internal appeal is decided within 30 days pre-service, 72 hours when urgent (ACA § 2719,
#: 29 CFR 2560.503-1); used as the due date of an appeal decision.
APPEAL_DECISION_DAYS = 30
APPEAL_DECISION_URGENT_HOURS = 72
#: External review must be asked for within 4 months of the final internal denial (ACA § 2719).
EXTERNAL_REVIEW_MONTHS = 4


@dataclass(frozen=True, slots=True)
class ClockSettings:
    """The clock parameters, from :class:`~coverage.settings.Settings`."""

    turnaround_days: int = 14
    urgent_turnaround_hours: int = 72
    expiry_warning_days: int = 30
    units_warning_ratio: float = 0.8
    appeal_window_days: int = 180

    @classmethod
    def from_settings(cls, settings: Settings) -> ClockSettings:
        return cls(
            turnaround_days=settings.default_turnaround_days,
            urgent_turnaround_hours=settings.default_urgent_turnaround_hours,
            expiry_warning_days=settings.expiry_warning_days,
            units_warning_ratio=settings.units_warning_ratio,
            appeal_window_days=settings.appeal_window_days,
        )


def _now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def clinic_today(timezone: str | None = None) -> dt.date:
    """Today in the clinic's time zone (``timezone``, default the settings' ``PRIORAUTH_TIMEZONE``)."""
    if timezone is None:
        from coverage.settings import load_settings

        timezone = load_settings().timezone
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"PRIORAUTH_TIMEZONE: {timezone!r} is not an IANA time zone name") from None
    return _now_utc().astimezone(zone).date()


def answer_due(
    sent_at: dt.datetime, *, urgency: Urgency, turnaround_days: int, urgent_turnaround_hours: int
) -> dt.datetime:
    """When the payer's answer is due: its turnaround after the request (or the information) went out."""
    if urgency == "expedited":
        return sent_at + dt.timedelta(hours=urgent_turnaround_hours)
    return sent_at + dt.timedelta(days=turnaround_days)


def appeal_decision_due(sent_at: dt.datetime, *, urgency: Urgency) -> dt.datetime:
    """When the payer's appeal decision is due."""
    if urgency == "expedited":
        return sent_at + dt.timedelta(hours=APPEAL_DECISION_URGENT_HOURS)
    return sent_at + dt.timedelta(days=APPEAL_DECISION_DAYS)


def is_overdue(due_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether an answer due at ``due_at`` is late at ``now``."""
    return due_at is not None and now > due_at


def appeal_deadline(denied_on: dt.date, *, window_days: int) -> dt.date:
    """The last day to file an internal appeal (default 180 days from the denial, ACA)."""
    return denied_on + dt.timedelta(days=window_days)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's end."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def external_review_deadline(final_denial_on: dt.date) -> dt.date:
    """The last day to ask for external review after the final internal denial."""
    return add_months(final_denial_on, EXTERNAL_REVIEW_MONTHS)


AuthorizationAlert = Literal["expiring", "expired"]


def authorization_alert(
    *,
    valid_to: dt.date,
    units_authorized: int,
    units_used: int,
    as_of: dt.date,
    warning_days: int,
    units_warning_ratio: float,
) -> AuthorizationAlert | None:
    """``expired`` after ``valid_to``; ``expiring`` within ``warning_days`` of it or once the
    units used reach ``units_warning_ratio`` of those authorized; otherwise nothing."""
    if as_of > valid_to:
        return "expired"
    if (valid_to - as_of).days <= warning_days:
        return "expiring"
    if units_authorized > 0 and units_used >= units_warning_ratio * units_authorized:
        return "expiring"
    return None


def effective_status(
    stored: Status,
    *,
    valid_to: dt.date | None,
    units_authorized: int,
    units_used: int,
    as_of: dt.date,
    clocks: ClockSettings,
) -> Status:
    """The status as of a day: an authorized request is ``expiring`` or ``expired`` when its clock says so."""
    if stored not in AUTHORIZED or valid_to is None:
        return stored
    alert = authorization_alert(
        valid_to=valid_to,
        units_authorized=units_authorized,
        units_used=units_used,
        as_of=as_of,
        warning_days=clocks.expiry_warning_days,
        units_warning_ratio=clocks.units_warning_ratio,
    )
    return alert or stored


def stored_status_names(statuses: frozenset[str]) -> tuple[Status, ...]:
    """The stored statuses that can *read* as one of ``statuses`` (for filters)."""
    wanted = set(statuses)
    if wanted & {"expiring", "expired"}:
        wanted |= AUTHORIZED
    return tuple(s for s in STATUSES if s in wanted)
