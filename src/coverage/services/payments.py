"""Self-pay services: create, pay, cancel and restructure payment plans; balances and overdue installments.

Each service opens the unit of work it is given, does its writes and commits once.
Rules:

- a plan is made for a request whose status may move to ``payment_plan`` (not covered, denied,
  appeal lost, authorization expired; see :mod:`coverage.requests.lifecycle`) or is already
  there, and a request has at most one active plan;
- from the price list, the installment count must be one the clinic offers and reach the
  minimum monthly installment; ``pay_in_full`` is one installment of the discounted total; a
  total typed by hand may use any count from 1 to 60 that reaches the minimum;
- a payment settles the oldest unpaid installment first; partial payments are fine; a payment
  above the balance is refused (nothing is carried: record the balance and refund the rest);
- cancelling keeps the plan, its installments and payments; restructuring closes the plan as
  ``restructured`` and opens a new one for the remaining balance naming it in
  ``replaces_plan_id``.

Errors name ids and fields, never patients.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from coverage.cases import Case, parse_case_object
from coverage.clinic import PriceList
from coverage.errors import IllegalTransition, InvalidInput, NotFound
from coverage.fields import optional_text
from coverage.payments.ledger import OverdueInstallment, PaymentRecord, PlanRecord, PlanStatus
from coverage.payments.offers import (
    Course,
    Offer,
    SavingsFlag,
    build_course,
    build_offer,
    choose_installments,
    manufacturer_savings,
    superbill_suggested,
)
from coverage.payments.plans import CENT, Installment, Schedule, discounted, split_evenly, term_problems
from coverage.requests import model as m
from coverage.requests.clocks import clinic_today
from coverage.requests.lifecycle import PLANNABLE
from coverage.services import requests as services
from coverage.services.context import Context, actor
from coverage.store.tables import Payment, PaymentPlan, PlanInstallment, utcnow

if TYPE_CHECKING:
    from coverage.store.uow import UnitOfWork


#: The longest payment method stored (``payments.method``).
METHOD_LENGTH = 20
#: How a patient can pay (the only methods recorded; receipts print them).
METHODS = ("card", "cash", "check", "hsa", "fsa")


def check_method(method: str | None) -> str | None:
    """One of :data:`METHODS` (any case, spaces around ignored), or ``None``."""
    if method is None:
        return None
    cleaned = method.strip(" ").lower()
    if cleaned not in METHODS:
        shown = method if method.isprintable() else method.encode("unicode_escape").decode("ascii")
        raise InvalidInput([f"--method: {shown[:40]!r} is not one of {', '.join(METHODS)}"])
    return cleaned


def check_start(start: dt.date, today: dt.date) -> None:
    """A plan's first due date is today or later: a plan made today asks for nothing in the past."""
    if start < today:
        raise InvalidInput(
            [f"--start: {start.isoformat()} is before today ({today.isoformat()}); a plan starts today or later"]
        )


def _status(plan: PaymentPlan) -> PlanStatus:
    if plan.status == "cancelled":
        return "cancelled"
    if plan.status == "restructured":
        return "restructured"
    return "active"


def _payment_record(payment: Payment) -> PaymentRecord:
    return PaymentRecord(
        id=payment.id,
        amount=payment.amount,
        paid_on=payment.paid_on,
        method=payment.method,
        recorded_at=payment.recorded_at,
        recorded_by=payment.recorded_by,
    )


def plan_record(plan: PaymentPlan, earlier: list[PaymentPlan] | None = None) -> PlanRecord:
    """The plain record of a loaded plan (``earlier``: the plans it replaced)."""
    earlier_payments = sorted(
        (_payment_record(p) for old in earlier or () for p in old.payments), key=lambda p: (p.paid_on, p.id)
    )
    return PlanRecord(
        id=plan.id,
        request_id=plan.request_id,
        status=_status(plan),
        treatment=plan.treatment,
        dose_mg=plan.dose_mg,
        course_total=plan.course_total,
        discount=plan.discount,
        total=plan.total,
        start_date=plan.start_date,
        installments=tuple(Installment(i.number, i.due_date, i.amount) for i in plan.installments),
        payments=tuple(_payment_record(p) for p in plan.payments),
        replaces_plan_id=plan.replaces_plan_id,
        created_at=plan.created_at,
        created_by=plan.created_by,
        closed_at=plan.closed_at,
        closed_by=plan.closed_by,
        close_reason=plan.close_reason,
        earlier_payments=tuple(earlier_payments),
    )


