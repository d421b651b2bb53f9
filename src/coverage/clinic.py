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


#: The self-pay price of each billing code (``J0013`` per mg, the others per service), when the
#: clinic file does not set ``[prices.codes]``.
DEFAULT_CODE_PRICES: dict[str, Decimal] = {
    "J0013": Decimal("12.50"),
    "99213": Decimal("120.00"),
    "99415": Decimal("80.00"),
    "96365": Decimal("400.00"),
    "96366": Decimal("100.00"),
    "J3490": Decimal("150.00"),
    "99205": Decimal("300.00"),
}
#: Codes billed per unit of drug: their units per session are the session's dose in mg.
PER_MG_CODES = frozenset({"J0013", "S0013"})


def item_dose(key: str) -> int | None:
    """The esketamine dose of a price item named ``esketamine_<dose>``."""
    prefix, _, dose = key.partition("_")
    return int(dose) if prefix == "esketamine" and dose.isdigit() else None


class PriceList(_ClinicModel):
    """Self-pay prices and the payment-plan terms the clinic offers."""

    items: dict[str, PriceItem]
    #: The price of each billing code; an item's amount is the sum of its codes' prices.
    codes: dict[str, Money] = Field(default_factory=lambda: dict(DEFAULT_CODE_PRICES))
    pay_in_full_discount_pct: Annotated[Decimal, Field(ge=0, lt=100)] = Decimal("0")
    installment_counts: list[Annotated[int, Field(ge=2, le=60)]] = [3, 6, 12]
    minimum_installment: Money = Decimal("100.00")

    @field_validator("installment_counts")
    @classmethod
    def _sorted_unique(cls, value: list[int]) -> list[int]:
        return sorted(set(value))

    def code_units(self, key: str, code: str) -> int:
        """Units of ``code`` in one session of item ``key`` (the dose in mg for a per-mg code)."""
        if code in PER_MG_CODES:
            dose = item_dose(key)
            if dose is None:
                raise ConfigurationError(
                    f"clinic prices.items.{key}: {code} is billed per mg; name the item esketamine_<dose>"
                )
            return dose
        return 1

    def code_problems(self) -> list[str]:
        """One line per item whose amount is not the sum of its codes' prices, or that names an unpriced code."""
        problems = []
        for key, item in self.items.items():
            if not item.billing_codes:
                continue
            missing = [c for c in item.billing_codes if c not in self.codes]
            if missing:
                problems.append(f"prices.items.{key}: no price for {', '.join(missing)} in [prices.codes]")
                continue
            if any(c in PER_MG_CODES for c in item.billing_codes) and item_dose(key) is None:
                problems.append(f"prices.items.{key}: a per-mg code needs an item named esketamine_<dose>")
                continue
            parts = sum((self.codes[c] * self.code_units(key, c) for c in item.billing_codes), Decimal("0.00"))
            if parts != item.amount:
                problems.append(
                    f"prices.items.{key}: amount {item.amount} is not the sum of its codes' prices {parts:.2f}"
                )
        return problems


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
        clinic = Clinic.model_validate({**data, "source": source})
    except ValidationError as error:
        raise InvalidInput(
            [f"{label}: {format_loc(e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)]
        ) from None
    problems = clinic.prices.code_problems()
    if problems:
        raise InvalidInput([f"{label}: {problem}" for problem in problems])
    return clinic


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
