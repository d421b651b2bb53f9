"""``priorauth plan`` and ``priorauth payments``: self-pay offers, payment plans and payments.

``priorauth plan --total 3600.00 --installments 6 --start 2026-01-31`` is a calculator (no
database); ``priorauth plan REQUEST_ID`` shows the offer for a stored request, and with
``--installments N`` (or ``--pay-in-full``) moves the request to ``payment_plan`` and stores the
plan. ``priorauth payments ...`` records payments, shows, cancels and restructures plans, lists
overdue installments and renders the agreement, HSA/FSA receipt and superbill. SQLAlchemy and
WeasyPrint are imported inside the commands that need them.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from coverage.cli.app import app
from coverage.cli.options import check_out, option_date, option_id, write_out
from coverage.errors import InvalidInput
from coverage.payments.plans import Schedule, split_evenly, term_problems
from coverage.settings import load_settings

if TYPE_CHECKING:
    from coverage.clinic import Clinic
    from coverage.payments.ledger import PlanRecord
    from coverage.services.context import Context
    from coverage.services.payments import AccountRecord, RequestOffer
    from coverage.services.plan_documents import PlanDocument
    from coverage.settings import Settings
    from coverage.store.uow import UnitOfWork

payments_app = typer.Typer(
    help="Self-pay plans: record payments, show, cancel, restructure, overdue, documents.", no_args_is_help=True
)
app.add_typer(payments_app, name="payments")

#: An amount as a clerk types it: digits, at most one decimal point, an optional sign.
_PLAIN_AMOUNT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)

By = Annotated[str | None, typer.Option("--by", help="Who makes the change (default: login name).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON; amounts as decimal strings.")]


def parse_money(text: str, option: str, problems: list[str]) -> Decimal | None:
    """A plain decimal amount typed on the command line (``1e3`` and ``1,000`` are refused: they are
    easily meant as something else); the problem is added to ``problems`` naming ``option``."""
    value = None
    if _PLAIN_AMOUNT.fullmatch(text.strip()):
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            value = None
    if value is None or not value.is_finite():
        problems.append(f"{option}: not an amount: {text!r} (write it like 3600.00)")
        return None
    return value


def parse_count(text: str, option: str, problems: list[str]) -> int | None:
    """A whole number typed on the command line."""
    try:
        return int(text.strip(), 10)
    except ValueError:
        problems.append(f"{option}: not a whole number: {text!r}")
        return None


def parse_date(text: str, option: str, problems: list[str]) -> dt.date | None:
    """A ``YYYY-MM-DD`` date; impossible dates (2026-02-30) are refused."""
    try:
        return option_date(option, text)
    except InvalidInput:
        problems.append(f"{option}: not a valid date: {text!r} (YYYY-MM-DD)")
        return None


def money_problems(amount: Decimal, option: str) -> list[str]:
    """An amount must be positive and in whole cents."""
    return [f"{option}: {problem}" for field, problem in term_problems(amount, 1) if field == "total"]


def clinic_today(timezone: str) -> dt.date:
    """Today's date at the clinic."""
    return dt.datetime.now(ZoneInfo(timezone)).date()


