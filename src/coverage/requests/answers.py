"""The payer's answer to a request, as plain records (pure domain)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from coverage.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Approval:
    """Approved (or, with ``partial``, approved for less than asked): the authorization's terms."""

    number: str
    valid_from: dt.date
    valid_to: dt.date
    units_authorized: int
    partial: bool = False
    payer_reference: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if not self.number.strip():
            problems.append("auth_number: required")
        if self.valid_to < self.valid_from:
            problems.append(f"valid_to: {self.valid_to.isoformat()} is before valid_from {self.valid_from.isoformat()}")
        if self.units_authorized < 0:
            problems.append("units: must not be negative")
        if problems:
            raise InvalidInput(problems)


@dataclass(frozen=True, slots=True)
class Denial:
    """Denied, with the payer's specific reason."""

    reason: str
    payer_reference: str | None = None

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise InvalidInput(["reason: required for a denial"])


@dataclass(frozen=True, slots=True)
class Pending:
    """Pended: the payer asks for more information (or is reviewing)."""

    info_requested: str
    payer_reference: str | None = None


Answer = Approval | Denial | Pending