def _request(uow: UnitOfWork, request_id: int) -> m.Request:
    return services.load(uow, request_id)[1]


def request_case(request_id: int, *, uow: UnitOfWork) -> Case:
    """The current case version of a stored request (inside an open unit of work)."""
    return parse_case_object(_request(uow, request_id).current_version.document)


def request_course(request_id: int, *, uow: UnitOfWork, prices: PriceList) -> Course:
    """The price-list course of a stored request: its treatment and dose, a consultation first when initial."""
    request = _request(uow, request_id)
    case = request_case(request_id, uow=uow)
    return build_course(prices, request.treatment, case.request.dose_mg, with_consultation=request.kind == "initial")


def _get_plan(uow: UnitOfWork, plan_id: int, *, for_update: bool = False) -> PaymentPlan:
    plan = uow.plans.get(plan_id, for_update=for_update)
    if plan is None:
        raise NotFound(f"plan {plan_id}: not found")
    return plan


def _require_active(plan: PaymentPlan, action: str) -> None:
    if plan.status != "active":
        raise IllegalTransition(f"plan {plan.id}: is {plan.status}; only an active plan can {action}")


def _money(amount: Decimal, field: str) -> Decimal:
    """A positive amount in whole cents, with two decimal places."""
    problems = [f"{field}: {problem}" for name, problem in term_problems(amount, 1) if name == "total"]
    if problems:
        raise InvalidInput(problems)
    return amount.quantize(CENT)


def _new_plan(
    request_id: int,
    schedule: Schedule,
    *,
    treatment: str | None,
    dose_mg: int | None,
    course_total: Decimal,
    discount: Decimal,
    by: str,
    replaces_plan_id: int | None = None,
) -> PaymentPlan:
    plan = PaymentPlan(
        request_id=request_id,
        status="active",
        treatment=treatment,
        dose_mg=dose_mg,
        course_total=course_total,
        discount=discount,
        total=schedule.total,
        start_date=schedule.installments[0].due_date,
        replaces_plan_id=replaces_plan_id,
        created_at=utcnow(),
        created_by=by,
    )
    plan.installments = [
        PlanInstallment(number=i.number, due_date=i.due_date, amount=i.amount) for i in schedule.installments
    ]
    plan.payments = []
    return plan


def _options(split: Callable[..., Schedule], *args: Any, **kwargs: Any) -> Schedule:
    """A schedule whose problems name the command-line options (``--total``, ``--installments``, ``--start``)."""
    try:
        return split(*args, **kwargs)
    except InvalidInput as error:
        raise InvalidInput([p if p.startswith("--") else f"--{p}" for p in error.problems]) from None


@dataclass(frozen=True, slots=True)
class PlanQuote:
    """The terms a new plan for a request would have; nothing stored."""

    request_id: int
    treatment: str
    dose_mg: int | None
    course_total: Decimal
    discount: Decimal
    schedule: Schedule


@dataclass(frozen=True, slots=True)
class RequestOffer:
    """The self-pay offer for a stored request, with the savings and document hints."""

    request_id: int
    status: str
    plan_type: str
    account_type: str | None
    course: Course
    offer: Offer
    savings: SavingsFlag
    superbill_suggested: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "status": self.status,
            "treatment": self.course.treatment,
            "dose_mg": self.course.dose_mg,
            "course": [line.to_dict() for line in self.course.lines],
            **self.offer.to_dict(),
            "manufacturer_savings": self.savings.to_dict(),
            "hsa_fsa_account": self.account_type,
            "superbill_suggested": self.superbill_suggested,
        }


def _check_plannable(request: m.Request) -> None:
    if request.status not in PLANNABLE:
        raise IllegalTransition(
            f"request {request.id}: is {request.status}; a payment plan follows no coverage or a denial"
        )


def request_offer(request_id: int, *, uow: UnitOfWork, prices: PriceList, start: dt.date) -> RequestOffer:
    """What the clinic can offer for a stored request: the course, pay in full, installment options."""
    with uow:
        request = _request(uow, request_id)
        case = request_case(request_id, uow=uow)
        treatment, kind, status = request.treatment, request.kind, request.status
    course = build_course(prices, treatment, case.request.dose_mg, with_consultation=kind == "initial")
    return RequestOffer(
        request_id=request_id,
        status=status,
        plan_type=case.coverage.plan_type,
        account_type=case.coverage.account_type,
        course=course,
        offer=build_offer(course.total, prices, start),
        savings=manufacturer_savings(case.coverage.plan_type, treatment),
        superbill_suggested=superbill_suggested(case),
    )