def print_schedule(schedule: Schedule) -> None:
    """The schedule as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("due date")
    table.add_column("amount", justify="right")
    for installment in schedule.installments:
        table.add_row(str(installment.number), installment.due_date.isoformat(), f"{installment.amount:,}")
    console = Console()
    console.print(table)
    console.print(f"total {schedule.total:,} in {len(schedule.installments)} monthly installments at 0%")


def _calculator(total_text: str, installments_text: str | None, start_text: str | None, as_json: bool) -> None:
    from coverage.clinic import load_clinic
    from coverage.settings import load_settings

    problems: list[str] = []
    total = parse_money(total_text, "--total", problems)
    if installments_text is None:
        problems.append("--installments: required with --total")
        count = None
    else:
        count = parse_count(installments_text, "--installments", problems)
    start = parse_date(start_text, "--start", problems) if start_text is not None else None
    clinic = load_clinic(load_settings())
    if total is not None and count is not None:
        minimum = clinic.prices.minimum_installment
        problems += [f"--{field}: {p}" for field, p in term_problems(total, count, minimum=minimum)]
    elif total is not None:
        problems += money_problems(total, "--total")
    if problems:
        raise InvalidInput(problems)
    assert total is not None
    assert count is not None
    try:
        schedule = split_evenly(total, count, start or clinic_today(load_settings().timezone))
    except InvalidInput as error:  # name the command-line options, as above
        raise InvalidInput([f"--{problem}" for problem in error.problems]) from None
    if as_json:
        print(json.dumps(schedule.to_dict(), indent=2))
    else:
        print_schedule(schedule)


def _login(by: str | None) -> str:
    if by is not None and by.strip():
        return by.strip()[:120]
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return "unknown"


def _request_id(text: str, option: str = "REQUEST_ID") -> int:
    return option_id(option, text)


@dataclass(frozen=True, slots=True)
class _Context:
    clinic: Clinic
    uow: UnitOfWork
    ctx: Context
    settings: Settings


@contextmanager
def _database() -> Iterator[_Context]:
    from coverage.clinic import load_clinic
    from coverage.services.context import Context
    from coverage.settings import load_settings
    from coverage.store.db import open_database

    settings = load_settings()
    clinic = load_clinic(settings)
    database = open_database(settings)
    try:
        yield _Context(clinic, database.unit_of_work(), Context.from_settings(settings), settings)
    finally:
        database.dispose()


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _right(header: str) -> Any:
    """A right-aligned column (amounts, counts): digits line up."""
    from rich.table import Column

    return Column(header, justify="right")


def print_offer(offer: RequestOffer) -> None:
    """The self-pay offer of a request as tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    o = offer.offer
    dose = f" {offer.course.dose_mg} mg" if offer.course.dose_mg else ""
    console.print(f"[bold]request {offer.request_id}[/bold]  {offer.course.treatment}{dose}  status {offer.status}")
    course = Table("service", "codes", _right("price"), _right("sessions"), _right("amount"), title="course")
    for line in offer.course.lines:
        course.add_row(
            line.description,
            ", ".join(line.billing_codes),
            f"{line.unit_price:,}",
            str(line.sessions),
            f"{line.amount:,}",
        )
    console.print(course)
    if offer.charged:
        console.print(f"course charged already: the offer is on the {_balance_line(o.total)}")
    elif offer.account_balance != 0:
        console.print(
            f"account before this course: {_balance_line(offer.account_balance)}; the offer is on {o.total:,}"
        )
    options = Table(
        "option", _right("first payment"), _right("then monthly"), _right("total"), title="offer (0% interest)"
    )
    options.add_row(f"pay in full ({o.discount_pct}% off)", f"{o.pay_in_full:,}", "", f"{o.pay_in_full:,}")
    for option in o.options:
        options.add_row(
            f"{option.count} monthly installments", f"{option.first_amount:,}", f"{option.amount:,}", f"{o.total:,}"
        )
    console.print(options)
    if o.withheld:
        withheld = ", ".join(str(n) for n in o.withheld)
        console.print(
            f"not offered: {withheld} installments (below the minimum monthly installment {o.minimum_installment})"
        )
    console.print(f"manufacturer savings program: {offer.savings.status} ({offer.savings.reason})")
    if offer.account_type:
        console.print(f"{offer.account_type.upper()} account: give the patient an itemized receipt (payments receipt)")
    if offer.superbill_suggested:
        console.print("out-of-network benefits: give the patient a superbill (payments superbill)")
    console.print("choose: priorauth plan REQUEST_ID --installments N | --pay-in-full")


