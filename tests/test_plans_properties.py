"""Plan arithmetic as properties: exact cents, count, monthly dates, month-end clamping, the minimum."""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coverage.errors import InvalidInput
from coverage.payments.plans import (
    CENT,
    MAX_INSTALLMENTS,
    Installment,
    add_months,
    discounted,
    offered_counts,
    settle,
    smallest_installment,
    split_evenly,
    term_problems,
)

# At least one cent per installment for the largest count: smaller totals are refused (tested below).
totals = st.integers(min_value=MAX_INSTALLMENTS, max_value=10**9).map(lambda cents: Decimal(cents).scaleb(-2))
counts = st.integers(min_value=1, max_value=MAX_INSTALLMENTS)
starts = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2200, 12, 31))
percents = st.integers(min_value=0, max_value=9999).map(lambda hundredths: Decimal(hundredths).scaleb(-2))


@given(totals, counts, starts)
def test_installments_sum_to_the_total_to_the_cent(total: Decimal, count: int, start: dt.date) -> None:
    schedule = split_evenly(total, count, start)
    assert schedule.total == total
    assert sum(i.amount for i in schedule.installments) == total
    assert len(schedule.installments) == count
    assert [i.number for i in schedule.installments] == list(range(1, count + 1))
    assert all(i.amount == i.amount.quantize(CENT) and i.amount >= 0 for i in schedule.installments)


@given(totals, counts, starts)
def test_remainder_cents_go_on_the_first_installment(total: Decimal, count: int, start: dt.date) -> None:
    amounts = [i.amount for i in split_evenly(total, count, start).installments]
    share = smallest_installment(total, count)
    assert amounts[1:] == [share] * (count - 1)
    assert share <= amounts[0] < share + count * CENT
    assert amounts[0] - share == (int(total * 100) % count) * CENT


@given(totals, counts, starts)
def test_due_dates_are_monthly_strictly_increasing_and_clamped(total: Decimal, count: int, start: dt.date) -> None:
    dates = [i.due_date for i in split_evenly(total, count, start).installments]
    assert dates[0] == start
    assert all(a < b for a, b in itertools.pairwise(dates))
    for months, due in enumerate(dates):
        assert (due.year * 12 + due.month) - (start.year * 12 + start.month) == months
        assert due.day == min(start.day, calendar.monthrange(due.year, due.month)[1])


@given(st.integers(min_value=1, max_value=600), st.integers(min_value=1990, max_value=2200))
def test_a_plan_started_on_the_31st_stays_on_month_ends(months: int, year: int) -> None:
    due = add_months(dt.date(year, 1, 31), months)
    assert due.day == calendar.monthrange(due.year, due.month)[1]


def test_month_end_clamping_examples() -> None:
    dates = [i.due_date for i in split_evenly(Decimal("3600.00"), 4, dt.date(2026, 1, 31)).installments]
    assert dates == [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31), dt.date(2026, 4, 30)]
    leap = [i.due_date for i in split_evenly(Decimal("300.00"), 2, dt.date(2028, 1, 30)).installments]
    assert leap == [dt.date(2028, 1, 30), dt.date(2028, 2, 29)]
    # The day of the month comes from the start, not from the previous (clamped) due date.
    assert add_months(dt.date(2026, 1, 30), 2) == dt.date(2026, 3, 30)


def test_remainder_example() -> None:
    amounts = [i.amount for i in split_evenly(Decimal("1000.00"), 3, dt.date(2026, 5, 1)).installments]
    assert amounts == [Decimal("333.34"), Decimal("333.33"), Decimal("333.33")]


@given(totals, st.integers(min_value=2, max_value=MAX_INSTALLMENTS), st.integers(min_value=1, max_value=100_000))
def test_the_minimum_rule(total: Decimal, count: int, minimum_cents: int) -> None:
    minimum = Decimal(minimum_cents).scaleb(-2)
    below = smallest_installment(total, count) < minimum
    problems = term_problems(total, count, minimum=minimum)
    assert bool(problems) == below
    if below:
        with pytest.raises(InvalidInput) as raised:
            split_evenly(total, count, dt.date(2026, 1, 1), minimum=minimum)
        assert raised.value.lines() == [f"installments: {problems[0][1]}"]
        assert f"minimum monthly installment {minimum}" in raised.value.lines()[0]
    else:
        schedule = split_evenly(total, count, dt.date(2026, 1, 1), minimum=minimum)
        assert min(i.amount for i in schedule.installments) >= minimum


