"""What every service needs besides a unit of work: the clinic's clock, the lifecycle's clocks, the
sign-off rule, and who acts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from coverage.errors import InvalidInput
from coverage.fields import clean_text
from coverage.requests.clocks import ClockSettings, clinic_today, clinic_zone
from coverage.requests.model import PayerTerms, Request, When

if TYPE_CHECKING:
    from coverage.settings import Settings
    from coverage.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Context:
    """The clinic's time zone and clocks, and whether every sending needs a clinician's sign-off."""

    timezone: str = "America/New_York"
    clocks: ClockSettings = field(default_factory=ClockSettings)
    signoff_required: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        return cls(
            timezone=settings.timezone,
            clocks=ClockSettings.from_settings(settings),
            signoff_required=settings.signoff == "required",
        )

    def when(self, at: dt.datetime | None = None) -> When:
        """The moment of an act: ``at`` (aware) or now, with the clinic's date."""
        if at is None:
            now = dt.datetime.now(dt.UTC)
        elif at.tzinfo is None:
            raise InvalidInput(["at: must be timezone-aware"])
        else:
            now = at.astimezone(dt.UTC)
        clinic_zone(self.timezone)
        return When(now=now, today=clinic_today(self.timezone, now=now), timezone=self.timezone)

    def today(self) -> dt.date:
        return clinic_today(self.timezone)

    def terms(self, uow: UnitOfWork, request: Request) -> PayerTerms:
        """The payer's clocks from the directory, or the settings' defaults."""
        payer = uow.payers.get(request.payer_id) if request.payer_id is not None else None
        clocks = self.clocks
        if payer is None:
            return PayerTerms(clocks.turnaround_days, clocks.urgent_turnaround_hours, clocks.appeal_window_days)
        return PayerTerms(
            payer.turnaround_days,
            payer.urgent_turnaround_hours,
            payer.appeal_window_days or clocks.appeal_window_days,
        )


def actor(by: str) -> str:
    """Who makes a change, as the audit trail names them."""
    return clean_text("--by", by, kind="actor")
