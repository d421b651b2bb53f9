"""The lifecycle state machine and its clocks: pure functions, no database."""

from __future__ import annotations

import datetime as dt

import pytest

from coverage.errors import IllegalTransition, InvalidInput
from coverage.requests import clocks
from coverage.requests.lifecycle import (
    FINAL,
    STATUSES,
    TRANSITIONS,
    answer_target,
    can_transition,
    check_transition,
    initial_status,
    parse_status,
)

UTC = dt.UTC


def test_the_issue_s_statuses_exactly() -> None:
    assert set(STATUSES) == {
        "draft", "ready", "submitted", "pended", "approved", "partially_approved", "denied", "cancelled",
        "not_required", "expiring", "expired", "renewed", "appeal_drafted", "appeal_submitted",
        "appeal_approved", "appeal_denied", "external_review", "payment_plan",
    }  # fmt: skip
    assert set(TRANSITIONS) == set(STATUSES)
    for targets in TRANSITIONS.values():
        assert targets <= set(STATUSES)
    assert {"not_required", "cancelled", "payment_plan"} == FINAL


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("meets_criteria", "ready"),
        ("no_pa_required", "not_required"),
        ("missing_documentation", "draft"),
        ("does_not_meet_criteria", "draft"),
        ("not_covered", "draft"),
    ],
)
def test_intake_status_from_the_outcome(outcome: str, status: str) -> None:
    assert initial_status(outcome) == status


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("draft", "ready"),
        ("ready", "submitted"),
        ("pended", "submitted"),
        ("submitted", "denied"),
        ("denied", "payment_plan"),
        ("draft", "payment_plan"),
        ("denied", "appeal_drafted"),
        ("appeal_denied", "external_review"),
        ("approved", "renewed"),
        ("expired", "renewed"),
    ],
)
def test_allowed_moves(current: str, target: str) -> None:
    assert can_transition(parse_status(current), parse_status(target))


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("draft", "submitted"),
        ("ready", "approved"),
        ("cancelled", "ready"),
        ("denied", "approved"),
        ("payment_plan", "draft"),
    ],
)
def test_illegal_moves_name_ids_only(current: str, target: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(7, parse_status(current), parse_status(target))
    message = str(caught.value)
    assert message.startswith(f"request 7: cannot go from {current} to {target}")
    assert "\n" not in message


def test_unknown_status_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="'aproved' is not one of"):
        parse_status("aproved")


def test_answers_land_by_where_the_request_stands() -> None:
    assert answer_target(1, "submitted", "approved") == "approved"
    assert answer_target(1, "pended", "partially_approved") == "partially_approved"
    assert answer_target(1, "appeal_submitted", "denied") == "appeal_denied"
    assert answer_target(1, "appeal_submitted", "approved") == "appeal_approved"
    assert answer_target(1, "approved", "approved") == "renewed"
    assert answer_target(1, "expired", "approved") == "renewed"
    assert answer_target(1, "external_review", "approved") == "approved"
    with pytest.raises(IllegalTransition):
        answer_target(1, "ready", "approved")
    with pytest.raises(IllegalTransition):
        answer_target(1, "appeal_submitted", "pended")


def test_answer_due_standard_and_expedited() -> None:
    sent = dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    standard = clocks.answer_due(sent, urgency="standard", turnaround_days=14, urgent_turnaround_hours=72)
    expedited = clocks.answer_due(sent, urgency="expedited", turnaround_days=14, urgent_turnaround_hours=72)
    assert standard == dt.datetime(2026, 12, 15, 15, 0, tzinfo=UTC)
    assert expedited == dt.datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    assert clocks.is_overdue(expedited, expedited + dt.timedelta(seconds=1))
    assert not clocks.is_overdue(expedited, expedited)
    assert not clocks.is_overdue(None, expedited)


def test_appeal_and_external_review_deadlines() -> None:
    assert clocks.appeal_deadline(dt.date(2026, 12, 10), window_days=180) == dt.date(2027, 6, 8)
    assert clocks.external_review_deadline(dt.date(2026, 10, 31)) == dt.date(2027, 2, 28)


def _alert(as_of: dt.date, used: int) -> str | None:
    return clocks.authorization_alert(
        valid_to=dt.date(2027, 5, 31),
        units_authorized=100,
        units_used=used,
        as_of=as_of,
        warning_days=30,
        units_warning_ratio=0.8,
    )


def test_authorization_expiring_by_days_or_units_then_expired() -> None:
    assert _alert(dt.date(2027, 4, 30), 0) is None
    assert _alert(dt.date(2027, 5, 1), 0) == "expiring"  # 30 days before
    assert _alert(dt.date(2027, 1, 1), 79) is None
    assert _alert(dt.date(2027, 1, 1), 80) == "expiring"  # 80 % of the units
    assert _alert(dt.date(2027, 5, 31), 0) == "expiring"
    assert _alert(dt.date(2027, 6, 1), 0) == "expired"


def test_effective_status_only_changes_authorized_requests() -> None:
    def effective(stored: str) -> str:
        return clocks.effective_status(
            parse_status(stored),
            valid_to=dt.date(2027, 5, 31),
            units_authorized=10,
            units_used=0,
            as_of=dt.date(2027, 7, 1),
            clocks=clocks.ClockSettings(),
        )

    assert effective("approved") == "expired"
    assert effective("renewed") == "expired"
    assert effective("denied") == "denied"


def test_today_is_the_clinic_s_date(monkeypatch: pytest.MonkeyPatch) -> None:
    from coverage.errors import ConfigurationError

    monkeypatch.setattr(clocks, "_now_utc", lambda: dt.datetime(2026, 12, 2, 3, 0, tzinfo=UTC))
    assert clocks.clinic_today("America/New_York") == dt.date(2026, 12, 1)
    assert clocks.clinic_today("UTC") == dt.date(2026, 12, 2)
    monkeypatch.setenv("PRIORAUTH_TIMEZONE", "America/Los_Angeles")
    assert clocks.clinic_today() == dt.date(2026, 12, 1)
    with pytest.raises(ConfigurationError, match="PRIORAUTH_TIMEZONE"):
        clocks.clinic_today("Mars/Olympus")


def test_an_appeal_decided_by_the_payer_lands_on_the_appeal_statuses() -> None:
    assert answer_target(1, "appeal_submitted", "approved") == "appeal_approved"
    assert answer_target(1, "appeal_submitted", "denied") == "appeal_denied"