def print_plan(plan: PlanRecord, as_of: dt.date | None) -> None:
    """A stored plan: schedule with what is paid and overdue, payments, balance."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    header = f"[bold]plan {plan.id}[/bold]  request {plan.request_id}  status [bold]{plan.status}[/bold]"
    if plan.replaces_plan_id is not None:
        header += f"  replaces plan {plan.replaces_plan_id}"
    console.print(header)
    statuses = plan.statuses()
    # "not asked": what an adjustment or a payment on the account took off the last installments.
    reduced = any(s.reduced > 0 for s in statuses)
    columns = [
        _right("#"),
        "due date",
        *map(_right, ["amount", "paid", *(["not asked"] if reduced else []), "remaining"]),
        "",
    ]
    schedule = Table(*columns, title="schedule")
    for s in statuses:
        late = as_of is not None and plan.status == "active" and s.is_overdue(as_of)
        schedule.add_row(
            str(s.number),
            s.due_date.isoformat(),
            f"{s.amount:,}",
            f"{s.paid:,}",
            *([f"{s.reduced:,}"] if reduced else []),
            f"{s.remaining:,}",
            "[red]overdue[/red]" if late else "",
        )
    console.print(schedule)
    if plan.payments:
        payments = Table(_right("payment"), "paid on", _right("amount"), "method", "recorded by", title="payments")
        for p in plan.payments:
            payments.add_row(str(p.id), p.paid_on.isoformat(), f"{p.amount:,}", p.method or "", p.recorded_by)
        console.print(payments)
    if plan.earlier_payments:
        earlier = sum((p.amount for p in plan.earlier_payments), Decimal("0.00"))
        console.print(f"paid on the plans this one replaced: {earlier:,}")
    line = f"total {plan.total:,}  paid {plan.paid:,}  balance [bold]{plan.balance:,}[/bold]"
    if as_of is not None:
        overdue = plan.overdue(as_of)
        line += f"  overdue as of {as_of}: {sum((s.remaining for s in overdue), Decimal('0.00')):,}"
    console.print(line)
    if plan.status != "active":
        closed = plan.closed_on.isoformat() if plan.closed_on else ""
        console.print(f"{plan.status} {closed} by {plan.closed_by}: {plan.close_reason or ''}")


def _render(
    ctx: _Context,
    plan_id: int,
    document: PlanDocument,
    out: Path,
    service_dates: list[str] | None,
    *,
    option: str = "--out",
) -> None:
    from coverage.policies.service import Checker
    from coverage.services import documents, requests
    from coverage.services.payments import get_plan
    from coverage.store.documents import DocumentStore

    problems: list[str] = []
    dates = [parse_date(d, "--service-date", problems) for d in service_dates or ()]
    if problems:
        raise InvalidInput(problems)
    plan = get_plan(plan_id, uow=ctx.uow, ctx=ctx.ctx)
    store = DocumentStore(ctx.settings.documents_location)
    with ctx.uow as uow:
        _, request = requests.load(uow, plan.request_id)
        made = documents.RequestDocuments(
            request,
            checker=Checker.from_settings(ctx.settings),
            clinic=ctx.clinic,
            store=store,
            when=ctx.ctx.when(),
            template_dir=ctx.settings.template_dir,
        ).plan_paper(document, plan, service_dates=[d for d in dates if d is not None])
        uow.commit()
    pdf = documents.read(made.document, store=store)
    write_out(out, pdf, option)
    print(f"sha256 {made.document.sha256.removeprefix('sha256:')} {out}")


@app.command("plan")
def plan(
    request_id: Annotated[
        str | None,
        typer.Argument(
            metavar="REQUEST_ID", help="A stored request's id: show its self-pay offer.", show_default=False
        ),
    ] = None,
    *,
    total: Annotated[
        str | None,
        typer.Option(
            "--total", metavar="AMOUNT", help="Split this total (alone: a calculator; with REQUEST_ID: agreed total)."
        ),
    ] = None,
    installments: Annotated[
        str | None, typer.Option("--installments", metavar="N", help="Monthly installments at 0%.")
    ] = None,
    pay_in_full: Annotated[
        bool, typer.Option("--pay-in-full", help="One payment of the course total less the discount.")
    ] = False,
    start: Annotated[
        str | None, typer.Option("--start", metavar="YYYY-MM-DD", help="First due date (default: today).")
    ] = None,
    agreement: Annotated[
        Path | None, typer.Option("--agreement", help="Also render the payment-plan agreement PDF here.")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """A payment plan: split a --total, or a stored request's offer; --installments N or --pay-in-full stores it."""
    if request_id is None:
        if total is None:
            raise InvalidInput(["REQUEST_ID: give a stored request's id, or --total"])
        if pay_in_full or agreement is not None:
            raise InvalidInput(["REQUEST_ID: --pay-in-full and --agreement need a stored request"])
        _calculator(total, installments, start, as_json)
        return
    from coverage.payments.offers import check_start
    from coverage.services.payments import create_plan, request_offer

    problems: list[str] = []
    number = _request_id(request_id)
    count = parse_count(installments, "--installments", problems) if installments is not None else None
    agreed = parse_money(total, "--total", problems) if total is not None else None
    first = parse_date(start, "--start", problems) if start is not None else None
    if installments is not None and pay_in_full:
        problems.append("--installments: give --installments or --pay-in-full, not both")
    if total is not None and installments is None and not pay_in_full:
        problems.append("--installments: required with --total (or --pay-in-full)")
    if agreement is not None and installments is None and not pay_in_full:
        problems.append("--agreement: the agreement of a plan stored: give --installments N or --pay-in-full")
    elif agreement is not None:
        try:
            check_out(agreement, "--agreement")  # before the plan is stored, not after
        except InvalidInput as error:
            problems += error.problems
    if problems:
        raise InvalidInput(problems)
    with _database() as ctx:
        start_date = first or ctx.ctx.today()
        check_start(start_date, ctx.ctx.today())  # also for an offer: no plan is shown starting in the past
        if count is None and not pay_in_full:
            offer = request_offer(
                number, uow=ctx.uow, prices=ctx.clinic.prices, start=start_date, timezone=ctx.ctx.timezone
            )
            if as_json:
                _print_json(offer.to_dict())
            else:
                print_offer(offer)
            return
        prices = ctx.clinic.prices
        who = _login(by)  # create_plan checks every term before the request moves
        stored = create_plan(
            number,
            uow=ctx.uow,
            prices=prices,
            start=start_date,
            by=who,
            ctx=ctx.ctx,
            installments=count,
            pay_in_full=pay_in_full,
            total=agreed,
        )
        if as_json:
            _print_json(stored.to_dict())
        else:
            print_plan(stored, None)
        if agreement is not None:
            _render(ctx, stored.id, "payment-plan", agreement, None, option="--agreement")