def _quote(
    request: m.Request,
    case: Case,
    *,
    prices: PriceList,
    start: dt.date,
    installments: int | None,
    pay_in_full: bool,
    total: Decimal | None,
) -> PlanQuote:
    if pay_in_full == (installments is not None):
        raise InvalidInput(["--installments: give a number of installments or pay in full (one of the two)"])
    _check_plannable(request)
    if total is None:
        course = build_course(
            prices, request.treatment, case.request.dose_mg, with_consultation=request.kind == "initial"
        )
        course_total = course.total
    else:
        course_total = _money(total, "--total")
    discount = Decimal("0.00")
    if pay_in_full:
        discount, price = discounted(course_total, prices.pay_in_full_discount_pct)
        schedule = _options(split_evenly, price, 1, start)
    elif total is None:
        assert installments is not None
        schedule = choose_installments(course_total, installments, start, prices)
    else:
        assert installments is not None
        schedule = _options(split_evenly, course_total, installments, start, minimum=prices.minimum_installment)
    assert request.id is not None
    return PlanQuote(request.id, request.treatment, case.request.dose_mg, course_total, discount, schedule)


def quote_plan(
    request_id: int,
    *,
    uow: UnitOfWork,
    prices: PriceList,
    start: dt.date,
    installments: int | None = None,
    pay_in_full: bool = False,
    total: Decimal | None = None,
) -> PlanQuote:
    """Check and compute a plan's terms without storing anything (same rules as :func:`create_plan`)."""
    with uow:
        request = _request(uow, request_id)
        case = request_case(request_id, uow=uow)
        return _quote(
            request, case, prices=prices, start=start, installments=installments, pay_in_full=pay_in_full, total=total
        )


def create_plan(
    request_id: int,
    *,
    uow: UnitOfWork,
    prices: PriceList,
    start: dt.date,
    by: str,
    ctx: Context,
    installments: int | None = None,
    pay_in_full: bool = False,
    total: Decimal | None = None,
) -> PlanRecord:
    """Store a payment plan for a request: ``installments`` monthly at 0%, or ``pay_in_full`` at the discount.

    Without ``total`` the course comes from the price list for the request's treatment and dose.
    The request moves to ``payment_plan`` (when it is not there yet) in the same transaction as
    the plan is stored, so neither lands without the other; every rule is checked before the
    move, so a refused plan leaves the request as it was (also in the in-memory unit of work).
    """
    by, when = actor(by), ctx.when()
    check_start(start, when.today)
    with uow:
        request = _request(uow, request_id)
        plans = uow.plans
        active = plans.active_for_request(request_id)
        if active is not None:
            raise IllegalTransition(
                f"request {request_id}: plan {active.id} is active; restructure or cancel it instead"
            )
        case = parse_case_object(request.current_version.document)
        quote = _quote(
            request, case, prices=prices, start=start, installments=installments, pay_in_full=pay_in_full, total=total
        )
        if request.status != "payment_plan":
            request.move("payment_plan", when, by, reason="self-pay payment plan")
        plan = plans.add(
            _new_plan(
                request_id,
                quote.schedule,
                treatment=quote.treatment,
                dose_mg=quote.dose_mg,
                course_total=quote.course_total,
                discount=quote.discount,
                by=by,
            )
        )
        uow.flush()
        record = plan_record(plan)
        uow.commit()
    return record


def get_plan(plan_id: int, *, uow: UnitOfWork) -> PlanRecord:
    """A stored plan with its schedule, payments, and the payments of the plans it replaced."""
    with uow:
        plan = _get_plan(uow, plan_id)
        return plan_record(plan, uow.plans.chain(plan))


def plans_for_request(request_id: int, *, uow: UnitOfWork) -> list[PlanRecord]:
    """Every plan of a request (active, cancelled, restructured), oldest first."""
    with uow:
        _request(uow, request_id)
        return [plan_record(p) for p in uow.plans.for_request(request_id)]


def balance(plan_id: int, *, uow: UnitOfWork) -> Decimal:
    """What is still owed on a plan."""
    return get_plan(plan_id, uow=uow).balance


