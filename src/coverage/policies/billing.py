"""Billing rules as data: the codes of one session, their units and their dates (``data/billing.yaml``).

The file that ships with the package is read once, validated by :class:`BillingData`, and kept.
:func:`billing_lines` is what the engine bills for a session; :func:`unit_label` and
:func:`unit_kind` say what one unit of a code is (lifecycle rule 9).
"""

from __future__ import annotations

import datetime as dt
import itertools
from bisect import bisect_right
from functools import cache, lru_cache
from importlib import resources
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from coverage.cases import Treatment
from coverage.determinations import BillingLine
from coverage.errors import InvalidPolicy
from coverage.policies.messages import validation_problems, yaml_problem

UnitKind = Literal["mg", "session", "hour"]


class _BillingModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BillingCode(_BillingModel):
    """One billing code: what it is, what one unit of it is, and where that comes from."""

    description: str
    unit: UnitKind
    unit_label: str | None = None
    source: str


class BillingRule(_BillingModel):
    """One line billed for a session when scheme, treatment, date of service and dose match."""

    scheme: Literal["hcpcs", "medicare", "any"]
    treatment: Treatment
    code: str
    #: The billed line this rule fills (default: its code): the rules of one line, scheme and
    #: treatment take turns (S0013 then J0013), so they may neither overlap nor leave a day out.
    line: str | None = None
    units: Literal["dose"] | Annotated[int, Field(gt=0)]
    modifier: str | None = None
    effective_date: dt.date | None = None
    end_date: dt.date | None = None
    min_dose_mg: Annotated[int, Field(ge=0)] | None = None
    max_dose_mg: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _ranges(self) -> BillingRule:
        if self.effective_date and self.end_date and self.end_date < self.effective_date:
            raise ValueError("end_date is before effective_date")
        if self.min_dose_mg is not None and self.max_dose_mg is not None and self.max_dose_mg < self.min_dose_mg:
            raise ValueError("max_dose_mg is below min_dose_mg")
        return self

    def applies(self, scheme: str, treatment: str, dose_mg: int | None, day: dt.date) -> bool:
        """Whether this rule bills a session of ``treatment`` at ``dose_mg`` on ``day`` under ``scheme``."""
        if self.treatment != treatment or self.scheme not in (scheme, "any"):
            return False
        if (self.effective_date is not None and day < self.effective_date) or (
            self.end_date is not None and day > self.end_date
        ):
            return False
        if self.min_dose_mg is not None or self.max_dose_mg is not None or self.units == "dose":
            if dose_mg is None:
                return False
            if (self.min_dose_mg is not None and dose_mg < self.min_dose_mg) or (
                self.max_dose_mg is not None and dose_mg > self.max_dose_mg
            ):
                return False
        return True


class BillingData(_BillingModel):
    """The billing file: codes, then the rules in the order their lines are billed."""

    codes: dict[str, BillingCode]
    rules: list[BillingRule]

    @model_validator(mode="after")
    def _codes_known(self) -> BillingData:
        for rule in self.rules:
            if rule.code not in self.codes:
                raise ValueError(f"rule for {rule.code}: the code is not listed under codes")
            if rule.units == "dose" and self.codes[rule.code].unit != "mg":
                raise ValueError(f"rule for {rule.code}: units: dose needs a code whose unit is mg")
        return self


_FIRST, _LAST = dt.date.min, dt.date.max


def _span(rule: BillingRule) -> tuple[dt.date, dt.date]:
    return rule.effective_date or _FIRST, rule.end_date or _LAST


def _doses(rule: BillingRule) -> tuple[int, float]:
    return rule.min_dose_mg or 0, rule.max_dose_mg if rule.max_dose_mg is not None else float("inf")


