"""The clerk's findings on the self-pay side, one test each: every one failed on the code before the fix."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from coverage.clinic import PriceList, load_clinic
from coverage.errors import InvalidInput
from coverage.policies.service import Checker
from coverage.services import payments, sessions
from coverage.services.context import Context
from coverage.services.requests import intake
from coverage.settings import Settings
from coverage.store.fake import FakeUnitOfWork
from tests.conftest import Cli, case_gathered, today, write_case

CTX = Context()


@pytest.fixture(scope="module")
def prices() -> PriceList:
    return load_clinic(Settings(clinic_file=None)).prices


def _intake(uow: FakeUnitOfWork, checker: Checker, name: str, **changes: object) -> int:
    text = json.dumps(case_gathered(name, **changes))
    return intake(text, uow=uow, checker=checker, ctx=CTX, by="intake").request_id


@pytest.fixture
def plan(checker: Checker, prices: PriceList) -> tuple[FakeUnitOfWork, int]:
    uow = FakeUnitOfWork()
    request_id = _intake(uow, checker, "EX-02-iv-not-covered")
    made = payments.create_plan(
        request_id, uow=uow, prices=prices, start=today(), by="billing", ctx=CTX, installments=6
    )
    return uow, made.id


def test_a_payment_dated_in_the_future_is_refused(plan: tuple[FakeUnitOfWork, int]) -> None:
    uow, plan_id = plan
    later = today() + dt.timedelta(days=1)
    with pytest.raises(InvalidInput, match=r"^--date: .* is in the future"):
        payments.record_payment(plan_id, uow=uow, amount=Decimal("600"), paid_on=later, by="x", ctx=CTX)
    with pytest.raises(InvalidInput, match=r"--date: .* is in the future"):
        payments.record_payment(plan_id, uow=uow, amount=Decimal("600"), paid_on=dt.date(2030, 1, 1), by="x")
    assert payments.get_plan(plan_id, uow=uow).payments == ()


def test_a_payment_dated_before_the_intake_is_refused(plan: tuple[FakeUnitOfWork, int]) -> None:
    uow, plan_id = plan
    with pytest.raises(InvalidInput, match=r"--date: 1900-01-01 is before the patient's first intake"):
        payments.record_payment(plan_id, uow=uow, amount=Decimal("600"), paid_on=dt.date(1900, 1, 1), by="x")
    assert payments.get_plan(plan_id, uow=uow).payments == ()


@pytest.mark.parametrize("method", ["bitcoin", "card\x1b[2J", "cash\n", "hsa\x00"])
def test_a_method_outside_the_five_is_refused(plan: tuple[FakeUnitOfWork, int], method: str) -> None:
    uow, plan_id = plan
    with pytest.raises(InvalidInput, match=r"^--method: .* is not one of card, cash, check, hsa, fsa$"):
        payments.record_payment(plan_id, uow=uow, amount=Decimal("600"), paid_on=today(), by="x", method=method)
    assert payments.get_plan(plan_id, uow=uow).payments == ()


def test_a_method_is_stored_in_its_usual_form(plan: tuple[FakeUnitOfWork, int]) -> None:
    uow, plan_id = plan
    paid = payments.record_payment(plan_id, uow=uow, amount=Decimal("600"), paid_on=today(), by="x", method=" HSA ")
    assert [p.method for p in paid.payments] == ["hsa"]


def test_a_plan_cannot_start_in_the_past(checker: Checker, prices: PriceList) -> None:
    uow = FakeUnitOfWork()
    request_id = _intake(uow, checker, "EX-02-iv-not-covered")
    with pytest.raises(InvalidInput, match=r"^--start: 1999-01-01 is before today"):
        payments.create_plan(
            request_id, uow=uow, prices=prices, start=dt.date(1999, 1, 1), by="x", ctx=CTX, installments=6
        )
    assert payments.plans_for_request(request_id, uow=uow) == []


def test_an_installment_count_not_offered_names_the_option(checker: Checker, prices: PriceList) -> None:
    uow = FakeUnitOfWork()
    request_id = _intake(uow, checker, "EX-02-iv-not-covered")
    with pytest.raises(InvalidInput) as raised:
        payments.create_plan(request_id, uow=uow, prices=prices, start=today(), by="x", ctx=CTX, installments=7)
    assert raised.value.lines() == ["--installments: 7 is not offered (offered: 3, 6, 12)"]


def test_a_medicare_session_is_billed_by_its_own_dose(checker: Checker) -> None:
    uow = FakeUnitOfWork()
    request_id = _intake(uow, checker, "EX-05-medicare")
    at_case_dose = sessions.add(request_id, day=today(), uow=uow, ctx=CTX, by="nurse")
    lower = sessions.add(request_id, day=today(), uow=uow, ctx=CTX, by="nurse", dose_mg=56)
    assert (at_case_dose.dose_mg, at_case_dose.code) == (84, "G2083")
    assert (lower.dose_mg, lower.code, lower.units) == (56, "G2082", 1)


# --- on the command line -------------------------------------------------------------------------


def _plan_on_cli(cli: Cli, tmp_path: Path) -> str:
    """A not-covered IV request taken in with a plan of 6 installments from today: the plan's id."""
    taken = cli("intake", str(write_case(tmp_path, case_gathered("EX-02-iv-not-covered"))), "--json")
    plan = cli("plan", str(taken["request_id"]), "--installments", "6", "--start", str(today()), "--json")
    return str(plan["plan_id"])


def test_cli_amounts_are_plain_decimals(cli: Cli, tmp_path: Path) -> None:
    plan = _plan_on_cli(cli, tmp_path)
    for typed in ("1e3", "1,000", "Infinity"):
        assert cli.fails("payments", "record", plan, "--amount", typed, "--date", str(today())) == [
            f"error: --amount: not an amount: {typed!r} (write it like 3600.00)"
        ]


def test_cli_errors_name_the_options(cli: Cli, tmp_path: Path) -> None:
    plan = _plan_on_cli(cli, tmp_path)
    lines = cli.fails("payments", "record", plan, "--amount", "0", "--date", str(today()))
    assert lines == ["error: --amount: must be more than 0, got 0"]
    lines = cli.fails("payments", "record", plan, "--amount", "10", "--date", "2030-01-01", "--method", "bitcoin")
    assert lines == [
        "error: --method: 'bitcoin' is not one of card, cash, check, hsa, fsa",
        f"error: --date: 2030-01-01 is in the future (today is {today()})",
    ]
    past = (today() - dt.timedelta(days=1)).isoformat()
    assert cli.fails("payments", "restructure", plan, "--installments", "3", "--start", past) == [
        f"error: --start: {past} is before today ({today()}); a plan starts today or later"
    ]


def test_cli_payment_summary_is_overdue_as_of_today(cli: Cli, tmp_path: Path) -> None:
    plan = _plan_on_cli(cli, tmp_path)
    out = cli("payments", "record", plan, "--amount", "100", "--date", str(today()), "--method", "card")
    assert f"overdue as of {today()}" in out


def test_cli_a_plan_for_a_request_cannot_start_in_the_past(cli: Cli, tmp_path: Path) -> None:
    taken = cli("intake", str(write_case(tmp_path, case_gathered("EX-02-iv-not-covered"))), "--json")
    past = (today() - dt.timedelta(days=31)).isoformat()
    for extra in ([], ["--installments", "6"], ["--pay-in-full"]):
        assert cli.fails("plan", str(taken["request_id"]), "--start", past, *extra) == [
            f"error: --start: {past} is before today ({today()}); a plan starts today or later"
        ]
