"""Payment-plan arithmetic in exact cents: monthly installments at 0% with the remainder first."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from coverage.errors import InvalidInput

CENT = Decimal("0.01")


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


def split_evenly(total: Decimal, count: int, start: dt.date) -> Schedule:
    """``count`` monthly installments from ``start`` summing to ``total`` to the cent.

    Each installment is the total divided evenly, rounded down to the cent; the remainder
    cents go on the first installment. Due dates keep the start's day of the month, clamped
    to the month's last day, so a plan starting on the 31st stays on month ends.
    """
    problems = []
    if total <= 0:
        problems.append(f"total: must be more than 0, got {total}")
    elif total != total.quantize(CENT):
        problems.append(f"total: must be in whole cents, got {total}")
    if count < 1:
        problems.append(f"installments: must be at least 1, got {count}")
    if problems:
        raise InvalidInput(problems)
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
