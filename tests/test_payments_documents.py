"""A stored plan turned into the letters' options for the agreement, the receipt and the superbill."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from coverage.cases import parse_case_object
from coverage.payments.documents import letter_options, plan_description, superbill_suggested
from coverage.payments.ledger import PaymentRecord, PlanRecord
from coverage.payments.plans import split_evenly
from tests.conftest import load_case_dict

START = dt.date(2026, 1, 31)
AT = dt.datetime(2026, 1, 20, tzinfo=dt.UTC)


def _payment(number: int, amount: str, paid_on: dt.date) -> PaymentRecord:
    return PaymentRecord(number, Decimal(amount), paid_on, "hsa" if number == 1 else None, AT, "billing")


def _plan(**changes: object) -> PlanRecord:
    fields: dict[str, object] = {
        "id": 7,
        "request_id": 3,
        "status": "active",
        "treatment": "esketamine",
        "dose_mg": 56,
        "course_total": Decimal("2100.00"),
        "discount": Decimal("0.00"),
        "total": Decimal("2100.00"),
        "start_date": START,
        "installments": split_evenly(Decimal("2100.00"), 3, START).installments,
        "payments": (),
        "replaces_plan_id": None,
        "created_at": AT,
        "created_by": "billing",
    }
    fields.update(changes)
    return PlanRecord(**fields)  # type: ignore[arg-type]


def test_agreement_options_carry_the_stored_schedule() -> None:
    plan = _plan()
    options = letter_options("payment-plan", plan)
    assert options.plan is not None
    assert options.plan.total == Decimal("2100.00")
    assert options.plan.installments == plan.installments
    assert options.plan_description == "Esketamine (Spravato) sessions, 56 mg, self-pay course (plan 7)"


def test_receipt_lists_every_payment_of_the_course_up_to_a_day() -> None:
    plan = _plan(
        replaces_plan_id=5,
        earlier_payments=(_payment(1, "700.00", START),),
        payments=(_payment(2, "100.00", dt.date(2026, 3, 1)), _payment(3, "100.00", dt.date(2026, 4, 1))),
    )
    options = letter_options("receipt", plan, through=dt.date(2026, 3, 31), service_dates=[START, START])
    assert [(p.paid_on, p.amount, p.method, p.reference) for p in options.payments] == [
        (START, Decimal("700.00"), "hsa", "payment 1"),
        (dt.date(2026, 3, 1), Decimal("100.00"), "unspecified", "payment 2"),
    ]
    assert options.service_dates == (START,)
    assert options.plan is None
    assert "restructures the balance of plan 5" in (options.plan_description or "")


def test_pay_in_full_description_names_the_discount() -> None:
    plan = _plan(treatment="iv_ketamine", dose_mg=None, discount=Decimal("180.00"), course_total=Decimal("3600.00"))
    assert plan_description(plan) == (
        "IV ketamine infusions, self-pay course (plan 7); course total 3600.00 less 180.00 for paying in full"
    )


def test_superbill_only_with_out_of_network_benefits() -> None:
    data = load_case_dict("EX-01-meets")
    data["coverage"]["out_of_network_benefits"] = True  # type: ignore[index]
    assert superbill_suggested(parse_case_object(data))
    data["coverage"]["out_of_network_benefits"] = False  # type: ignore[index]
    assert not superbill_suggested(parse_case_object(data))
    assert not superbill_suggested(parse_case_object(load_case_dict("EX-06-self-pay")))
