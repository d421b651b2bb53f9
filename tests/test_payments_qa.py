"""A billing clerk's walk through the account (QA of issue 10), one test per finding: each failed before its fix."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pypdf import PdfReader

from coverage.clinic import PriceList, load_clinic
from coverage.errors import IllegalTransition, InvalidInput
from coverage.services import payments, sessions
from coverage.services.account_documents import session_items
from coverage.services.context import Context
from coverage.services.requests import intake, load
from coverage.settings import Settings
from coverage.store.fake import FakeUnitOfWork
from tests.conftest import Cli, backdate_intake, case_gathered, today, write_case

if TYPE_CHECKING:
    from coverage.policies.service import Checker

CTX = Context()
SELF_PAY = {"policy_id": None, "plan_type": "self_pay", "account_type": "hsa"}
D = Decimal


@pytest.fixture(scope="module")
def prices() -> PriceList:
    return load_clinic(Settings(clinic_file=None)).prices


def _intake(uow: FakeUnitOfWork, checker: Checker, name: str, patient: str = "MRN-QA", **changes: Any) -> int:
    data = case_gathered(name, **changes)
    data["patient"]["id"] = patient
    return intake(json.dumps(data), uow=uow, checker=checker, ctx=CTX, by="intake").request_id


def _plan(uow: FakeUnitOfWork, request_id: int, prices: PriceList, **terms: Any) -> int:
    terms.setdefault("installments", 6)
    made = payments.create_plan(request_id, uow=uow, prices=prices, start=today(), by="billing", ctx=CTX, **terms)
    return made.id


def _rows(uow: FakeUnitOfWork, patient: str = "MRN-QA") -> list[tuple[Any, ...]]:
    return [(e.id, e.kind, e.amount) for e, _ in payments.get_account(patient, uow=uow).entries]


# --- 1. voids under an active plan ---------------------------------------------------------------


def test_a_charge_an_active_plan_schedules_is_not_voided(checker: Checker, prices: PriceList) -> None:
    uow = FakeUnitOfWork()
    plan_id = _plan(uow, _intake(uow, checker, "EX-02-iv-not-covered"), prices)
    charge = next(e.id for e, _ in payments.get_account("MRN-QA", uow=uow).entries if e.kind == "charge")
    assert charge is not None
    before = _rows(uow)
    with pytest.raises(IllegalTransition) as refused:
        payments.void_entry(charge, uow=uow, reason="typo", by="desk", ctx=CTX)
    assert refused.value.lines() == [
        f"entry {charge}: is a charge active plan {plan_id} schedules; cancel plan {plan_id} first, "
        "then void it and make a new plan for what is owed"
    ]
    assert _rows(uow) == before
    payments.cancel_plan(plan_id, uow=uow, by="manager", ctx=CTX)
    payments.void_entry(charge, uow=uow, reason="typo", by="desk", ctx=CTX)  # no plan schedules it now


def test_the_discount_of_an_active_pay_in_full_plan_is_not_voided(checker: Checker, prices: PriceList) -> None:
    uow = FakeUnitOfWork()
    plan_id = _plan(uow, _intake(uow, checker, "EX-02-iv-not-covered"), prices, installments=None, pay_in_full=True)
    discount = next(e.id for e, _ in payments.get_account("MRN-QA", uow=uow).entries if e.kind == "adjustment")
    assert discount is not None
    with pytest.raises(IllegalTransition, match=rf"^entry {discount}: is the pay-in-full discount of active plan"):
        payments.void_entry(discount, uow=uow, reason="typo", by="desk", ctx=CTX)
    assert payments.get_plan(plan_id, uow=uow).balance == D("3420.00")


def test_installments_are_settled_only_by_money_paid_on_the_plan(checker: Checker, prices: PriceList) -> None:
    """An adjustment or a deposit under an active plan comes off the last installments; none shows as paid."""
    uow = FakeUnitOfWork()
    plan_id = _plan(uow, _intake(uow, checker, "EX-02-iv-not-covered"), prices)  # 6 x 600.00
    payments.record_payment(plan_id, uow=uow, amount=D("100.00"), paid_on=today(), by="desk", method="card")
    payments.adjust_account("MRN-QA", uow=uow, amount=D("650.00"), reason="care not given", by="m", ctx=CTX)
    plan = payments.get_plan(plan_id, uow=uow)
    statuses = plan.statuses()
    assert [s.paid for s in statuses] == [D("100.00")] + [D("0.00")] * 5
    assert [s.remaining for s in statuses] == [D("500.00")] + [D("600.00")] * 3 + [D("550.00"), D("0.00")]
    assert sum(s.remaining for s in statuses) == plan.balance == D("2850.00")
    assert [s.number for s in plan.overdue(today() + dt.timedelta(days=1))] == [1]


# --- 2. sessions are dated within the patient's life at the clinic -------------------------------


def test_a_session_before_the_birth_date_or_the_first_intake_is_refused(checker: Checker) -> None:
    uow = FakeUnitOfWork()
    request_id = _intake(uow, checker, "EX-01-meets")
    with pytest.raises(InvalidInput) as refused:
        sessions.add(request_id, day=dt.date(1900, 1, 1), uow=uow, ctx=CTX, by="nurse")
    assert refused.value.lines() == ["--date: 1900-01-01 is before the patient's birth date"]
    yesterday = today() - dt.timedelta(days=1)
    with pytest.raises(InvalidInput) as refused:
        sessions.add(request_id, day=yesterday, uow=uow, ctx=CTX, by="nurse")
    assert refused.value.lines() == [f"--date: {yesterday} is before the patient's first intake ({today()})"]
    assert sessions.list_sessions(request_id, uow=uow) == []
    backdate_intake(uow, 1)
    assert sessions.add(request_id, day=yesterday, uow=uow, ctx=CTX, by="nurse").date == yesterday


# --- 3 and 4. superbill lines: one per code per date, the NDC of each session's dose --------------


def test_superbill_lines_merge_a_day_s_sessions_with_the_ndc_of_each_dose(checker: Checker, prices: PriceList) -> None:
    uow = FakeUnitOfWork()
    request_id = _intake(uow, checker, "EX-01-meets", coverage=SELF_PAY)  # the case's dose: 56 mg
    backdate_intake(uow, 1)
    yesterday = today() - dt.timedelta(days=1)
    sessions.add(request_id, day=yesterday, uow=uow, ctx=CTX, by="nurse", dose_mg=84)
    sessions.add(request_id, day=today(), uow=uow, ctx=CTX, by="nurse", dose_mg=56)
    sessions.add(request_id, day=today(), uow=uow, ctx=CTX, by="nurse", dose_mg=84)
    with uow:
        course, request = load(uow, request_id)
        items = session_items(course, request, prices)
    lines = [(i.date, i.code, i.units, i.charge, i.ndc) for i in items]
    assert lines == [
        (yesterday, "J0013", 84, D("1050.00"), ("50458-028-03",)),  # 84 mg: the 84 mg kit, not the case's 56
        (yesterday, "99213", 1, D("120.00"), ()),
        (yesterday, "99415", 1, D("80.00"), ()),
        (today(), "J0013", 140, D("1750.00"), ("50458-028-02", "50458-028-03")),
        (today(), "99213", 2, D("240.00"), ()),
        (today(), "99415", 2, D("160.00"), ()),
    ]


def _pdf_pages(pdf: Path) -> list[str]:
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf.read_bytes())).pages]


def test_cli_superbill_totals_and_signature_on_the_last_page(cli: Cli, tmp_path: Path) -> None:
    data = case_gathered("EX-01-meets", coverage=SELF_PAY)
    request = str(cli("intake", str(write_case(tmp_path, data)), "--json")["request_id"])
    for dose in ("56", "84"):
        cli("sessions", "add", request, "--date", str(today()), "--dose-mg", dose, "--json")
    out = tmp_path / "superbill.pdf"
    cli("payments", "superbill", request, "--out", str(out))
    pages = _pdf_pages(out)
    text = " ".join(pages)
    assert text.count(today().strftime("%m/%d/%Y")) == 4  # the statement's date, one line per code on the day
    assert "J0013 140" in text
    assert "NDC 50458-028-02, 50458-028-03" in text
    assert "Total charges (1 date of service) $2,150.00" in text
    assert "I certify" in pages[-1]
    assert "Rosa Delgado" in pages[-1].split("I certify")[1]


# --- 5, 11. the agreement of a stored plan is the plan's ------------------------------------------


def test_cli_letter_payment_plan_of_a_request_is_its_stored_plan(cli: Cli, tmp_path: Path) -> None:
    taken = cli("intake", str(write_case(tmp_path, case_gathered("EX-02-iv-not-covered"))), "--json")
    request = str(taken["request_id"])
    plan = cli("plan", request, "--installments", "6", "--json")
    cli("payments", "record", str(plan["plan_id"]), "--amount", "1000.01", "--date", str(today()), "--method", "card")
    restructured = cli("payments", "restructure", str(plan["plan_id"]), "--installments", "3", "--json")
    letter = tmp_path / "letter.pdf"
    agreement = tmp_path / "agreement.pdf"
    cli("letter", "--request", request, "--kind", "payment-plan", "--out", str(letter))
    cli("payments", "agreement", str(restructured["plan_id"]), "--out", str(agreement))
    assert letter.read_bytes() == agreement.read_bytes()  # the same stored document, not a quote
    text = " ".join(_pdf_pages(letter))
    assert "$2,599.99" in text  # what the account owes, not the 3,600.00 course
    assert "the first of $866.67" in text
    assert "then 2 of $866.66" in text
    assert "discount" not in text  # a restructured balance: paying the course in full is no longer on offer
    assert cli.fails("letter", "--request", request, "--kind", "payment-plan", "--installments", "3", "--out", "x") == [
        f"error: --installments: request {request} has plan {restructured['plan_id']}; "
        "its agreement shows the plan's terms"
    ]


# --- 6. the offer is on the open balance ---------------------------------------------------------


def test_cli_offer_is_on_the_account_s_open_balance(cli: Cli, tmp_path: Path) -> None:
    taken = cli("intake", str(write_case(tmp_path, case_gathered("EX-02-iv-not-covered"))), "--json")
    request = str(taken["request_id"])
    plan = cli("plan", request, "--installments", "6", "--json")
    cli("payments", "record", str(plan["plan_id"]), "--amount", "1000", "--date", str(today()), "--method", "card")
    cli("payments", "cancel", str(plan["plan_id"]))
    offer = cli("plan", request, "--json")
    assert (offer["total"], offer["course_total"], offer["course_charged"]) == ("2600.00", "3600.00", True)
    assert offer["pay_in_full"]["amount"] == "2470.00"
    assert [(o["installments"], o["first_amount"]) for o in offer["installment_options"]] == [
        (3, "866.68"),
        (6, "433.35"),
        (12, "216.74"),
    ]
    assert "course charged already: the offer is on the balance due 2,600.00" in cli("plan", request)


# --- 7. an agreement that cannot be written stores nothing ---------------------------------------


def test_cli_an_agreement_that_cannot_be_written_stores_no_plan(cli: Cli, tmp_path: Path) -> None:
    taken = cli("intake", str(write_case(tmp_path, case_gathered("EX-02-iv-not-covered"))), "--json")
    request = str(taken["request_id"])
    missing = tmp_path / "no-such-folder" / "agreement.pdf"
    assert cli.fails("plan", request, "--installments", "6", "--agreement", str(missing)) == [
        f"error: --agreement: cannot write {missing} (no folder {missing.parent})"
    ]
    assert cli.fails("plan", request, "--installments", "6", "--agreement", str(tmp_path)) == [
        f"error: --agreement: cannot write {tmp_path} (is a folder)"
    ]
    assert cli("payments", "list", request, "--json") == []
    assert cli("requests", "show", request, "--json")["status"] == "draft"
    assert cli.fails("payments", "statement", "MRN-NONE", "--out", str(missing)) == [
        f"error: --out: cannot write {missing} (no folder {missing.parent})"
    ]


# --- 8. an adjustment names this patient's request -----------------------------------------------


def test_an_adjustment_for_another_patient_s_request_is_refused(checker: Checker, prices: PriceList) -> None:
    uow = FakeUnitOfWork()
    mine = _intake(uow, checker, "EX-02-iv-not-covered")
    theirs = _intake(uow, checker, "EX-06-self-pay", patient="MRN-OTHER")
    _plan(uow, mine, prices)
    _plan(uow, theirs, prices)
    before = _rows(uow)
    with pytest.raises(InvalidInput) as refused:
        payments.adjust_account("MRN-QA", uow=uow, amount=D("10"), reason="x", by="m", ctx=CTX, request_id=theirs)
    assert refused.value.lines() == [f"--request: request {theirs} is not this patient's"]
    assert _rows(uow) == before


# --- 9. a plan's days are the clinic's -----------------------------------------------------------


def test_a_closed_plan_is_dated_the_clinic_s_day(checker: Checker, prices: PriceList) -> None:
    from coverage.requests.clocks import clinic_today

    utc = dt.datetime.now(dt.UTC).date()
    zone = next(z for z in ("Etc/GMT+12", "Etc/GMT-14") if clinic_today(z) != utc)
    ctx = Context(timezone=zone)
    uow = FakeUnitOfWork()
    request_id = intake(
        json.dumps(case_gathered("EX-02-iv-not-covered", clinic_today(zone))), uow=uow, checker=checker, ctx=ctx, by="i"
    ).request_id
    made = payments.create_plan(
        request_id, uow=uow, prices=prices, start=clinic_today(zone), by="b", ctx=ctx, installments=6
    )
    cancelled = payments.cancel_plan(made.id, uow=uow, by="m", ctx=ctx)
    assert cancelled.closed_on == cancelled.created_on == clinic_today(zone) != utc
    assert payments.get_plan(made.id, uow=uow, ctx=ctx).to_dict()["closed_on"] == clinic_today(zone).isoformat()


# --- 12. a plan starts within a year -------------------------------------------------------------


def test_a_plan_starts_within_a_year(checker: Checker, prices: PriceList) -> None:
    uow = FakeUnitOfWork()
    request_id = _intake(uow, checker, "EX-02-iv-not-covered")
    late = today() + dt.timedelta(days=366)
    with pytest.raises(InvalidInput) as refused:
        payments.create_plan(request_id, uow=uow, prices=prices, start=late, by="b", ctx=CTX, installments=6)
    assert refused.value.lines() == [
        f"--start: {late} is more than 365 days ahead; a plan starts by {today() + dt.timedelta(days=365)}"
    ]
    assert payments.plans_for_request(request_id, uow=uow) == []
    plan_id = _plan(uow, request_id, prices)
    with pytest.raises(InvalidInput, match="more than 365 days ahead"):
        payments.restructure_plan(plan_id, uow=uow, prices=prices, installments=3, start=late, by="m", ctx=CTX)


# --- 13. the account at 80 columns ----------------------------------------------------------------


def test_cli_account_is_readable_at_80_columns(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    data = case_gathered("EX-01-meets", coverage=SELF_PAY)
    data["patient"]["id"] = "MRN-80"
    request = str(cli("intake", str(write_case(tmp_path, data)), "--json")["request_id"])
    plan = cli("plan", request, "--installments", "3", "--json")
    cli("payments", "record", str(plan["plan_id"]), "--amount", "8000", "--date", str(today()), "--method", "card")
    text = cli("payments", "account", "MRN-80")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text
    rows = [line for line in lines if line.startswith("│") and line[1:8].strip().isdigit()]
    assert len(rows) == 5  # four charges, one payment
    ends = {
        line.index(amount) + len(amount)
        for line, amount in zip(rows, ("300.00", "5,600.00", "960.00", "640.00", "-8,000.00"), strict=True)
    }
    assert len(ends) == 1  # amounts right-aligned in one column
    assert lines[-1] == "credit on account 500.00"
    statement = tmp_path / "statement.pdf"
    cli("payments", "statement", "MRN-80", "--out", str(statement))
    assert "Credit on account $500.00 credit" in " ".join(_pdf_pages(statement))


def test_cli_letter_payment_plan_without_a_plan_quotes_the_open_balance(cli: Cli, tmp_path: Path) -> None:
    """QA 6: with no plan stored, the agreement quoted is on what the account owes (a deposit counts)."""
    data = case_gathered("EX-02-iv-not-covered")
    request = str(cli("intake", str(write_case(tmp_path, data)), "--json")["request_id"])
    patient = data["patient"]["id"]
    cli("payments", "record", "--patient", patient, "--amount", "600", "--date", str(today()), "--method", "cash")
    letter = tmp_path / "quote.pdf"
    cli("letter", "--request", request, "--kind", "payment-plan", "--installments", "3", "--out", str(letter))
    text = " ".join(_pdf_pages(letter))
    assert "Total amount $3,000.00" in text  # the course's 3,600.00 less the 600.00 deposit
    assert "3 monthly payments of $1,000.00" in text


def test_cli_a_void_that_leaves_more_owed_than_the_plan_asks_says_so(cli: Cli, tmp_path: Path) -> None:
    """A payment on a restructured plan voided: the account owes more than the active plan asks; the clerk is told."""
    taken = cli("intake", str(write_case(tmp_path, case_gathered("EX-02-iv-not-covered"))), "--json")
    first = cli("plan", str(taken["request_id"]), "--installments", "6", "--json")
    paid = cli(
        "payments",
        "record",
        str(first["plan_id"]),
        "--amount",
        "600",
        "--date",
        str(today()),
        "--method",
        "card",
        "--json",
    )
    second = cli("payments", "restructure", str(first["plan_id"]), "--installments", "3", "--json")
    out = cli("payments", "void", str(paid["payment_id"]), "--reason", "the check bounced")
    assert out.splitlines()[1:] == [
        "balance due 3,600.00",
        f"active plan {second['plan_id']} asks 3,000.00: restructure it to schedule the 600.00 it does not",
    ]


def test_cli_a_closed_plan_asks_for_nothing(cli: Cli, tmp_path: Path) -> None:
    """After a restructure only the active plan shows what is owed (the old one showed it too: owed twice)."""
    data = case_gathered("EX-02-iv-not-covered")
    taken = cli("intake", str(write_case(tmp_path, data)), "--json")
    request = str(taken["request_id"])
    first = cli("plan", request, "--installments", "6", "--json")
    second = cli("payments", "restructure", str(first["plan_id"]), "--installments", "3", "--json")
    rows = [line.split("│") for line in cli("payments", "list", request).splitlines() if line.startswith("│")]
    assert [(row[1].strip(), row[2].strip(), row[6].strip()) for row in rows] == [
        (str(first["plan_id"]), "restructured", "-"),
        (str(second["plan_id"]), "active", "3,600.00"),
    ]
    account = cli("payments", "account", data["patient"]["id"], "--json")
    assert [(p["status"], p["owed"]) for p in account["plans"]] == [("restructured", "0.00"), ("active", "3600.00")]
