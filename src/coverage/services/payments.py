"""Self-pay services: the patient's account and its ledger; plans that schedule what the account owes.

Each service opens the unit of work it is given, takes the account's row first (locked on
PostgreSQL: concurrent writers to one account queue), does its writes and commits once.
Rules (the ledger's own in :mod:`coverage.payments.account`):

- a plan is made for a request whose status may move to ``payment_plan`` (not covered, denied,
  appeal lost, authorization expired; see :mod:`coverage.requests.lifecycle`) or is already
  there; an account has at most one active plan;
- making a request's first plan charges its course to the account from the price list, one
  charge per billing code, once per request; a plan schedules the account's balance, never
  more: a new plan after a cancelled or restructured one asks only for what is still owed;
- the installment count must be one the clinic offers and reach the minimum monthly
  installment (a total typed by hand too), and the first installment is due today or later and
  at most :data:`coverage.payments.offers.MAX_START_DAYS` ahead, on every path (create, restructure, the letters);
- a charge an active plan schedules, and its pay-in-full discount, are not voided (cancel the
  plan first); only payments on a plan settle its installments;
- ``pay_in_full`` posts the discount as an adjustment; a pay-in-full plan cancelled or
  restructured before it is paid loses its discount (the adjustment is voided);
- a payment may be on a plan or on the account (a deposit); more than is owed leaves a credit;
  a plan paid off becomes ``completed`` (and ``active`` again if a payment on it is voided or
  refunded);
- cancelling keeps the plan, its charges and payments; restructuring closes the plan as
  ``restructured`` and opens a new one for what is still owed naming it in ``replaces_plan_id``.

Errors name ids and options, never patients.
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
from coverage.fields import clean_text, optional_text
from coverage.payments.account import ZERO, Entry, Ledger, check_amount, check_method
from coverage.payments.ledger import OverdueInstallment, PaymentRecord, PlanRecord, PlanStatus
from coverage.payments.offers import (
    Course,
    Offer,
    SavingsFlag,
    build_course,
    build_offer,
    check_start,
    choose_installments,
    manufacturer_savings,
    superbill_suggested,
)
from coverage.payments.plans import Installment, Schedule, discounted, split_evenly
from coverage.requests import model as m
from coverage.requests.clocks import clinic_today
from coverage.requests.lifecycle import PLANNABLE
from coverage.requests.model import When
from coverage.services import requests as services
from coverage.services.context import Context, actor
from coverage.store.tables import Account, LedgerEntry, PaymentPlan, PlanInstallment, utcnow

if TYPE_CHECKING:
    from coverage.store.uow import UnitOfWork

__all__ = ["check_method"]

#: The reason of the adjustment a pay-in-full plan posts.
DISCOUNT_REASON = "pay-in-full discount"


def _context(ctx: Context | None) -> Context:
    """The caller's context, or the settings' (``PRIORAUTH_TIMEZONE``): never a zone guessed."""
    if ctx is not None:
        return ctx
    from coverage.settings import load_settings

    return Context.from_settings(load_settings())


#: How far ahead a plan's first installment may be due.
def _status(plan: PaymentPlan) -> PlanStatus:
    if plan.status in ("cancelled", "restructured", "completed"):
        return plan.status  # type: ignore[return-value]
    return "active"


# --- the account and its ledger ------------------------------------------------------------------


def _entry(row: LedgerEntry) -> Entry:
    return Entry(
        kind=row.kind,  # type: ignore[arg-type]
        amount=row.amount,
        on=row.on_date,
        id=row.id,
        method=row.method,
        code=row.code,
        units=row.units,
        description=row.description,
        reason=row.reason,
        request_id=row.request_id,
        plan_id=row.plan_id,
        refers_to=row.refers_to,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
    )


def _opened(uow: UnitOfWork, account: Account, timezone: str) -> dt.date | None:
    patient = uow.patients.get(account.patient_id)
    if patient is None or patient.created_at is None:
        return None
    return clinic_today(timezone, now=patient.created_at)


def ledger_of(uow: UnitOfWork, account: Account, timezone: str = "America/New_York") -> Ledger:
    """The domain ledger of a loaded account."""
    return Ledger([_entry(row) for row in account.entries], opened=_opened(uow, account, timezone))


def _account_for(uow: UnitOfWork, patient_id: int, *, create: bool) -> Account | None:
    """The patient's account, its row locked; made when ``create`` and there is none."""
    account = uow.accounts.for_patient(patient_id, for_update=True)
    if account is None and create:
        now = utcnow()
        account = uow.accounts.add(Account(patient_id=patient_id, created_at=now, updated_at=now))
        account.entries = []
        uow.flush()
    return account