def turn_problems(rules: list[BillingRule]) -> list[str]:
    """The rules of one line, scheme and treatment that overlap (a session billed twice) or leave a day unbilled."""
    problems: list[str] = []
    groups: dict[tuple[str, str, str], list[tuple[int, BillingRule]]] = {}
    for number, rule in enumerate(rules):
        for scheme in ("hcpcs", "medicare") if rule.scheme == "any" else (rule.scheme,):
            groups.setdefault((scheme, rule.treatment, rule.line or rule.code), []).append((number, rule))
    for (scheme, treatment, line), members in groups.items():
        what = f"{scheme} {treatment} line {line}"
        for (i, a), (j, b) in itertools.combinations(members, 2):
            (a_from, a_to), (b_from, b_to) = _span(a), _span(b)
            (a_low, a_high), (b_low, b_high) = _doses(a), _doses(b)
            if a_from <= b_to and b_from <= a_to and a_low <= b_high and b_low <= a_high:
                both = (max(a_from, b_from), min(a_to, b_to))
                problems.append(
                    f"rules[{i}] ({a.code}) and rules[{j}] ({b.code}) both bill {what} "
                    f"from {_day(both[0])} to {_day(both[1])} (a session would be billed twice)"
                )
        spans = sorted(_span(rule) for _, rule in members)
        reach = spans[0][1]
        for start, end in spans[1:]:
            if reach < _LAST and start > reach + dt.timedelta(days=1):
                problems.append(
                    f"no rule bills {what} from {_day(reach + dt.timedelta(days=1))} "
                    f"to {_day(start - dt.timedelta(days=1))}"
                )
            reach = max(reach, end)
    return problems


def _day(day: dt.date) -> str:
    return "the start" if day == _FIRST else "the end" if day == _LAST else day.isoformat()


def parse_billing(content: bytes | str, source: str) -> BillingData:
    """Validate a billing file's text, or raise :class:`InvalidPolicy` naming every problem."""
    try:
        data = yaml.safe_load(content)
    except (yaml.YAMLError, ValueError) as error:  # a date like 2026-13-01 raises ValueError
        raise InvalidPolicy([f"{source}: {yaml_problem(error)}"]) from None
    try:
        billing = BillingData.model_validate(data)
    except ValidationError as error:
        raise InvalidPolicy(validation_problems(error, source, "billing")) from None
    problems = turn_problems(billing.rules)
    if problems:
        raise InvalidPolicy([f"{source}: rules: {problem}" for problem in problems])
    return billing


@cache
def billing_rules() -> BillingData:
    """The billing file that ships with the package, validated once."""
    path = resources.files("coverage.policies").joinpath("data", "billing.yaml")
    return parse_billing(path.read_bytes(), str(path))


def billing_lines(scheme: str, treatment: str, dose_mg: int | None, service_date: dt.date) -> tuple[BillingLine, ...]:
    """What to bill for one session of ``treatment`` at ``dose_mg`` on ``service_date`` under ``scheme``.

    The rules' dates split time into a few periods in which the same rules apply: the lines
    are worked out once per period and dose, however many days a batch's sessions fall on.
    """
    turns = billing_turns(scheme, treatment)
    return period_lines(scheme, treatment, dose_mg, bisect_right(turns, service_date))


@lru_cache(maxsize=64)
def billing_turns(scheme: str, treatment: str) -> tuple[dt.date, ...]:
    """The days on which a rule of ``treatment`` under ``scheme`` starts or stops applying, in order."""
    days = set()
    for rule in _rules_of(scheme, treatment):
        if rule.effective_date is not None:
            days.add(rule.effective_date)
        if rule.end_date is not None and rule.end_date < _LAST:
            days.add(rule.end_date + dt.timedelta(days=1))
    return tuple(sorted(days))


@lru_cache(maxsize=4096)
def period_lines(scheme: str, treatment: str, dose_mg: int | None, period: int) -> tuple[BillingLine, ...]:
    """The lines of a session in the ``period``-th period of :func:`billing_turns` (its first day stands for all)."""
    day = billing_turns(scheme, treatment)[period - 1] if period else _FIRST
    return tuple(
        BillingLine(
            rule.code, dose_mg if rule.units == "dose" and dose_mg is not None else int(rule.units), rule.modifier
        )
        for rule in _rules_of(scheme, treatment)
        if rule.applies(scheme, treatment, dose_mg, day)
    )


@lru_cache(maxsize=64)
def _rules_of(scheme: str, treatment: str) -> tuple[BillingRule, ...]:
    """The rules that may bill ``treatment`` under ``scheme``, in order (a session's date and dose then pick)."""
    return tuple(
        rule for rule in billing_rules().rules if rule.treatment == treatment and rule.scheme in (scheme, "any")
    )


def unit_label(code: str) -> str | None:
    """What one unit of ``code`` is, as notices print it ("1 unit = 1 mg"); ``None`` for other codes."""
    known = billing_rules().codes.get(code)
    return known.unit_label if known is not None else None


def unit_kind(code: str) -> UnitKind | None:
    """What ``code`` counts: mg (its units are the dose), sessions or hours; ``None`` for other codes."""
    known = billing_rules().codes.get(code)
    return known.unit if known is not None else None
