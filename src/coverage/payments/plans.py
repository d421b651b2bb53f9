"""Payment-plan arithmetic in exact cents: monthly installments at 0% with the remainder first.

The single place for plan arithmetic: the even split and its due dates, the minimum
monthly installment, the pay-in-full discount, and how payments settle installments
(oldest unpaid first). Pure functions over ``Decimal`` and ``datetime.date``; no I/O.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from coverage.errors import InvalidInput

CENT = Decimal("0.01")
#: The most installments a plan may have (the clinic file allows counts up to 60 as well).
MAX_INSTALLMENTS = 60
#: The largest amount a plan, an installment or a payment may be: far above any course of
#: treatment, and it keeps cent arithmetic within the decimal context's precision.
MAX_AMOUNT = Decimal("10000000.00")


@dataclass(frozen=True, slots=True)
class Installment:
    """One monthly installment."""

    number: int
    due_date: dt.date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Schedule:
    """A total split into monthly installments."""

    total: Decimal
    installments: tuple[Installment, ...]

    def to_dict(self) -> dict[str, object]:
        """The JSON form: amounts as decimal strings, dates as ISO text."""
        return {
            "total": str(self.total),
            "installments": [
                {"number": i.number, "due_date": i.due_date.isoformat(), "amount": str(i.amount)}
                for i in self.installments
            ],
        }


def add_months(start: dt.date, months: int) -> dt.date:
    """The same day of the month ``months`` later, clamped to the month's last day (Jan 31 + 1 = Feb 28/29)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def smallest_installment(total: Decimal, count: int) -> Decimal:
    """The smallest installment of an even split: the total divided by ``count``, rounded down to the cent."""
    return Decimal(int(total * 100) // count).scaleb(-2)


def term_problems(total: Decimal, count: int, *, minimum: Decimal | None = None) -> list[tuple[str, str]]:
    """What is wrong with splitting ``total`` into ``count`` installments, as ``(field, problem)`` pairs.

    ``field`` is ``total`` or ``installments``, so each caller can name its own input
    (``--total`` on the command line). With ``minimum``, a split whose smallest installment
    (the even share; the first one carries the remainder and is never smaller) falls below
    the clinic's minimum monthly installment is refused.
    """
    problems: list[tuple[str, str]] = []
    total_ok = count_ok = False
    if not total.is_finite() or total <= 0:
        problems.append(("total", f"must be more than 0, got {total}"))
    elif total > MAX_AMOUNT:
        problems.append(("total", f"must be at most {MAX_AMOUNT:,}, got {total}"))
    elif total != total.quantize(CENT):
        problems.append(("total", f"must be in whole cents, got {total}"))
    else:
        total_ok = True
    if count < 1:
        problems.append(("installments", f"must be at least 1, got {count}"))
    elif count > MAX_INSTALLMENTS:
        problems.append(("installments", f"must be at most {MAX_INSTALLMENTS}, got {count}"))
    else:
        count_ok = True
    if total_ok and count_ok and count > int(total * 100):
        problems.append(
            ("installments", f"{count} installments of {total} leave some at 0.00; at most {int(total * 100)}")
        )
    elif total_ok and count_ok and count > 1 and minimum is not None:
        share = smallest_installment(total, count)
        if share < minimum:
            problems.append(
                (
                    "installments",
                    f"{count} installments of {share} fall below the minimum monthly installment {minimum}",
                )
            )
    return problems


def split_evenly(total: Decimal, count: int, start: dt.date, *, minimum: Decimal | None = None) -> Schedule:
    """``count`` monthly installments from ``start`` summing to ``total`` to the cent.

    Each installment is the total divided evenly, rounded down to the cent; the remainder
    cents go on the first installment. Due dates keep the start's day of the month, clamped
    to the month's last day, so a plan starting on the 31st stays on month ends. With
    ``minimum``, splits below the minimum monthly installment are refused (:func:`term_problems`).
    """
    problems = term_problems(total, count, minimum=minimum)
    if not problems and start.year + (start.month - 1 + count - 1) // 12 > dt.MAXYEAR:
        problems.append(("start", f"{count} monthly installments from {start.isoformat()} run past the year 9999"))
    if problems:
        raise InvalidInput([f"{field}: {problem}" for field, problem in problems])
    cents = int(total * 100)
    base, remainder = divmod(cents, count)
    amounts = [base + remainder] + [base] * (count - 1)
    return Schedule(
        total=total.quantize(CENT),
        installments=tuple(
            Installment(number=i + 1, due_date=add_months(start, i), amount=Decimal(a).scaleb(-2))
            for i, a in enumerate(amounts)
        ),
    )


def offered_counts(total: Decimal, counts: Iterable[int], minimum: Decimal) -> list[int]:
    """The configured installment counts whose smallest installment reaches the minimum."""
    return [n for n in counts if n >= 1 and smallest_installment(total, n) >= minimum]


def discounted(total: Decimal, discount_pct: Decimal) -> tuple[Decimal, Decimal]:
    """``(discount, price)`` for paying ``total`` in full with ``discount_pct`` off.

    The discount is rounded half up to the cent (5% of 3,300.10 = 165.005 -> 165.01) and the
    price is the total less that discount, so discount + price always equals the total.
    """
    discount = (total * discount_pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return discount, total - discount


@dataclass(frozen=True, slots=True)
class InstallmentStatus:
    """An installment with what has been paid on it."""

    number: int
    due_date: dt.date
    amount: Decimal
    paid: Decimal
    #: What the plan no longer asks of this installment without it being paid (an adjustment, a
    #: payment on the account, a voided charge): taken off the last installments first.
    reduced: Decimal = Decimal("0.00")

    @property
    def remaining(self) -> Decimal:
        """What is still owed on this installment."""
        return self.amount - self.paid - self.reduced

    def is_overdue(self, as_of: dt.date) -> bool:
        """Unpaid (in whole or part) and due before ``as_of``; an installment due today is not overdue yet."""
        return self.remaining > 0 and self.due_date < as_of


def settle(
    installments: Sequence[Installment], paid_total: Decimal, reduced_total: Decimal = Decimal("0.00")
) -> tuple[InstallmentStatus, ...]:
    """Apply ``paid_total`` to the installments, oldest unpaid first; partial payments stay on one installment.

    Payments are not tied to an installment: every payment settles the oldest unpaid
    installment first, so the state follows from the sum paid and is never stored twice.
    ``reduced_total`` (what is no longer asked without being paid) comes off the last
    installments first, from what the payments left: an installment is never shown paid by
    money not received.
    """
    ordered = sorted(installments, key=lambda i: i.number)
    left = paid_total
    paid: list[Decimal] = []
    for installment in ordered:
        applied = min(left, installment.amount)
        left -= applied
        paid.append(applied)
    cut = reduced_total
    reduced = [Decimal("0.00")] * len(ordered)
    for index in reversed(range(len(ordered))):
        taken = min(cut, ordered[index].amount - paid[index])
        cut -= taken
        reduced[index] = taken
    return tuple(InstallmentStatus(i.number, i.due_date, i.amount, paid[n], reduced[n]) for n, i in enumerate(ordered))