def _post(account: Account, entry: Entry, *, by: str, when: When, plan_id: int | None = None) -> LedgerEntry:
    """Store one checked entry on the account (and move the account's version)."""
    row = LedgerEntry(
        account_id=account.id,
        kind=entry.kind,
        amount=entry.amount,
        on_date=entry.on,
        method=entry.method,
        code=entry.code,
        units=entry.units,
        description=entry.description,
        reason=entry.reason,
        request_id=entry.request_id,
        plan_id=plan_id if plan_id is not None else entry.plan_id,
        refers_to=entry.refers_to,
        recorded_at=when.now,
        recorded_by=by,
    )
    account.entries.append(row)
    account.updated_at = when.now
    return row


def _payment_record(entry: Entry) -> PaymentRecord:
    assert entry.id is not None
    assert entry.recorded_at is not None
    return PaymentRecord(
        id=entry.id,
        amount=entry.amount,
        paid_on=entry.on,
        method=entry.method,
        recorded_at=entry.recorded_at,
        recorded_by=entry.recorded_by or "",
    )


def _clinic_day(at: dt.datetime | None, timezone: str) -> dt.date | None:
    """The clinic's day of a stored timestamp (SQLite gives it back without its zone: UTC)."""
    if at is None:
        return None
    return clinic_today(timezone, now=at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC))


def plan_record(
    plan: PaymentPlan,
    ledger: Ledger,
    earlier: list[PaymentPlan] | None = None,
    timezone: str = "America/New_York",
) -> PlanRecord:
    """The plain record of a loaded plan with its payments from the ledger (``earlier``: the plans it replaced);
    its days (made, closed) are the clinic's (``timezone``)."""
    earlier_ids = {p.id for p in earlier or ()}
    payments = ledger.live("payment")
    earlier_payments = sorted(
        (_payment_record(e) for e in payments if e.plan_id in earlier_ids), key=lambda p: (p.paid_on, p.id)
    )
    mine = [e for e in payments if e.plan_id == plan.id]
    refunded = sum((ledger.refunded(e.id) for e in mine if e.id is not None), ZERO)
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
        payments=tuple(_payment_record(e) for e in sorted(mine, key=lambda e: (e.on, e.id or 0))),
        replaces_plan_id=plan.replaces_plan_id,
        created_at=plan.created_at,
        created_by=plan.created_by,
        closed_at=plan.closed_at,
        closed_on=_clinic_day(plan.closed_at, timezone),
        created_on=_clinic_day(plan.created_at, timezone),
        closed_by=plan.closed_by,
        close_reason=plan.close_reason,
        earlier_payments=tuple(earlier_payments),
        refunded=refunded,
        account_balance=ledger.balance,
        account_id=plan.account_id,
    )


def _plan_account(uow: UnitOfWork, plan: PaymentPlan) -> Account:
    account = uow.accounts.get(plan.account_id, for_update=True)
    assert account is not None  # a foreign key
    return account


def _record(uow: UnitOfWork, plan: PaymentPlan, account: Account, timezone: str = "America/New_York") -> PlanRecord:
    return plan_record(plan, ledger_of(uow, account, timezone), uow.plans.chain(plan), timezone)


def _settle_plans(uow: UnitOfWork, account: Account, ledger: Ledger, when: When, by: str) -> None:
    """A plan paid off becomes ``completed``; a completed plan that owes again (a void, a refund) is active again."""
    plans = list(uow.plans.for_account(account.id))
    for plan in plans:
        owed = ledger.owed_on_plan(plan.id, plan.total)
        if plan.status == "active" and owed == 0:
            plan.status, plan.closed_at, plan.closed_by, plan.close_reason = "completed", when.now, by, "paid off"
        elif plan.status == "completed" and owed > 0 and not any(p.status == "active" for p in plans):
            plan.status, plan.closed_at, plan.closed_by, plan.close_reason = "active", None, None, None


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
    return check_amount(amount, field)


