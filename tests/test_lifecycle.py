"""The statuses, the move table and the clocks: pure functions, no database."""

from __future__ import annotations

import datetime as dt

import pytest

from coverage.errors import ConfigurationError, InvalidInput
from coverage.requests import clocks
from coverage.requests.lifecycle import (
    AMENDABLE,
    ANSWER_TARGETS,
    APPROVING,
    FINAL,
    OPEN,
    PLAIN_MOVES,
    SENDABLE,
    SENT_TO,
    STATUSES,
    TRANSITIONS,
    WITH_PAYER,
    can_move,
    parse_status,
)

UTC = dt.UTC


def test_the_spec_s_stored_statuses_exactly() -> None:
    assert set(STATUSES) == {
        "draft", "ready", "submitted", "pended", "approved", "partially_approved", "denied",
        "appeal_drafted", "appeal_submitted", "appeal_approved", "appeal_denied", "external_review",
        "not_required", "payment_plan", "cancelled",
    }  # fmt: skip
    assert "renewed" not in STATUSES
    assert "expiring" not in STATUSES
    assert set(TRANSITIONS) == set(STATUSES)
    for targets in TRANSITIONS.values():
        assert targets <= set(STATUSES)
    assert {"not_required", "cancelled", "payment_plan"} == FINAL


def test_the_status_sets_are_consistent_with_the_table() -> None:
    assert set(SENT_TO) == SENDABLE
    for current, target in SENT_TO.items():
        assert can_move(current, target)
    assert set(ANSWER_TARGETS) >= WITH_PAYER
    for current, targets in ANSWER_TARGETS.items():
        for target in targets.values():
            assert target == current or can_move(current, target), (current, target)
    assert OPEN <= AMENDABLE
    assert APPROVING.isdisjoint(OPEN)
    assert PLAIN_MOVES.isdisjoint(WITH_PAYER | APPROVING)
    for status in STATUSES:
        if status not in FINAL:
            assert can_move(status, "cancelled"), status


def test_parse_status_names_the_valid_ones() -> None:
    assert parse_status("approved") == "approved"
    assert parse_status("expiring", read=True) == "expiring"
    with pytest.raises(InvalidInput, match="status: 'renewed' is not one of"):
        parse_status("renewed")
    with pytest.raises(InvalidInput):
        parse_status("expiring")


def test_answer_due_counts_days_or_urgent_hours_from_the_sending() -> None:
    sent = dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert clocks.answer_due(
        sent, expedited=False, turnaround_days=10, urgent_turnaround_hours=72
    ) == sent + dt.timedelta(days=10)
    assert clocks.answer_due(
        sent, expedited=True, turnaround_days=10, urgent_turnaround_hours=72
    ) == sent + dt.timedelta(hours=72)
    assert clocks.appeal_decision_due(sent, expedited=False, urgent_turnaround_hours=72) == sent + dt.timedelta(days=30)


def test_appeal_and_external_review_deadlines() -> None:
    assert clocks.appeal_deadline(dt.date(2026, 11, 22), window_days=180) == dt.date(2027, 5, 21)
    assert clocks.external_review_deadline(dt.date(2026, 10, 31)) == dt.date(2027, 2, 28)
    assert clocks.add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)


@pytest.mark.parametrize(
    ("as_of", "used", "alert"),
    [
        (dt.date(2026, 12, 1), 0, None),
        (dt.date(2027, 4, 30), 0, None),
        (dt.date(2027, 5, 1), 0, "expiring"),  # 30 days before the end
        (dt.date(2027, 5, 31), 0, "expiring"),
        (dt.date(2027, 6, 1), 0, "expired"),
        (dt.date(2026, 12, 1), 358, None),
        (dt.date(2026, 12, 1), 359, "expiring"),  # 80 % of 448
    ],
)
def test_authorization_alert_by_days_and_units(as_of: dt.date, used: int, alert: str | None) -> None:
    found = clocks.authorization_alert(
        valid_to=dt.date(2027, 5, 31), units=448, units_used=used, as_of=as_of, clocks=clocks.ClockSettings()
    )
    assert found == alert


def test_units_run_out_at_the_pace_of_the_last_four_weeks() -> None:
    day = dt.date(2026, 12, 1)
    # 112 units (2 sessions of 56 mg) in 28 days: 336 left last 84 more days.
    assert clocks.runs_out_on(units_left=336, recent_units=112, as_of=day, valid_to=dt.date(2027, 5, 31)) == (
        day + dt.timedelta(days=84)
    )
    assert clocks.runs_out_on(units_left=0, recent_units=112, as_of=day, valid_to=dt.date(2027, 5, 31)) == day
    assert clocks.runs_out_on(units_left=336, recent_units=0, as_of=day, valid_to=dt.date(2027, 5, 31)) is None
    assert clocks.runs_out_on(units_left=336, recent_units=14, as_of=day, valid_to=dt.date(2027, 5, 31)) is None


def test_today_is_the_clinic_s_date_not_utc_s() -> None:
    late_evening_in_new_york = dt.datetime(2026, 12, 2, 3, 30, tzinfo=UTC)
    assert clocks.clinic_today("America/New_York", now=late_evening_in_new_york) == dt.date(2026, 12, 1)
    assert clocks.clinic_today("UTC", now=late_evening_in_new_york) == dt.date(2026, 12, 2)
    with pytest.raises(ConfigurationError, match="PRIORAUTH_TIMEZONE"):
        clocks.clinic_today("Mars/Olympus")
