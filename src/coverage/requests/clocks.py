"""The lifecycle's clocks, as pure functions: answers due, appeal deadlines, expiry, units' pace."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from coverage.errors import ConfigurationError

if TYPE_CHECKING:
    from coverage.settings import Settings

#: An internal appeal is decided within 30 days pre-service, 72 hours when urgent (ACA § 2719,
#: 29 CFR 2560.503-1); used as the due date of an appeal decision.
APPEAL_DECISION_DAYS = 30
#: External review must be asked for within 4 months of the final internal denial (ACA § 2719).
EXTERNAL_REVIEW_MONTHS = 4
#: The pace of a course is measured over its sessions of the last four weeks (lifecycle rule 10).
PACE_DAYS = 28


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


def clinic_zone(timezone: str) -> ZoneInfo:
    """The clinic's time zone, or one line naming ``PRIORAUTH_TIMEZONE``."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"PRIORAUTH_TIMEZONE: {timezone!r} is not an IANA time zone name") from None


def clinic_today(timezone: str | None = None, *, now: dt.datetime | None = None) -> dt.date:
    """The clinic's today (``timezone``, default the settings' ``PRIORAUTH_TIMEZONE``), never UTC's."""
    if timezone is None:
        from coverage.settings import load_settings

        timezone = load_settings().timezone
    return (now or dt.datetime.now(dt.UTC)).astimezone(clinic_zone(timezone)).date()


def start_of_day(day: dt.date, timezone: str) -> dt.datetime:
    """Midnight of ``day`` at the clinic, as an aware UTC timestamp."""
    return dt.datetime.combine(day, dt.time(), tzinfo=clinic_zone(timezone)).astimezone(dt.UTC)


def answer_due(
    sent_at: dt.datetime, *, expedited: bool, turnaround_days: int, urgent_turnaround_hours: int
) -> dt.datetime:
    """When the payer's answer is due: its turnaround after the request (or the information) went out."""
    if expedited:
        return sent_at + dt.timedelta(hours=urgent_turnaround_hours)
    return sent_at + dt.timedelta(days=turnaround_days)


def appeal_decision_due(sent_at: dt.datetime, *, expedited: bool, urgent_turnaround_hours: int) -> dt.datetime:
    """When the payer's appeal decision is due (30 days; the urgent hours when expedited)."""
    if expedited:
        return sent_at + dt.timedelta(hours=urgent_turnaround_hours)
    return sent_at + dt.timedelta(days=APPEAL_DECISION_DAYS)


def appeal_deadline(denied_on: dt.date, *, window_days: int) -> dt.date:
    """The last day to file an internal appeal (the payer's window, default 180 days, ACA)."""
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
    *, valid_to: dt.date, units: int, units_used: int, as_of: dt.date, clocks: ClockSettings
) -> AuthorizationAlert | None:
    """``expired`` after ``valid_to``; ``expiring`` within the warning days of it or once the units
    used reach the warning ratio of those authorized; otherwise nothing."""
    if as_of > valid_to:
        return "expired"
    if (valid_to - as_of).days <= clocks.expiry_warning_days:
        return "expiring"
    if units > 0 and units_used >= clocks.units_warning_ratio * units:
        return "expiring"
    return None


def runs_out_on(
    *, units_left: int, recent_units: int, as_of: dt.date, valid_to: dt.date, pace_days: int = PACE_DAYS
) -> dt.date | None:
    """The day the units run out at the pace of the last ``pace_days`` (``recent_units`` used in them).

    ``None`` when no units were used lately (no pace) or the pace would outlast the authorization;
    ``as_of`` when none are left.
    """
    if units_left <= 0:
        return as_of
    if recent_units <= 0:
        return None
    day = as_of + dt.timedelta(days=-(-units_left * pace_days // recent_units))
    return day if day <= valid_to else None