def _new_plan(
    request_id: int,
    account_id: int,
    schedule: Schedule,
    *,
    treatment: str | None,
    dose_mg: int | None,
    course_total: Decimal,
    discount: Decimal,
    by: str,
    when: When,
    replaces_plan_id: int | None = None,
) -> PaymentPlan:
    plan = PaymentPlan(
        request_id=request_id,
        account_id=account_id,
        status="active",
        treatment=treatment,
        dose_mg=dose_mg,
        course_total=course_total,
        discount=discount,
        total=schedule.total,
        start_date=schedule.installments[0].due_date,
        replaces_plan_id=replaces_plan_id,
        created_at=when.now,
        created_by=by,
    )
    plan.installments = [
        PlanInstallment(number=i.number, due_date=i.due_date, amount=i.amount) for i in schedule.installments
    ]
    return plan


def _options(split: Callable[..., Schedule], *args: Any, **kwargs: Any) -> Schedule:
    """A schedule whose problems name the command-line options (``--total``, ``--installments``, ``--start``)."""
    try:
        return split(*args, **kwargs)
    except InvalidInput as error:
        raise InvalidInput([p if p.startswith("--") else f"--{p}" for p in error.problems]) from None


def course_charges(course: Course, prices: PriceList, *, on: dt.date, request_id: int | None) -> tuple[Entry, ...]:
    """The charges of a course: one per billing code of each line (its units for all the sessions).

    A line whose codes' prices do not add up to its price (a price list made by hand) is charged whole.
    """
    charges: list[Entry] = []
    for line in course.lines:
        codes = line.billing_codes
        parts = []
        if codes and all(code in prices.codes for code in codes):
            for code in codes:
                units = prices.code_units(line.key, code) * line.sessions
                parts.append(
                    Entry(
                        "charge",
                        prices.codes[code] * units,
                        on,
                        code=code,
                        units=units,
                        description=f"{line.description} ({line.sessions} x)",
                        request_id=request_id,
                    )
                )
        if sum((e.amount for e in parts), ZERO) != line.amount:
            parts = [
                Entry(
                    "charge",
                    line.amount,
                    on,
                    code=codes[0] if len(codes) == 1 else None,
                    units=line.sessions,
                    description=f"{line.description} ({line.sessions} x)",
                    request_id=request_id,
                )
            ]
        charges.extend(parts)
    return tuple(charges)


@dataclass(frozen=True, slots=True)
class PlanQuote:
    """The terms a new plan for a request would have; nothing stored.

    ``charges`` are what making the plan posts first (the course, when the request was never
    charged); the plan schedules the account's balance after them.
    """

    request_id: int
    treatment: str
    dose_mg: int | None
    course_total: Decimal
    discount: Decimal
    schedule: Schedule
    charges: tuple[Entry, ...] = ()


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
    #: The account's balance before the offer (the course not charged yet is added to it).
    account_balance: Decimal = ZERO
    #: Whether the course was charged already (by an earlier plan of the request).
    charged: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "status": self.status,
            "treatment": self.course.treatment,
            "dose_mg": self.course.dose_mg,
            "course": [line.to_dict() for line in self.course.lines],
            "course_total": str(self.course.total),
            "account_balance": str(self.account_balance),
            "course_charged": self.charged,
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


def request_offer(
    request_id: int, *, uow: UnitOfWork, prices: PriceList, start: dt.date, timezone: str = "America/New_York"
) -> RequestOffer:
    """What the clinic can offer for a stored request: the course, and pay in full and the installment
    options on what a plan made now would schedule: the account's open balance (with the course
    charged first when the request was never charged), not the course price."""
    with uow:
        request = _request(uow, request_id)
        case = request_case(request_id, uow=uow)
        treatment, kind, status = request.treatment, request.kind, request.status
        ledger = _ledger_for_request(uow, request, timezone)
    course = build_course(prices, treatment, case.request.dose_mg, with_consultation=kind == "initial")
    owed = ledger.balance + (ZERO if ledger.charged_for(request_id) else course.total)
    if owed <= 0:
        raise IllegalTransition(f"request {request_id}: the account owes nothing (balance {ledger.balance})")
    return RequestOffer(
        request_id=request_id,
        status=status,
        plan_type=case.coverage.plan_type,
        account_type=case.coverage.account_type,
        course=course,
        offer=build_offer(owed, prices, start),
        account_balance=ledger.balance,
        charged=ledger.charged_for(request_id),
        savings=manufacturer_savings(case.coverage.plan_type, treatment),
        superbill_suggested=superbill_suggested(case),
    )


