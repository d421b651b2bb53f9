"""Self-pay offers from the clinic's price list: the course, pay in full, monthly installments.

The price list lives in the clinic file (``[prices]``, :class:`coverage.clinic.PriceList`).
Items are found by name: ``iv_infusion`` for IV ketamine, ``esketamine_<dose>`` for an
esketamine session at that dose (``esketamine_56``, ``esketamine_84``; a clinic that gives
28 mg sessions adds ``esketamine_28``) and ``consultation``. A course is the treatment's item
times its ``course_sessions``, preceded by one consultation for an initial request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from coverage.cases import Case
from coverage.clinic import PriceItem, PriceList
from coverage.errors import ConfigurationError, InvalidInput
from coverage.payments.plans import CENT, Schedule, discounted, offered_counts, split_evenly, term_problems

CONSULTATION = "consultation"


def price_key(treatment: str, dose_mg: int | None) -> str:
    """The price-list item of one session of ``treatment`` at ``dose_mg``."""
    if treatment == "iv_ketamine":
        return "iv_infusion"
    if treatment == "esketamine":
        if dose_mg is None:
            raise InvalidInput(["dose_mg: required for esketamine (28, 56 or 84)"])
        return f"esketamine_{dose_mg}"
    raise InvalidInput([f"treatment: {treatment!r} is not esketamine or iv_ketamine"])


@dataclass(frozen=True, slots=True)
class CourseLine:
    """One priced service of a course: a session price times the number of sessions."""

    key: str
    description: str
    unit_price: Decimal
    sessions: int
    billing_codes: tuple[str, ...]

    @property
    def amount(self) -> Decimal:
        """The line's charge."""
        return self.unit_price * self.sessions

    def to_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "description": self.description,
            "unit_price": str(self.unit_price),
            "sessions": self.sessions,
            "amount": str(self.amount),
            "billing_codes": list(self.billing_codes),
        }


@dataclass(frozen=True, slots=True)
class Course:
    """The services a self-pay patient buys for one treatment course."""

    treatment: str
    dose_mg: int | None
    lines: tuple[CourseLine, ...]

    @property
    def total(self) -> Decimal:
        """The course total before any discount."""
        return sum((line.amount for line in self.lines), Decimal("0.00"))


def _line(prices: PriceList, key: str, sessions: int | None = None) -> CourseLine:
    item: PriceItem | None = prices.items.get(key)
    if item is None:
        raise ConfigurationError(f"clinic file: [prices.items.{key}] is missing")
    return CourseLine(
        key=key,
        description=item.description,
        unit_price=item.amount,
        sessions=item.course_sessions if sessions is None else sessions,
        billing_codes=tuple(item.billing_codes),
    )


def build_course(prices: PriceList, treatment: str, dose_mg: int | None, *, with_consultation: bool) -> Course:
    """The usual course of ``treatment`` at ``dose_mg`` from the price list, with a consultation first if asked."""
    lines = [_line(prices, CONSULTATION, 1)] if with_consultation else []
    lines.append(_line(prices, price_key(treatment, dose_mg)))
    return Course(treatment=treatment, dose_mg=dose_mg, lines=tuple(lines))


@dataclass(frozen=True, slots=True)
class InstallmentOption:
    """``count`` monthly installments at 0%: the first carries the remainder cents."""

    count: int
    first_amount: Decimal
    amount: Decimal

    def to_dict(self) -> dict[str, object]:
        return {"installments": self.count, "first_amount": str(self.first_amount), "amount": str(self.amount)}


@dataclass(frozen=True, slots=True)
class Offer:
    """What the clinic offers for a total: pay in full with the discount, or the installment options."""

    total: Decimal
    discount_pct: Decimal
    discount: Decimal
    pay_in_full: Decimal
    minimum_installment: Decimal
    options: tuple[InstallmentOption, ...]
    withheld: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        """The JSON form: money as decimal strings."""
        return {
            "total": str(self.total),
            "pay_in_full": {
                "discount_pct": str(self.discount_pct),
                "discount": str(self.discount),
                "amount": str(self.pay_in_full),
            },
            "minimum_installment": str(self.minimum_installment),
            "installment_options": [o.to_dict() for o in self.options],
            "withheld_counts": list(self.withheld),
        }


