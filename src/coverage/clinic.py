"""The clinic: letterhead, signature block and price list, read from a TOML file.

``PRIORAUTH_CLINIC_FILE`` names the clinic's own file; without it the sample clinic that ships
with the package is used (``coverage/clinic_sample.toml``), so previews and the demo work on a
fresh machine. Money is ``Decimal``, written in the file as strings (``"550.00"``).
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from coverage.cases import format_loc
from coverage.errors import ConfigurationError, InvalidInput
from coverage.settings import Settings

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class _ClinicModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Letterhead(_ClinicModel):
    """Who the clinic is, as letters and superbills print it."""

    name: str
    address_lines: list[str]
    phone: str
    fax: str
    email: str | None = None
    npi: str
    tax_id: str
    place_of_service: str = "11"
    logo: Path | None = None


class Signature(_ClinicModel):
    """The signature block of letters of medical necessity."""

    name: str
    title: str
    npi: str | None = None


class PriceItem(_ClinicModel):
    """One billable service at the clinic's self-pay price."""

    description: str
    amount: Money
    course_sessions: Annotated[int, Field(ge=1)] = 1
    billing_codes: list[str] = []


class PriceList(_ClinicModel):
    """Self-pay prices and the payment-plan terms the clinic offers."""

    items: dict[str, PriceItem]
    pay_in_full_discount_pct: Annotated[Decimal, Field(ge=0, lt=100)] = Decimal("0")
    installment_counts: list[Annotated[int, Field(ge=2, le=60)]] = [3, 6, 12]
    minimum_installment: Money = Decimal("100.00")

    @field_validator("installment_counts")
    @classmethod
    def _sorted_unique(cls, value: list[int]) -> list[int]:
        return sorted(set(value))


class Clinic(_ClinicModel):
    """Everything the documents and the self-pay offers need to know about the clinic."""

    letterhead: Letterhead
    signature: Signature
    prices: PriceList
    source: Path | None = Field(default=None, exclude=True)

    def logo_path(self) -> Path | None:
        """The logo file, resolved relative to the clinic file."""
        logo = self.letterhead.logo
        if logo is None:
            return None
        if not logo.is_absolute() and self.source is not None:
            logo = self.source.parent / logo
        return logo


SAMPLE_CLINIC = "clinic_sample.toml"


def parse_clinic(text: str, source: Path | None) -> Clinic:
    """Validate a clinic file's text; every problem is named by its path."""
    label = str(source) if source is not None else "<sample clinic>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput([f"{label}: not valid TOML: {error}"]) from None
    try:
        return Clinic.model_validate({**data, "source": source})
    except ValidationError as error:
        raise InvalidInput(
            [f"{label}: {format_loc(e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)]
        ) from None


def load_clinic(settings: Settings) -> Clinic:
    """The clinic named by the settings, or the sample clinic."""
    if settings.clinic_file is None:
        sample = resources.files("coverage").joinpath(SAMPLE_CLINIC)
        with resources.as_file(sample) as path:
            return parse_clinic(path.read_text(encoding="utf-8"), path)
    try:
        text = settings.clinic_file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(
            f"PRIORAUTH_CLINIC_FILE: cannot read {settings.clinic_file} ({error.strerror})"
        ) from None
    return parse_clinic(text, settings.clinic_file)
