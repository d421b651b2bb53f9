"""A stored plan's agreement, receipt and superbill: the letters' options (``services.plan_documents``) and the
documents made once on the request (``RequestDocuments.plan_paper``)."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from coverage.cases import parse_case_object
from coverage.clinic import load_clinic
from coverage.errors import InvalidInput
from coverage.letters.templates import long_date
from coverage.payments.ledger import PaymentRecord, PlanRecord
from coverage.payments.offers import superbill_suggested
from coverage.payments.plans import add_months, split_evenly
from coverage.policies.service import Checker
from coverage.services import documents as service
from coverage.services import payments
from coverage.services import requests as services
from coverage.services.context import Context
from coverage.services.plan_documents import PlanDocument, letter_options, plan_description
from coverage.settings import Settings
from coverage.store.documents import DocumentStore
from coverage.store.fake import FakeUnitOfWork
from tests.conftest import case_gathered, load_case_dict, today

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


# --- plan papers made on the request, once ------------------------------------------------------


class Office:
    """A not-covered IV request taken in on an in-memory unit of work, with a plan of 3 installments."""

    def __init__(self, checker: Checker, store: DocumentStore) -> None:
        self.checker, self.store, self.ctx, self.uow = checker, store, Context(), FakeUnitOfWork()
        self.clinic = load_clinic(Settings(clinic_file=None))
        case = json.dumps(case_gathered("EX-02-iv-not-covered"))
        self.request_id = services.intake(case, uow=self.uow, checker=checker, ctx=self.ctx, by="intake").request_id
        self.plan_id = payments.create_plan(
            self.request_id,
            uow=self.uow,
            prices=self.clinic.prices,
            start=today(),
            by="billing",
            ctx=self.ctx,
            installments=3,
        ).id

    def pay(self, amount: str, paid_on: dt.date) -> None:
        payments.record_payment(self.plan_id, uow=self.uow, amount=Decimal(amount), paid_on=paid_on, by="desk")

    def paper(self, kind: PlanDocument, *, service_dates: tuple[dt.date, ...] = ()) -> service.Made:
        plan = payments.get_plan(self.plan_id, uow=self.uow)
        with self.uow as uow:
            _, request = services.load(uow, self.request_id)
            documents = service.RequestDocuments(
                request, checker=self.checker, clinic=self.clinic, store=self.store, when=self.ctx.when()
            )
            made = documents.plan_paper(kind, plan, service_dates=service_dates)
            uow.commit()
        return made

    def text(self, made: service.Made) -> str:
        reader = PdfReader(io.BytesIO(service.read(made.document, store=self.store)))
        return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)

    def kinds(self) -> list[str]:
        with self.uow as uow:
            return [d.kind for d in services.load(uow, self.request_id)[1].documents]


@pytest.fixture
def office(checker: Checker, tmp_path: Path) -> Office:
    return Office(checker, DocumentStore(tmp_path / "documents"))


def test_the_agreement_is_made_once_and_dated_today(office: Office) -> None:
    agreement = office.paper("payment-plan")
    assert agreement.new
    number = agreement.document.control_number
    assert number.startswith(f"{office.request_id}-PPA-")
    assert agreement.document.key == f"{office.request_id}/{number}.pdf"
    assert agreement.document.dated == today()
    text = office.text(agreement)
    assert f"Agreement No. {number}" in text
    assert long_date(today()) in text
    assert "$3,600.00" in text
    assert f"3 of 3 {long_date(add_months(today(), 2))} $1,200.00" in text
    again = office.paper("payment-plan")
    assert not again.new
    assert again.document is agreement.document
    assert office.kinds() == ["payment-plan"]


def test_a_receipt_lists_the_payments_and_a_new_payment_makes_a_new_one(office: Office) -> None:
    with pytest.raises(InvalidInput, match=f"plan {office.plan_id} has no payments yet"):
        office.paper("receipt")
    office.pay("1200.00", today())
    first = office.paper("receipt")
    assert first.document.control_number.startswith(f"{office.request_id}-RCT-")
    assert "Total received $1,200.00" in office.text(first)
    assert not office.paper("receipt").new
    office.pay("200.00", today())
    second = office.paper("receipt")
    assert second.new
    assert second.document.control_number != first.document.control_number
    assert "Total received $1,400.00" in office.text(second)
    assert office.kinds() == ["receipt", "receipt"]


def test_a_superbill_itemizes_the_sessions_given(office: Office) -> None:
    sessions = (today() - dt.timedelta(days=2), today())
    superbill = office.paper("superbill", service_dates=sessions)
    text = office.text(superbill)
    assert superbill.document.control_number.startswith(f"{office.request_id}-SBL-")
    assert sessions[0].strftime("%m/%d/%Y") in text
    assert sessions[1].strftime("%m/%d/%Y") in text
    assert "96365" in text
    assert "Total charges (2 dates of service) $1,100.00" in text
    assert office.paper("superbill", service_dates=sessions).document is superbill.document
    assert office.paper("superbill", service_dates=sessions[:1]).new