def _plan_id(text: str) -> int:
    return _request_id(text, "PLAN")


PlanArg = Annotated[str, typer.Argument(metavar="PLAN", help="A payment plan's id.", show_default=False)]


@payments_app.command("record")
def record(
    plan_id: Annotated[
        str | None, typer.Argument(metavar="[PLAN]", help="The plan paid on (or --patient).", show_default=False)
    ] = None,
    *,
    amount: Annotated[str, typer.Option("--amount", metavar="AMOUNT", help="Amount received, e.g. 600.00.")],
    paid_on: Annotated[str, typer.Option("--date", metavar="YYYY-MM-DD", help="When it was paid (not in the future).")],
    method: Annotated[str | None, typer.Option("--method", help="card, cash, check, hsa or fsa.")] = None,
    patient: Annotated[
        str | None, typer.Option("--patient", metavar="PATIENT", help="A payment on the patient's account (a deposit).")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Record a payment on a plan (oldest installment first) or on the account; more than is owed leaves a credit."""
    from coverage.services.payments import receive_payment

    problems: list[str] = []
    value = parse_money(amount, "--amount", problems)
    day = parse_date(paid_on, "--date", problems)
    if (plan_id is None) == (patient is None):
        problems.append("PLAN: give a plan's id, or --patient for a payment on the account")
    number = _plan_id(plan_id) if plan_id is not None else None
    if problems:
        raise InvalidInput(problems)
    assert value is not None
    assert day is not None
    with _database() as ctx:
        posted = receive_payment(
            uow=ctx.uow,
            amount=value,
            paid_on=day,
            by=_login(by),
            ctx=ctx.ctx,
            method=method,
            plan_id=number,
            patient=patient,
        )
        today = ctx.ctx.today()
    if as_json:
        _print_json(posted.to_dict(today))
    elif posted.plan is not None:
        print(f"payment {posted.entry.id}: {posted.entry.amount:,} received")
        print_plan(posted.plan, today)
    else:
        print(f"payment {posted.entry.id}: {posted.entry.amount:,} received on the account")
        print(_account_lines(posted.account))


def _account_lines(account: AccountRecord) -> str:
    """The balance, and a word when the active plan asks for less than the account owes (a payment on
    an earlier plan voided or refunded): the rest is scheduled by restructuring the plan."""
    line = _balance_line(account.balance)
    for plan in account.plans:
        if plan.status == "active" and plan.balance < account.balance:
            line += (
                f"\nactive plan {plan.id} asks {plan.balance:,}: restructure it to schedule "
                f"the {account.balance - plan.balance:,} it does not"
            )
    return line


def _balance_line(balance: Decimal) -> str:
    if balance < 0:
        return f"credit on account {-balance:,}"
    return f"balance due {balance:,}"


Reason = Annotated[str, typer.Option("--reason", help="Why (kept on the ledger).")]
PatientArg = Annotated[
    str, typer.Argument(metavar="PATIENT", help="The patient's id at the clinic.", show_default=False)
]


@payments_app.command("refund")
def refund(
    payment_id: Annotated[str, typer.Argument(metavar="PAYMENT", help="The payment refunded.", show_default=False)],
    *,
    amount: Annotated[str, typer.Option("--amount", metavar="AMOUNT", help="Amount given back.")],
    reason: Reason,
    on: Annotated[
        str | None, typer.Option("--date", metavar="YYYY-MM-DD", help="When it was given back (default: today).")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Give money back on a payment, to the method it was paid by; at most what is left of it."""
    from coverage.services.payments import refund_payment

    problems: list[str] = []
    value = parse_money(amount, "--amount", problems)
    day = parse_date(on, "--date", problems) if on is not None else None
    number = option_id("PAYMENT", payment_id)
    if problems:
        raise InvalidInput(problems)
    assert value is not None
    with _database() as ctx:
        posted = refund_payment(number, uow=ctx.uow, amount=value, reason=reason, by=_login(by), ctx=ctx.ctx, on=day)
    if as_json:
        _print_json(posted.to_dict())
    else:
        to = posted.entry.method or "the payer"
        print(f"refund {posted.entry.id}: {posted.entry.amount:,} to {to} on payment {number}")
        print(_account_lines(posted.account))


@payments_app.command("void")
def void(
    entry_id: Annotated[
        str, typer.Argument(metavar="ENTRY", help="A ledger entry (payment, refund, charge...).", show_default=False)
    ],
    *,
    reason: Reason,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a ledger entry recorded by mistake: a void row names it; nothing is deleted."""
    from coverage.services.payments import void_entry

    number = option_id("ENTRY", entry_id)
    with _database() as ctx:
        posted = void_entry(number, uow=ctx.uow, reason=reason, by=_login(by), ctx=ctx.ctx)
    if as_json:
        _print_json(posted.to_dict())
    else:
        print(f"entry {number}: voided (void {posted.entry.id})")
        print(_account_lines(posted.account))


@payments_app.command("adjust")
def adjust(
    patient: PatientArg,
    *,
    amount: Annotated[str, typer.Option("--amount", metavar="AMOUNT", help="Amount taken off what is owed.")],
    reason: Reason,
    request: Annotated[
        str | None, typer.Option("--request", metavar="REQUEST_ID", help="The request the adjustment is for.")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Take an amount off what the account owes (care not given, a write-off); never makes a credit."""
    from coverage.services.payments import adjust_account

    problems: list[str] = []
    value = parse_money(amount, "--amount", problems)
    request_id = option_id("--request", request) if request is not None else None
    if problems:
        raise InvalidInput(problems)
    assert value is not None
    with _database() as ctx:
        posted = adjust_account(
            patient, uow=ctx.uow, amount=value, reason=reason, by=_login(by), ctx=ctx.ctx, request_id=request_id
        )
    if as_json:
        _print_json(posted.to_dict())
    else:
        print(f"adjustment {posted.entry.id}: {posted.entry.amount:,}")
        print(_account_lines(posted.account))


@payments_app.command("account")
def account(patient: PatientArg, as_json: AsJson = False) -> None:
    """A patient's account: every ledger row (voided ones marked), the totals and the balance or credit."""
    from coverage.services.payments import get_account

    with _database() as ctx:
        found = get_account(patient, uow=ctx.uow, ctx=ctx.ctx)
    if as_json:
        _print_json(found.to_dict())
        return
    from rich.console import Console
    from rich.table import Table

    from coverage.services.account_documents import describe_entry

    # Readable at 80 columns: the amount is what the row does to the balance (credits negative),
    # right-aligned; the detail (code, method, plan, what a refund or void names, the reason) wraps.
    sign = {"charge": 1, "refund": 1, "adjustment": -1, "payment": -1, "void": 0}
    table = Table(title="ledger", expand=False)
    table.add_column("entry", justify="right", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("amount", justify="right", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    for entry, voided in found.entries:
        effect = entry.amount * sign[entry.kind]
        table.add_row(
            str(entry.id),
            entry.on.isoformat(),
            entry.kind + (" (voided)" if voided else ""),
            "" if entry.kind == "void" else f"{effect:,}",
            describe_entry(entry),
            style="dim" if voided else None,
        )
    console = Console()
    console.print(table)
    console.print(
        f"charges {found.charges:,}  adjustments {found.adjustments:,}  payments {found.payments:,}  "
        f"refunds {found.refunds:,}"
    )
    console.print(f"[bold]{_balance_line(found.balance)}[/bold]")


@payments_app.command("show")
def show(
    plan_id: PlanArg,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="YYYY-MM-DD", help="Mark installments overdue on this day.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """A plan's schedule, payments, balance, and what is overdue as of a day (default: today)."""
    from coverage.services.payments import get_plan

    problems: list[str] = []
    day = parse_date(as_of, "--as-of", problems) if as_of is not None else None
    if problems:
        raise InvalidInput(problems)
    with _database() as ctx:
        stored = get_plan(_plan_id(plan_id), uow=ctx.uow, ctx=ctx.ctx)
        day = day or clinic_today(load_settings().timezone)
    if as_json:
        _print_json(stored.to_dict(day))
    else:
        print_plan(stored, day)


@payments_app.command("list")
def list_plans(
    request_id: Annotated[str, typer.Argument(metavar="REQUEST_ID", help="A stored request's id.")],
    as_json: AsJson = False,
) -> None:
    """Every plan of a request: active, cancelled and restructured."""
    from coverage.services.payments import plans_for_request

    with _database() as ctx:
        plans = plans_for_request(_request_id(request_id), uow=ctx.uow, ctx=ctx.ctx)
    if as_json:
        _print_json([p.to_dict() for p in plans])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        _right("plan"), "status", _right("installments"), _right("total"), _right("paid"), _right("balance"), "replaces"
    )
    for p in plans:
        table.add_row(
            str(p.id),
            p.status,
            str(len(p.installments)),
            f"{p.total:,}",
            f"{p.paid:,}",
            f"{p.balance:,}" if p.status == "active" else "-",  # a closed plan asks for nothing
            str(p.replaces_plan_id or ""),
        )
    Console().print(table)


@payments_app.command("cancel")
def cancel(
    plan_id: PlanArg,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept with the plan).")] = None,
    by: By = None,
) -> None:
    """Cancel an active plan; its charges, installments and payments stay on record."""
    from coverage.services.payments import cancel_plan

    with _database() as ctx:
        stored = cancel_plan(_plan_id(plan_id), uow=ctx.uow, by=_login(by), reason=reason, ctx=ctx.ctx)
    left = _balance_line(stored.account_balance or Decimal("0.00"))
    print(f"plan {stored.id}: cancelled; {stored.paid:,} paid on it; {left}")


@payments_app.command("restructure")
def restructure(
    plan_id: PlanArg,
    *,
    installments: Annotated[str, typer.Option("--installments", metavar="N", help="New number of installments.")],
    start: Annotated[
        str | None, typer.Option("--start", metavar="YYYY-MM-DD", help="First new due date (default: today).")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept with the old plan).")] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Replace an active plan by a new schedule for its balance; the old plan keeps its payments."""
    from coverage.services.payments import restructure_plan

    problems: list[str] = []
    count = parse_count(installments, "--installments", problems)
    first = parse_date(start, "--start", problems) if start is not None else None
    if problems:
        raise InvalidInput(problems)
    assert count is not None
    with _database() as ctx:
        stored = restructure_plan(
            _plan_id(plan_id),
            uow=ctx.uow,
            prices=ctx.clinic.prices,
            installments=count,
            start=first or clinic_today(load_settings().timezone),
            by=_login(by),
            reason=reason,
            ctx=ctx.ctx,
        )
    if as_json:
        _print_json(stored.to_dict())
    else:
        print_plan(stored, None)


@payments_app.command("overdue")
def overdue(
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="YYYY-MM-DD", help="The day (default: today).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Installments of active plans due before a day and not fully paid."""
    from coverage.services.payments import overdue_installments

    problems: list[str] = []
    day = parse_date(as_of, "--as-of", problems) if as_of is not None else None
    if problems:
        raise InvalidInput(problems)
    with _database() as ctx:
        day = day or clinic_today(load_settings().timezone)
        found = overdue_installments(day, uow=ctx.uow)
    if as_json:
        _print_json([o.to_dict() for o in found])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        _right("plan"),
        _right("request"),
        "case",
        _right("#"),
        "due date",
        _right("remaining"),
        _right("days overdue"),
        title=f"overdue as of {day}",
    )
    for o in found:
        table.add_row(
            str(o.plan_id),
            str(o.request_id),
            o.case_id,
            str(o.number),
            o.due_date.isoformat(),
            f"{o.remaining:,}",
            str(o.days_overdue),
        )
    Console().print(table)


Out = Annotated[Path, typer.Option("--out", help="Where to write the PDF.")]
Sessions = Annotated[
    list[str] | None,
    typer.Option("--session", metavar="SESSION_ID", help="Only this session (repeatable; see requests show)."),
]
Payments = Annotated[
    list[str] | None, typer.Option("--payment", metavar="PAYMENT_ID", help="Only this payment (repeatable).")
]


@payments_app.command("agreement")
def agreement_pdf(plan_id: PlanArg, out: Out) -> None:
    """Render the payment-plan agreement of a plan (stored on its request)."""
    check_out(out)
    with _database() as ctx:
        _render(ctx, _plan_id(plan_id), "payment-plan", out, None)


def _write(made_pdf: bytes, sha256: str, out: Path) -> None:
    try:
        out.write_bytes(made_pdf)
    except OSError as error:
        raise InvalidInput([f"--out: cannot write {out} ({error.strerror})"]) from None
    print(f"sha256 {sha256.removeprefix('sha256:')} {out}")


def _account_paper(
    kind: str,
    out: Path,
    *,
    patient: str | None = None,
    request_id: int | None = None,
    payments: list[str] | None = None,
    sessions: list[str] | None = None,
) -> None:
    from coverage.policies.service import Checker
    from coverage.services import documents
    from coverage.services.account_documents import make_account_paper
    from coverage.store.documents import DocumentStore

    payment_ids = [option_id("--payment", p) for p in payments or ()]
    session_ids = [option_id("--session", s) for s in sessions or ()]
    check_out(out)  # a document is stored with the request: not when its copy cannot be written
    with _database() as ctx:
        store = DocumentStore(ctx.settings.documents_location)
        made = make_account_paper(
            kind,  # type: ignore[arg-type]
            uow=ctx.uow,
            checker=Checker.from_settings(ctx.settings),
            clinic=ctx.clinic,
            store=store,
            ctx=ctx.ctx,
            patient=patient,
            request_id=request_id,
            payment_ids=payment_ids,
            session_ids=session_ids,
            template_dir=ctx.settings.template_dir,
        )
        pdf = documents.read(made.document, store=store)
    _write(pdf, made.document.sha256, out)


@payments_app.command("statement")
def statement_pdf(patient: PatientArg, out: Out) -> None:
    """Render the account statement: every ledger row and the balance (a credit shown as a credit)."""
    _account_paper("statement", out, patient=patient)


@payments_app.command("receipt")
def receipt_pdf(patient: PatientArg, out: Out, payment: Payments = None, session: Sessions = None) -> None:
    """Render the itemized HSA/FSA receipt of the payments received (all, or --payment), with --session lines."""
    _account_paper("receipt", out, patient=patient, payments=payment, sessions=session)


@payments_app.command("superbill")
def superbill_pdf(
    request_id: Annotated[str, typer.Argument(metavar="REQUEST_ID", help="A stored request's id.")],
    out: Out,
    session: Sessions = None,
) -> None:
    """Render the superbill of a request's sessions given: one line per code per session date."""
    _account_paper("superbill", out, request_id=_request_id(request_id), sessions=session)