def _quote(
    request: m.Request,
    case: Case,
    ledger: Ledger,
    *,
    prices: PriceList,
    start: dt.date,
    today: dt.date,
    installments: int | None,
    pay_in_full: bool,
    total: Decimal | None,
) -> PlanQuote:
    if pay_in_full == (installments is not None):
        raise InvalidInput(["--installments: give a number of installments or pay in full (one of the two)"])
    _check_plannable(request)
    assert request.id is not None
    charged = ledger.charged_for(request.id)
    charges: tuple[Entry, ...] = ()
    if total is None:
        course = build_course(
            prices, request.treatment, case.request.dose_mg, with_consultation=request.kind == "initial"
        )
        course_total = course.total
        if not charged:
            charges = course_charges(course, prices, on=today, request_id=request.id)
    else:
        course_total = _money(total, "--total")
        if charged:
            raise InvalidInput(
                [f"--total: request {request.id} is charged already; a new plan schedules what the account owes"]
            )
        charges = (
            Entry("charge", course_total, today, description="course at the agreed total", request_id=request.id),
        )
    owed = ledger.balance + sum((c.amount for c in charges), ZERO)
    if owed <= 0:
        raise IllegalTransition(f"request {request.id}: the account owes nothing (balance {ledger.balance})")
    discount = Decimal("0.00")
    if pay_in_full:
        discount, price = discounted(owed, prices.pay_in_full_discount_pct)
        schedule = _options(split_evenly, price, 1, start)
    elif total is None:
        assert installments is not None
        schedule = choose_installments(owed, installments, start, prices)
    else:
        assert installments is not None
        schedule = choose_installments(owed, installments, start, prices)
    return PlanQuote(request.id, request.treatment, case.request.dose_mg, course_total, discount, schedule, charges)


def _ledger_for_request(uow: UnitOfWork, request: m.Request, timezone: str) -> Ledger:
    account = uow.accounts.for_patient(request.patient_id)
    return ledger_of(uow, account, timezone) if account is not None else Ledger(())