@given(totals, st.lists(counts, unique=True, max_size=6), st.integers(min_value=1, max_value=100_000))
def test_offered_counts_are_exactly_those_reaching_the_minimum(total: Decimal, options: list[int], cents: int) -> None:
    minimum = Decimal(cents).scaleb(-2)
    offered = offered_counts(total, options, minimum)
    assert set(offered) <= set(options)
    for count in options:
        assert (count in offered) == (
            min(i.amount for i in split_evenly(total, count, dt.date(2026, 1, 1)).installments) >= minimum
        )


@given(totals, percents)
def test_discount_and_price_add_up_and_round_half_up(total: Decimal, pct: Decimal) -> None:
    discount, price = discounted(total, pct)
    assert discount + price == total
    assert discount == discount.quantize(CENT)
    exact = total * pct / 100
    assert abs(discount - exact) <= Decimal("0.005")


def test_discount_rounds_half_up() -> None:
    assert discounted(Decimal("3300.10"), Decimal("5")) == (Decimal("165.01"), Decimal("3135.09"))
    assert discounted(Decimal("3600.00"), Decimal("5")) == (Decimal("180.00"), Decimal("3420.00"))


@given(totals, counts, st.integers(min_value=0, max_value=10**9))
def test_payments_settle_the_oldest_installment_first(total: Decimal, count: int, paid_cents: int) -> None:
    installments = split_evenly(total, count, dt.date(2026, 1, 31)).installments
    paid = min(Decimal(paid_cents).scaleb(-2), total)
    statuses = settle(installments, paid)
    assert sum(s.paid for s in statuses) == paid
    assert all(0 <= s.paid <= s.amount for s in statuses)
    # Fully paid installments, then at most one partly paid, then unpaid ones.
    pattern = ["full" if s.remaining == 0 else "none" if s.paid == 0 else "part" for s in statuses]
    assert pattern == sorted(pattern, key=["full", "part", "none"].index)
    assert pattern.count("part") <= 1


def test_every_installment_is_at_least_a_cent() -> None:
    assert [i.amount for i in split_evenly(Decimal("0.02"), 2, dt.date(2026, 1, 31)).installments] == [
        Decimal("0.01"),
        Decimal("0.01"),
    ]
    with pytest.raises(InvalidInput) as raised:
        split_evenly(Decimal("0.01"), 2, dt.date(2026, 1, 31))
    assert raised.value.lines() == ["installments: 2 installments of 0.01 leave some at 0.00; at most 1"]


def test_overdue_is_unpaid_and_due_before_as_of() -> None:
    installments = (
        Installment(1, dt.date(2026, 1, 31), Decimal("100.00")),
        Installment(2, dt.date(2026, 2, 28), Decimal("100.00")),
    )
    first, second = settle(installments, Decimal("60.00"))
    assert first.remaining == Decimal("40.00")
    assert not first.is_overdue(dt.date(2026, 1, 31))  # due today is not overdue yet
    assert first.is_overdue(dt.date(2026, 2, 1))
    assert not second.is_overdue(dt.date(2026, 2, 1))


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [
        (Decimal("-5"), 3, ["total: must be more than 0, got -5"]),
        (Decimal("0"), 3, ["total: must be more than 0, got 0"]),
        (Decimal("10.005"), 3, ["total: must be in whole cents, got 10.005"]),
        (Decimal("100.00"), 0, ["installments: must be at least 1, got 0"]),
        (Decimal("100.00"), 61, ["installments: must be at most 60, got 61"]),
        (Decimal("-1"), 0, ["total: must be more than 0, got -1", "installments: must be at least 1, got 0"]),
    ],
)
def test_bad_terms_are_one_line_each(total: Decimal, count: int, expected: list[str]) -> None:
    with pytest.raises(InvalidInput) as raised:
        split_evenly(total, count, dt.date(2026, 1, 1))
    assert raised.value.lines() == expected