def record_payment(
    plan_id: int,
    *,
    uow: UnitOfWork,
    amount: Decimal,
    paid_on: dt.date,
    by: str,
    method: str | None = None,
    ctx: Context | None = None,
) -> PlanRecord:
    """Record money received; it settles the oldest unpaid installment first. More than the balance is refused.

    The payment's date is not in the future (the clinic's today) and not before the request was taken in.
    """
    by, when = actor(by), (ctx or Context()).when()
    problems: list[str] = []
    try:
        amount = _money(amount, "--amount")
    except InvalidInput as error:
        problems += error.problems
    try:
        method = check_method(method)
    except InvalidInput as error:
        problems += error.problems
    if paid_on > when.today:
        problems.append(f"--date: {paid_on.isoformat()} is in the future (today is {when.today.isoformat()})")
    if problems:
        raise InvalidInput(problems)
    with uow:
        plans = uow.plans
        plan = _get_plan(uow, plan_id, for_update=True)
        _require_active(plan, "take payments")
        opened = clinic_today(when.timezone, now=_request(uow, plan.request_id).created_at)
        if paid_on < opened:
            raise InvalidInput(
                [f"--date: {paid_on.isoformat()} is before the request was taken in ({opened.isoformat()})"]
            )
        owed = plan_record(plan).balance
        if amount > owed:
            raise InvalidInput([f"--amount: {amount} is more than the balance {owed} of plan {plan_id}"])
        plan.payments.append(
            Payment(
                plan_id=plan.id,
                amount=amount,
                paid_on=paid_on,
                method=method,
                recorded_at=utcnow(),
                recorded_by=by,
            )
        )
        uow.flush()
        record = plan_record(plan, plans.chain(plan))
        uow.commit()
    return record


def cancel_plan(plan_id: int, *, uow: UnitOfWork, by: str, reason: str | None = None) -> PlanRecord:
    """Close an active plan; its installments and payments stay on record."""
    by, reason = actor(by), optional_text("--reason", reason)
    with uow:
        plans = uow.plans
        plan = _get_plan(uow, plan_id, for_update=True)
        _require_active(plan, "be cancelled")
        plan.status, plan.closed_at, plan.closed_by, plan.close_reason = "cancelled", utcnow(), by, reason
        uow.flush()
        record = plan_record(plan, plans.chain(plan))
        uow.commit()
    return record


def restructure_plan(
    plan_id: int,
    *,
    uow: UnitOfWork,
    prices: PriceList,
    installments: int,
    start: dt.date,
    by: str,
    reason: str | None = None,
    ctx: Context | None = None,
) -> PlanRecord:
    """Replace an active plan by a new one for its remaining balance; the old plan keeps its payments.

    The new schedule starts today or later, in an installment count the clinic offers.
    """
    by, reason = actor(by), optional_text("--reason", reason)
    check_start(start, (ctx or Context()).when().today)
    with uow:
        plans = uow.plans
        plan = _get_plan(uow, plan_id, for_update=True)
        _require_active(plan, "be restructured")
        remaining = plan_record(plan).balance
        if remaining <= 0:
            raise IllegalTransition(f"plan {plan_id}: is paid in full; nothing to restructure")
        schedule = choose_installments(remaining, installments, start, prices)
        plan.status, plan.closed_at, plan.closed_by, plan.close_reason = "restructured", utcnow(), by, reason
        uow.flush()  # the old plan leaves ``active`` before its replacement arrives
        replacement = plans.add(
            _new_plan(
                plan.request_id,
                schedule,
                treatment=plan.treatment,
                dose_mg=plan.dose_mg,
                course_total=plan.course_total,
                discount=plan.discount,
                by=by,
                replaces_plan_id=plan.id,
            )
        )
        uow.flush()
        record = plan_record(replacement, plans.chain(replacement))
        uow.commit()
    return record


def overdue_installments(as_of: dt.date, *, uow: UnitOfWork) -> list[OverdueInstallment]:
    """Unpaid installments of active plans due before ``as_of``, oldest due first."""
    with uow:
        found: list[OverdueInstallment] = []
        for plan in uow.plans.active_with_installments_due_before(as_of):
            request = _request(uow, plan.request_id)
            found.extend(
                OverdueInstallment(
                    plan_id=plan.id,
                    request_id=plan.request_id,
                    case_id=request.case_id,
                    number=s.number,
                    due_date=s.due_date,
                    remaining=s.remaining,
                    days_overdue=(as_of - s.due_date).days,
                )
                for s in plan_record(plan).overdue(as_of)
            )
    return sorted(found, key=lambda o: (o.due_date, o.plan_id, o.number))


def overdue_plans(as_of: dt.date, *, uow: UnitOfWork) -> list[PlanRecord]:
    """Active plans with an installment overdue on ``as_of`` (inside an open unit of work)."""
    records = (plan_record(plan) for plan in uow.plans.active_with_installments_due_before(as_of))
    return [record for record in records if record.overdue(as_of)]