def build_offer(total: Decimal, prices: PriceList, start: dt.date) -> Offer:
    """The pay-in-full price and the configured installment options that reach the minimum installment.

    ``withheld`` lists the configured counts not offered because their installment would fall
    below the minimum.
    """
    discount, price = discounted(total, prices.pay_in_full_discount_pct)
    counts = offered_counts(total, prices.installment_counts, prices.minimum_installment)
    options = []
    for count in counts:
        schedule = split_evenly(total, count, start)
        amounts = [i.amount for i in schedule.installments]
        options.append(InstallmentOption(count=count, first_amount=amounts[0], amount=amounts[-1]))
    return Offer(
        total=total.quantize(CENT),
        discount_pct=prices.pay_in_full_discount_pct,
        discount=discount,
        pay_in_full=price,
        minimum_installment=prices.minimum_installment,
        options=tuple(options),
        withheld=tuple(n for n in prices.installment_counts if n not in counts),
    )


def default_installments(prices: PriceList) -> int:
    """The installment count a plan document shows when none is asked for: 6 if offered, else the first."""
    counts = prices.installment_counts
    if not counts:
        raise ConfigurationError("clinic prices.installment_counts: the clinic offers no installment plan")
    return 6 if 6 in counts else counts[0]


def choose_installments(total: Decimal, count: int, start: dt.date, prices: PriceList) -> Schedule:
    """The schedule of an offered option; a count the clinic does not offer is refused, naming why.

    Counts outside ``installment_counts`` are refused with the offered ones listed; a
    configured count below the minimum installment is refused naming the minimum.
    """
    pairs = term_problems(total, count, minimum=prices.minimum_installment)
    problems = [f"--{field}: {problem}" for field, problem in pairs]
    if all(field != "installments" for field, _ in pairs) and count not in prices.installment_counts:
        offered = offered_counts(total, prices.installment_counts, prices.minimum_installment)
        choices = ", ".join(str(n) for n in offered) or "none"
        problems.append(f"--installments: {count} is not offered (offered: {choices})")
    if problems:
        raise InvalidInput(problems)
    return split_evenly(total, count, start)


SavingsEligibility = Literal["likely_eligible", "not_eligible", "not_applicable"]


@dataclass(frozen=True, slots=True)
class SavingsFlag:
    """Whether to point the patient at the manufacturer's savings program, with the reason."""

    status: SavingsEligibility
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "reason": self.reason}


def manufacturer_savings(plan_type: str, treatment: str) -> SavingsFlag:
    """The manufacturer savings flag (Spravato withMe): commercial esketamine patients only.

    Manufacturer copay programs exclude patients of government plans (Medicare, Medicaid;
    federal anti-kickback statute), and there is no program for generic ketamine.
    """
    if treatment != "esketamine":
        return SavingsFlag("not_applicable", "no manufacturer program for IV ketamine")
    if plan_type == "commercial":
        return SavingsFlag("likely_eligible", "commercially insured esketamine patient")
    if plan_type in ("medicare", "medicaid"):
        return SavingsFlag("not_eligible", f"{plan_type} patients are excluded from manufacturer savings programs")
    return SavingsFlag("not_applicable", "self-pay: no insurance cost sharing to offset")


def superbill_suggested(case: Case) -> bool:
    """A superbill helps only an insured patient with out-of-network benefits."""
    return case.coverage.plan_type != "self_pay" and case.coverage.out_of_network_benefits is True


MAX_START_DAYS = 365


def check_start(start: dt.date, today: dt.date) -> None:
    """A plan's first due date is today or later (a plan made today asks for nothing in the past), and
    at most :data:`MAX_START_DAYS` days ahead."""
    if start < today:
        raise InvalidInput(
            [f"--start: {start.isoformat()} is before today ({today.isoformat()}); a plan starts today or later"]
        )
    if start > today + dt.timedelta(days=MAX_START_DAYS):
        latest = (today + dt.timedelta(days=MAX_START_DAYS)).isoformat()
        raise InvalidInput(
            [f"--start: {start.isoformat()} is more than {MAX_START_DAYS} days ahead; a plan starts by {latest}"]
        )