def quote_plan(
    request_id: int,
    *,
    uow: UnitOfWork,
    prices: PriceList,
    start: dt.date,
    installments: int | None = None,
    pay_in_full: bool = False,
    total: Decimal | None = None,
    ctx: Context | None = None,
) -> PlanQuote:
    """Check and compute a plan's terms without storing anything (same rules as :func:`create_plan`)."""
    ctx = _context(ctx)
    when = ctx.when()
    check_start(start, when.today)
    with uow:
        request = _request(uow, request_id)
        case = request_case(request_id, uow=uow)
        return _quote(
            request,
            case,
            _ledger_for_request(uow, request, ctx.timezone),
            prices=prices,
            start=start,
            today=when.today,
            installments=installments,
            pay_in_full=pay_in_full,
            total=total,
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

    The request's first plan charges its course to the patient's account (from the price list for
    its treatment and dose, or ``total``); the plan schedules the account's balance. The request
    moves to ``payment_plan`` (when it is not there yet) in the same transaction as the plan is
    stored; every rule is checked before anything is written (also in the in-memory unit of work).
    """
    by, when = actor(by), ctx.when()
    check_start(start, when.today)
    with uow:
        request = _request(uow, request_id)
        account = _account_for(uow, request.patient_id, create=True)
        assert account is not None
        active = uow.plans.active_for_account(account.id)
        if active is not None:
            raise IllegalTransition(
                f"request {request_id}: plan {active.id} is active; restructure or cancel it instead"
            )
        case = parse_case_object(request.current_version.document)
        quote = _quote(
            request,
            case,
            ledger_of(uow, account, ctx.timezone),
            prices=prices,
            start=start,
            today=when.today,
            installments=installments,
            pay_in_full=pay_in_full,
            total=total,
        )
        if request.status != "payment_plan":
            request.move("payment_plan", when, by, reason="self-pay payment plan")
        for charge in quote.charges:
            _post(account, charge, by=by, when=when)
        plan = uow.plans.add(
            _new_plan(
                request_id,
                account.id,
                quote.schedule,
                treatment=quote.treatment,
                dose_mg=quote.dose_mg,
                course_total=quote.course_total,
                discount=quote.discount,
                by=by,
                when=when,
            )
        )
        uow.flush()
        if quote.discount > 0:
            discount = Entry("adjustment", quote.discount, when.today, reason=DISCOUNT_REASON, request_id=request_id)
            _post(account, discount, by=by, when=when, plan_id=plan.id)
            uow.flush()
        record = _record(uow, plan, account, ctx.timezone)
        uow.commit()
    return record


def get_plan(plan_id: int, *, uow: UnitOfWork, ctx: Context | None = None) -> PlanRecord:
    """A stored plan with its schedule, payments, and the payments of the plans it replaced."""
    timezone = _context(ctx).timezone
    with uow:
        plan = _get_plan(uow, plan_id)
        account = uow.accounts.get(plan.account_id)
        assert account is not None
        return _record(uow, plan, account, timezone)


def open_total(uow: UnitOfWork, request_id: int, prices: PriceList, timezone: str = "America/New_York") -> Decimal:
    """What a plan made now for a request would schedule (inside an open unit of work): the account's
    balance, with the request's course from the price list when it was never charged."""
    request = _request(uow, request_id)
    ledger = _ledger_for_request(uow, request, timezone)
    owed = ledger.balance
    if not ledger.charged_for(request_id):
        owed += request_course(request_id, uow=uow, prices=prices).total
    if owed <= 0:
        raise IllegalTransition(f"request {request_id}: the account owes nothing (balance {ledger.balance})")
    return owed


def agreement_plan(uow: UnitOfWork, request_id: int, timezone: str = "America/New_York") -> PlanRecord | None:
    """The plan a request's agreement shows (inside an open unit of work): the active one, else the latest."""
    plans = list(uow.plans.for_request(request_id))
    if not plans:
        return None
    plan = next((p for p in reversed(plans) if p.status == "active"), plans[-1])
    account = uow.accounts.get(plan.account_id)
    assert account is not None
    return _record(uow, plan, account, timezone)


def plans_for_request(request_id: int, *, uow: UnitOfWork, ctx: Context | None = None) -> list[PlanRecord]:
    """Every plan of a request (active, completed, cancelled, restructured), oldest first."""
    timezone = _context(ctx).timezone
    with uow:
        _request(uow, request_id)
        records = []
        for plan in uow.plans.for_request(request_id):
            account = uow.accounts.get(plan.account_id)
            assert account is not None
            records.append(plan_record(plan, ledger_of(uow, account, timezone), timezone=timezone))
        return records


def balance(plan_id: int, *, uow: UnitOfWork) -> Decimal:
    """What a plan still asks for."""
    return get_plan(plan_id, uow=uow).balance


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """A patient's account: its ledger (voided rows marked), the totals, the balance and its plans."""

    account_id: int
    patient_id: int
    entries: tuple[tuple[Entry, bool], ...]
    charges: Decimal
    adjustments: Decimal
    payments: Decimal
    refunds: Decimal
    balance: Decimal
    plans: tuple[PlanRecord, ...]

    @property
    def credit(self) -> Decimal:
        return max(-self.balance, ZERO)

    def to_dict(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "charges": str(self.charges),
            "adjustments": str(self.adjustments),
            "payments": str(self.payments),
            "refunds": str(self.refunds),
            "balance": str(self.balance),
            "credit": str(self.credit),
            "entries": [{**e.to_dict(), "voided": voided} for e, voided in self.entries],
            "plans": [
                {
                    "plan_id": p.id,
                    "request_id": p.request_id,
                    "status": p.status,
                    "total": str(p.total),
                    "owed": str(p.balance if p.status == "active" else ZERO),  # a closed plan asks nothing
                }
                for p in self.plans
            ],
        }


def account_record(uow: UnitOfWork, account: Account, timezone: str = "America/New_York") -> AccountRecord:
    """The account's record (inside an open unit of work)."""
    ledger = ledger_of(uow, account, timezone)
    return AccountRecord(
        account_id=account.id,
        patient_id=account.patient_id,
        entries=tuple((e, ledger.is_voided(e)) for e in ledger.entries),
        charges=ledger.total("charge"),
        adjustments=ledger.total("adjustment"),
        payments=ledger.total("payment"),
        refunds=ledger.total("refund"),
        balance=ledger.balance,
        plans=tuple(plan_record(p, ledger, timezone=timezone) for p in uow.plans.for_account(account.id)),
    )


def patient_account(uow: UnitOfWork, patient: str, *, create: bool) -> Account:
    """A patient's account by the clinic's patient id, its row locked (made when ``create``)."""
    row = uow.patients.by_external_id(patient.strip())
    if row is None:
        raise NotFound("PATIENT: no patient with that id")
    account = _account_for(uow, row.id, create=create)
    if account is None:
        raise NotFound("PATIENT: the patient has no account yet (no plan, no payment)")
    return account


def _entry_account(uow: UnitOfWork, entry_id: int) -> Account:
    account_id = uow.accounts.by_entry(entry_id)
    if account_id is None:
        raise NotFound(f"entry {entry_id}: not found")
    account = uow.accounts.get(account_id, for_update=True)
    assert account is not None
    return account


def get_account(patient: str, *, uow: UnitOfWork, ctx: Context | None = None) -> AccountRecord:
    """A patient's account (by the clinic's patient id)."""
    timezone = _context(ctx).timezone
    with uow:
        return account_record(uow, patient_account(uow, patient, create=False), timezone)


@dataclass(frozen=True, slots=True)
class Posted:
    """An entry just posted, with the account after it and the plan it is on (if any)."""

    entry: Entry
    account: AccountRecord
    plan: PlanRecord | None

    def to_dict(self, as_of: dt.date | None = None) -> dict[str, object]:
        key = {"payment": "payment_id", "refund": "refund_id", "void": "void_id", "adjustment": "adjustment_id"}
        return {
            key.get(self.entry.kind, "entry_id"): self.entry.id,
            "entry": self.entry.to_dict(),
            "balance": str(self.account.balance),
            "credit": str(self.account.credit),
            "plan": self.plan.to_dict(as_of) if self.plan is not None else None,
        }


def _posted(uow: UnitOfWork, account: Account, row: LedgerEntry, timezone: str) -> Posted:
    uow.flush()
    entry = _entry(row)
    plan = uow.plans.get(entry.plan_id) if entry.plan_id is not None else None
    return Posted(
        entry,
        account_record(uow, account, timezone),
        _record(uow, plan, account, timezone) if plan is not None else None,
    )


def receive_payment(
    *,
    uow: UnitOfWork,
    amount: Decimal,
    paid_on: dt.date,
    by: str,
    ctx: Context | None = None,
    method: str | None = None,
    plan_id: int | None = None,
    patient: str | None = None,
) -> Posted:
    """Money received on a plan (``plan_id``) or on the patient's account (``patient``: a deposit).

    The date is not in the future and not before the patient's first intake; the method one of
    the five; more than is owed leaves a credit. A plan paid off becomes ``completed``.
    """
    ctx = _context(ctx)
    by, when = actor(by), ctx.when()
    if (plan_id is None) == (patient is None):
        raise InvalidInput(["PLAN: give a plan, or --patient for a payment on the account"])
    with uow:
        if plan_id is not None:
            plan = _get_plan(uow, plan_id, for_update=True)
            account = _plan_account(uow, plan)
            request_id: int | None = plan.request_id
        else:
            assert patient is not None
            plan, account, request_id = None, patient_account(uow, patient, create=True), None
        ledger = ledger_of(uow, account, ctx.timezone)
        entry = ledger.payment(amount, paid_on, today=when.today, method=method, plan_id=plan_id, request_id=request_id)
        if plan is not None:
            _require_active(plan, "take payments (a payment on the account: --patient)")
        row = _post(account, entry, by=by, when=when)
        uow.flush()
        _settle_plans(uow, account, ledger_of(uow, account, ctx.timezone), when, by)
        posted = _posted(uow, account, row, ctx.timezone)
        uow.commit()
    return posted


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
    """Money received on a plan; it settles the oldest unpaid installment first (see :func:`receive_payment`)."""
    posted = receive_payment(uow=uow, amount=amount, paid_on=paid_on, by=by, ctx=ctx, method=method, plan_id=plan_id)
    assert posted.plan is not None
    return posted.plan


def refund_payment(
    payment_id: int,
    *,
    uow: UnitOfWork,
    amount: Decimal,
    reason: str,
    by: str,
    ctx: Context | None = None,
    on: dt.date | None = None,
) -> Posted:
    """Money given back on a payment, to the method it was paid by, at most what is left of it."""
    ctx = _context(ctx)
    by, when = actor(by), ctx.when()
    reason = clean_text("--reason", reason)
    with uow:
        account = _entry_account(uow, payment_id)
        ledger = ledger_of(uow, account, ctx.timezone)
        entry = ledger.refund(payment_id, amount, on or when.today, today=when.today, reason=reason)
        row = _post(account, entry, by=by, when=when)
        uow.flush()
        _settle_plans(uow, account, ledger_of(uow, account, ctx.timezone), when, by)
        posted = _posted(uow, account, row, ctx.timezone)
        uow.commit()
    return posted


def _check_not_scheduled(uow: UnitOfWork, account: Account, entry: Entry) -> None:
    """A charge, or an active plan's pay-in-full discount, is what an active plan schedules: voiding it
    would leave the plan's installments asking for a total that no longer exists. Cancel the plan
    first (its payments stay), void, then make a new plan for what is owed."""
    active = uow.plans.active_for_account(account.id)
    if active is None:
        return
    if entry.kind == "charge":
        raise IllegalTransition(
            f"entry {entry.id}: is a charge active plan {active.id} schedules; cancel plan {active.id} first, "
            "then void it and make a new plan for what is owed"
        )
    if entry.kind == "adjustment" and entry.plan_id == active.id and entry.reason == DISCOUNT_REASON:
        raise IllegalTransition(
            f"entry {entry.id}: is the pay-in-full discount of active plan {active.id}; "
            f"cancel or restructure plan {active.id} instead (it loses the discount)"
        )


def void_entry(entry_id: int, *, uow: UnitOfWork, reason: str, by: str, ctx: Context | None = None) -> Posted:
    """Cancel an entry recorded by mistake: a void row names it; nothing is changed or deleted."""
    ctx = _context(ctx)
    by, when = actor(by), ctx.when()
    reason = clean_text("--reason", reason)
    with uow:
        account = _entry_account(uow, entry_id)
        ledger = ledger_of(uow, account, ctx.timezone)
        void = ledger.void(entry_id, when.today, reason=reason)
        _check_not_scheduled(uow, account, ledger.entry(entry_id))
        row = _post(account, void, by=by, when=when)
        uow.flush()
        _settle_plans(uow, account, ledger_of(uow, account, ctx.timezone), when, by)
        posted = _posted(uow, account, row, ctx.timezone)
        uow.commit()
    return posted


def adjust_account(
    patient: str,
    *,
    uow: UnitOfWork,
    amount: Decimal,
    reason: str,
    by: str,
    ctx: Context | None = None,
    request_id: int | None = None,
) -> Posted:
    """Take an amount off what the account owes (care not given, a write-off); never makes a credit."""
    ctx = _context(ctx)
    by, when = actor(by), ctx.when()
    reason = clean_text("--reason", reason)
    with uow:
        account = patient_account(uow, patient, create=False)
        if request_id is not None and _request(uow, request_id).patient_id != account.patient_id:
            raise InvalidInput([f"--request: request {request_id} is not this patient's"])
        ledger = ledger_of(uow, account, ctx.timezone)
        row = _post(
            account, ledger.adjustment(amount, when.today, reason=reason, request_id=request_id), by=by, when=when
        )
        uow.flush()
        _settle_plans(uow, account, ledger_of(uow, account, ctx.timezone), when, by)
        posted = _posted(uow, account, row, ctx.timezone)
        uow.commit()
    return posted


def _drop_discount(account: Account, ledger: Ledger, plan: PaymentPlan, *, by: str, when: When, why: str) -> None:
    """A pay-in-full plan closed before it is paid loses its discount: its adjustment is voided."""
    for entry in ledger.live("adjustment"):
        if entry.plan_id == plan.id and entry.reason == DISCOUNT_REASON and entry.id is not None:
            _post(account, ledger.void(entry.id, when.today, reason=why), by=by, when=when)


def _discount_left(ledger: Ledger, plan: PaymentPlan) -> Decimal:
    return sum(
        (e.amount for e in ledger.live("adjustment") if e.plan_id == plan.id and e.reason == DISCOUNT_REASON), ZERO
    )


def cancel_plan(
    plan_id: int, *, uow: UnitOfWork, by: str, reason: str | None = None, ctx: Context | None = None
) -> PlanRecord:
    """Close an active plan; its charges, installments and payments stay on record (a pay-in-full
    plan not paid loses its discount)."""
    ctx = _context(ctx)
    by, reason, when = actor(by), optional_text("--reason", reason), ctx.when()
    with uow:
        plan = _get_plan(uow, plan_id, for_update=True)
        _require_active(plan, "be cancelled")
        account = _plan_account(uow, plan)
        ledger = ledger_of(uow, account, ctx.timezone)
        _drop_discount(
            account, ledger, plan, by=by, when=when, why=f"pay-in-full plan {plan.id} cancelled before it was paid"
        )
        plan.status, plan.closed_at, plan.closed_by, plan.close_reason = "cancelled", when.now, by, reason
        uow.flush()
        record = _record(uow, plan, account, ctx.timezone)
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
    """Replace an active plan by a new one for what the account still owes; the old plan keeps its payments.

    The new schedule starts today or later, in an installment count the clinic offers. A pay-in-full
    plan restructured loses its discount.
    """
    ctx = _context(ctx)
    by, reason, when = actor(by), optional_text("--reason", reason), ctx.when()
    check_start(start, when.today)
    with uow:
        plan = _get_plan(uow, plan_id, for_update=True)
        _require_active(plan, "be restructured")
        account = _plan_account(uow, plan)
        ledger = ledger_of(uow, account, ctx.timezone)
        owed = ledger.balance + _discount_left(ledger, plan)
        if owed <= 0:
            raise IllegalTransition(f"plan {plan_id}: is paid in full; nothing to restructure")
        schedule = choose_installments(owed, installments, start, prices)
        _drop_discount(
            account, ledger, plan, by=by, when=when, why=f"pay-in-full plan {plan.id} restructured before it was paid"
        )
        plan.status, plan.closed_at, plan.closed_by, plan.close_reason = "restructured", when.now, by, reason
        uow.flush()  # the old plan leaves ``active`` before its replacement arrives
        replacement = uow.plans.add(
            _new_plan(
                plan.request_id,
                account.id,
                schedule,
                treatment=plan.treatment,
                dose_mg=plan.dose_mg,
                course_total=plan.course_total,
                discount=Decimal("0.00"),
                by=by,
                when=when,
                replaces_plan_id=plan.id,
            )
        )
        uow.flush()
        record = _record(uow, replacement, account, ctx.timezone)
        uow.commit()
    return record


def _plan_records_due(uow: UnitOfWork, as_of: dt.date) -> list[PlanRecord]:
    records = []
    for plan in uow.plans.active_with_installments_due_before(as_of):
        account = uow.accounts.get(plan.account_id)
        assert account is not None
        records.append(plan_record(plan, ledger_of(uow, account)))
    return records


def overdue_installments(as_of: dt.date, *, uow: UnitOfWork) -> list[OverdueInstallment]:
    """Unpaid installments of active plans due before ``as_of``, oldest due first."""
    with uow:
        found: list[OverdueInstallment] = []
        for record in _plan_records_due(uow, as_of):
            request = _request(uow, record.request_id)
            found.extend(
                OverdueInstallment(
                    plan_id=record.id,
                    request_id=record.request_id,
                    case_id=request.case_id,
                    number=s.number,
                    due_date=s.due_date,
                    remaining=s.remaining,
                    days_overdue=(as_of - s.due_date).days,
                )
                for s in record.overdue(as_of)
            )
    return sorted(found, key=lambda o: (o.due_date, o.plan_id, o.number))


def overdue_plans(as_of: dt.date, *, uow: UnitOfWork) -> list[PlanRecord]:
    """Active plans with an installment overdue on ``as_of`` (inside an open unit of work)."""
    return [record for record in _plan_records_due(uow, as_of) if record.overdue(as_of)]
