"""``priorauth intake``, ``requests``, ``payers``, ``worklist`` and ``db``: the records of billing staff.

SQLAlchemy and Alembic are imported inside the commands, so ``priorauth check`` never loads
them. Every command that changes a request takes ``--by`` (default: the login name).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coverage.cli.app import app
from coverage.cli.check import print_determination, read_case_text
from coverage.cli.options import option_date
from coverage.errors import InvalidInput
from coverage.settings import Settings, load_settings

if TYPE_CHECKING:
    from coverage.requests.clocks import ClockSettings
    from coverage.requests.views import RequestDetail, RequestView, WorkItem
    from coverage.store.uow import UnitOfWork

requests_app = typer.Typer(help="Prior-authorization requests: list, show, submit, record, move.", no_args_is_help=True)
payers_app = typer.Typer(help="The payer directory: add, list, show.", no_args_is_help=True)
db_app = typer.Typer(help="The records database: migrate it.", no_args_is_help=True)
app.add_typer(requests_app, name="requests")
app.add_typer(payers_app, name="payers")
app.add_typer(db_app, name="db")


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return "unknown"


By = Annotated[
    str | None, typer.Option("--by", help="Who makes the change, for the audit trail (default: login name).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="The day to look from, YYYY-MM-DD (default: today).")]


def _date(option: str, value: str | None) -> dt.date | None:
    return option_date(option, value)


def _today() -> dt.date:
    """Today in the clinic's time zone (``PRIORAUTH_TIMEZONE``), not UTC's."""
    from coverage.requests.clocks import clinic_today

    return clinic_today(load_settings().timezone)


#: The answer's field names, as the options of ``requests record`` that carry them.
_RECORD_OPTIONS = {
    "auth_number": "--auth-number",
    "valid_from": "--from",
    "valid_to": "--to",
    "units": "--units",
    "reason": "--reason",
    "info_requested": "--info-requested",
}


#: The payer's field names, as the options of ``payers add`` that carry them.
_PAYER_OPTIONS = {
    "policy_id": "--policy",
    "turnaround_days": "--turnaround-days",
    "urgent_turnaround_hours": "--urgent-hours",
    "channel": "--channel",
}


def _as_options(error: InvalidInput, options: dict[str, str]) -> InvalidInput:
    """The same problems, each naming the command-line option rather than the field behind it."""
    lines = []
    for line in error.lines():
        field, sep, rest = line.partition(":")
        option = options.get(field.strip())
        if option is None or not sep:
            lines.append(line)
            continue
        for name, other in options.items():
            rest = rest.replace(name, other)
        lines.append(f"{option}:{rest}")
    return InvalidInput(lines)


@dataclass(frozen=True, slots=True)
class _Records:
    settings: Settings
    uow: UnitOfWork
    clocks: ClockSettings


@contextmanager
def _records() -> Iterator[_Records]:
    from coverage.requests.clocks import ClockSettings
    from coverage.store.db import open_database

    settings = load_settings()
    database = open_database(settings)
    try:
        yield _Records(settings, database.unit_of_work(), ClockSettings.from_settings(settings))
    finally:
        database.dispose()


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _print_request(detail: RequestDetail) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    r = detail.request
    auth = r.authorization
    lines = [
        f"[bold]request {r.request_id}[/bold]  case {r.case_id} (version {r.case_version})  "
        f"status [bold]{r.status}[/bold]" + (f" (stored {r.stored_status})" if r.status != r.stored_status else ""),
        f"{r.treatment} {r.indication} {r.kind}  urgency {r.urgency}  payer {r.payer_name or 'unknown'}",
    ]
    if r.due_at is not None:
        lines.append(f"answer due {r.due_at:%Y-%m-%d %H:%M} UTC" + ("  [red]overdue[/red]" if r.overdue else ""))
    if r.info_requested:
        lines.append(f"information requested: {r.info_requested}")
    if r.denial_reason:
        lines.append(f"denied {r.denied_on}: {r.denial_reason}; deadline {r.appeal_deadline}")
    if auth is not None:
        lines.append(
            f"authorization {auth.number}: {auth.valid_from} to {auth.valid_to}, "
            f"{auth.units_used}/{auth.units_authorized} units used" + (" (partial)" if auth.partial else "")
        )
    console.print("\n".join(lines))
    if detail.determination is not None:
        print_determination(detail.determination)
    if detail.documents:
        docs = Table("document", "kind", "size", "sha256", "control number", title="documents")
        for d in detail.documents:
            docs.add_row(str(d.id), d.kind, str(d.size), d.sha256[:19] + "…", d.control_number or "")
        console.print(docs)
    history = Table("at (UTC)", "from", "to", "by", "reason", title="history")
    for e in detail.events:
        history.add_row(f"{e.at:%Y-%m-%d %H:%M}", e.from_status or "—", e.to_status, e.by, e.reason or "")
    console.print(history)


def _print_requests(views: list[RequestView]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "case", "patient", "status", "payer", "urgency", "due", "authorization")
    for v in views:
        auth = v.authorization
        table.add_row(
            str(v.request_id),
            v.case_id,
            v.patient_id,
            v.status,
            v.payer_name or "",
            v.urgency,
            (f"{v.due_at:%Y-%m-%d}" + (" overdue" if v.overdue else "")) if v.due_at else "",
            f"{auth.number} to {auth.valid_to} ({auth.units_used}/{auth.units_authorized})" if auth else "",
        )
    Console().print(table)


# --- intake -----------------------------------------------------------------------------------


@app.command()
def intake(
    case: Annotated[Path, typer.Argument(help="The case file (JSON).")],
    expedited: Annotated[bool, typer.Option("--expedited", help="Urgent: the payer's urgent turnaround.")] = False,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Validate, store and evaluate a case; print the request id and the determination."""
    from coverage.policies.service import Checker
    from coverage.requests.service import intake as intake_case

    text = read_case_text(case)
    with _records() as records:
        checker = Checker.from_settings(records.settings)
        result = intake_case(text, uow=records.uow, checker=checker, expedited=expedited, by=by or _login())
    if as_json:
        _print_json(result.to_dict())
        return
    verb = "new request" if result.new_request else "request"
    print(f"{verb} {result.request_id}: {result.status} (case version {result.case_version})")
    print_determination(result.determination)


# --- requests ---------------------------------------------------------------------------------


@requests_app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option("--status", help="Only this status (as of --as-of).")] = None,
    payer: Annotated[str | None, typer.Option("--payer", help="Only this payer (by name).")] = None,
    as_of: AsOf = None,
    as_json: AsJson = False,
) -> None:
    """Requests, oldest first."""
    from coverage.requests.service import list_requests

    day = _date("--as-of", as_of) or _today()
    with _records() as records:
        views = list_requests(uow=records.uow, status=status, payer=payer, as_of=day, clocks=records.clocks)
    if as_json:
        _print_json([v.to_dict() for v in views])
    else:
        _print_requests(views)


@requests_app.command("show")
def show(request_id: int, as_of: AsOf = None, as_json: AsJson = False) -> None:
    """A request: status, authorization, determination, documents and full history."""
    from coverage.requests.service import get_request

    day = _date("--as-of", as_of) or _today()
    with _records() as records:
        detail = get_request(request_id, uow=records.uow, as_of=day, clocks=records.clocks)
    if as_json:
        _print_json(detail.to_dict())
    else:
        _print_request(detail)


def _print_changed(view: RequestView, as_json: bool) -> None:
    if as_json:
        _print_json(view.to_dict())
    else:
        print(f"request {view.request_id}: {view.status}")


@requests_app.command("submit")
def submit_command(
    request_id: int,
    channel: Annotated[str, typer.Option("--channel", help="fax, portal, phone or electronic.")] = "fax",
    reference: Annotated[str | None, typer.Option("--reference", help="The payer's or the fax's reference.")] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Record a submission made by staff: ready (or pended, or appeal_drafted) to submitted."""
    from coverage.requests.service import get_request, submit

    with _records() as records:
        submit(
            request_id,
            uow=records.uow,
            channel=channel,
            reference=reference,
            by=by or _login(),
            clocks=records.clocks,
        )
        view = get_request(request_id, uow=records.uow, clocks=records.clocks).request
    _print_changed(view, as_json)


@requests_app.command("record")
def record(
    request_id: int,
    *,
    approved: Annotated[bool, typer.Option("--approved", help="Approved as asked.")] = False,
    partial: Annotated[bool, typer.Option("--partial", help="Approved for less than asked.")] = False,
    denied: Annotated[bool, typer.Option("--denied", help="Denied (give --reason).")] = False,
    pended: Annotated[bool, typer.Option("--pended", help="More information asked (give --info-requested).")] = False,
    auth_number: Annotated[str | None, typer.Option("--auth-number", help="The authorization number.")] = None,
    valid_from: Annotated[str | None, typer.Option("--from", help="Valid from, YYYY-MM-DD.")] = None,
    valid_to: Annotated[str | None, typer.Option("--to", help="Valid to, YYYY-MM-DD.")] = None,
    units: Annotated[int | None, typer.Option("--units", help="Units authorized.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="The payer's specific denial reason.")] = None,
    info_requested: Annotated[str | None, typer.Option("--info-requested", help="What the payer asks for.")] = None,
    reference: Annotated[str | None, typer.Option("--reference", help="The payer's reference.")] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Record the payer's answer: --approved, --partial, --denied or --pended."""
    from coverage.requests.answers import Answer, Approval, Denial, Pending
    from coverage.requests.service import record_answer

    chosen = [
        name
        for name, flag in (("--approved", approved), ("--partial", partial), ("--denied", denied), ("--pended", pended))
        if flag
    ]
    if len(chosen) != 1:
        raise InvalidInput(["answer: give exactly one of --approved, --partial, --denied, --pended"])
    answer: Answer
    if approved or partial:
        problems = [
            f"{name}: required with {chosen[0]}"
            for name, value in (
                ("--auth-number", auth_number),
                ("--from", valid_from),
                ("--to", valid_to),
                ("--units", units),
            )
            if value is None
        ]
        if problems:
            raise InvalidInput(problems)
        assert auth_number is not None
        assert units is not None
        if units < 1:
            raise InvalidInput(["--units: must be at least 1"])
        start, end = _date("--from", valid_from), _date("--to", valid_to)
        assert start is not None
        assert end is not None
        try:
            answer = Approval(auth_number, start, end, units, partial=partial, payer_reference=reference)
        except InvalidInput as error:
            raise _as_options(error, _RECORD_OPTIONS) from None
    elif denied:
        if not reason or not reason.strip():
            raise InvalidInput(["--reason: required with --denied"])
        answer = Denial(reason.strip(), payer_reference=reference)
    else:
        if not info_requested or not info_requested.strip():
            raise InvalidInput(["--info-requested: required with --pended"])
        answer = Pending(info_requested.strip(), payer_reference=reference)
    with _records() as records:
        view = record_answer(request_id, uow=records.uow, answer=answer, by=by or _login(), clocks=records.clocks)
    _print_changed(view, as_json)


#: Statuses that have their own command, with the data they need; ``transition`` refuses them.
_OWN_COMMAND = {
    "submitted": "`priorauth requests submit` (it records the submission)",
    "appeal_submitted": "`priorauth requests submit` (it records the submission)",
    "pended": "`priorauth requests record --pended` (it records the payer's answer)",
    "approved": "`priorauth requests record --approved` (it records the authorization)",
    "partially_approved": "`priorauth requests record --partial` (it records the authorization)",
    "denied": "`priorauth requests record --denied` (it records the payer's reason)",
    "payment_plan": "`priorauth plan` (it records the payment plan)",
}


@requests_app.command("transition")
def transition_command(
    request_id: int,
    status: Annotated[str, typer.Argument(help="The new status (appeal steps, cancelled, renewed, ...).")],
    *,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the audit trail.")] = None,
    expected_version: Annotated[
        int | None, typer.Option("--expected-version", help="Refuse if the request changed since this version.")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Move a request to another status, if the lifecycle allows it.

    Statuses that need data of their own (a submission, the payer's answer, a payment plan) are
    reached through their own commands, not here.
    """
    from coverage.requests.service import transition

    command = _OWN_COMMAND.get(status.strip())
    if command is not None:
        raise InvalidInput([f"status: use {command} to move a request to {status.strip()}"])
    with _records() as records:
        view = transition(
            request_id,
            status,
            uow=records.uow,
            by=by or _login(),
            reason=reason,
            expected_version=expected_version,
            clocks=records.clocks,
        )
    _print_changed(view, as_json)


@requests_app.command("use")
def use(
    request_id: int,
    units: Annotated[int, typer.Option("--units", help="Units consumed by sessions.")],
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Count units used against the request's authorization."""
    from coverage.requests.service import use_units

    with _records() as records:
        auth = use_units(request_id, units, uow=records.uow, by=by or _login(), clocks=records.clocks)
    if as_json:
        _print_json(auth.to_dict())
    else:
        print(f"request {request_id}: {auth.units_used} of {auth.units_authorized} units used ({auth.number})")


# --- worklist ---------------------------------------------------------------------------------


def _print_worklist(items: list[WorkItem], day: dt.date) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("due", "what", "request", "case", "status", "urgency", "payer", "detail", title=f"worklist {day}")
    for i in items:
        style = "red" if i.due < day else ""
        table.add_row(
            f"[{style}]{i.due}[/]" if style else str(i.due),
            i.kind,
            str(i.request_id),
            i.case_id,
            i.status,
            i.urgency,
            i.payer_name or "",
            i.detail,
        )
    Console().print(table)


@app.command()
def worklist(as_of: AsOf = None, as_json: AsJson = False) -> None:
    """What needs a person on that day, most urgent first."""
    from coverage.requests.service import worklist as build_worklist

    day = _date("--as-of", as_of) or _today()
    with _records() as records:
        items = build_worklist(day, uow=records.uow, clocks=records.clocks)
    if as_json:
        _print_json([i.to_dict() for i in items])
    else:
        _print_worklist(items, day)


# --- payers -----------------------------------------------------------------------------------


@payers_app.command("add")
def payers_add(
    name: Annotated[str, typer.Argument(help="The payer's name, as cases write it in coverage.payer_name.")],
    *,
    channel: Annotated[str, typer.Option("--channel", help="fax, portal, phone or electronic.")] = "fax",
    fax: Annotated[str | None, typer.Option("--fax")] = None,
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    portal: Annotated[str | None, typer.Option("--portal", help="Portal address.")] = None,
    policy: Annotated[str | None, typer.Option("--policy", help="The policy id the payer uses.")] = None,
    turnaround_days: Annotated[
        int | None, typer.Option("--turnaround-days", help="Expected answer time (default from settings).")
    ] = None,
    urgent_hours: Annotated[
        int | None, typer.Option("--urgent-hours", help="Urgent answer time in hours (default from settings).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Add a payer to the directory."""
    from coverage.payers.directory import add_payer
    from coverage.policies.loader import load_registry

    with _records() as records:
        known_policies = load_registry(records.settings.policy_dir).ids() if policy is not None else None
        try:
            payer = add_payer(
                name,
                uow=records.uow,
                channel=channel,
                fax=fax,
                phone=phone,
                portal_url=portal,
                policy_id=policy,
                known_policies=known_policies,
                turnaround_days=records.settings.default_turnaround_days
                if turnaround_days is None
                else turnaround_days,
                urgent_turnaround_hours=(
                    records.settings.default_urgent_turnaround_hours if urgent_hours is None else urgent_hours
                ),
            )
        except InvalidInput as error:
            raise _as_options(error, _PAYER_OPTIONS) from None
    if as_json:
        _print_json(payer.to_dict())
    else:
        print(f"payer {payer.id}: {payer.name}")


@payers_app.command("list")
def payers_list(as_json: AsJson = False) -> None:
    """The payer directory."""
    from rich.console import Console
    from rich.table import Table

    from coverage.payers.directory import list_payers

    with _records() as records:
        payers = list_payers(uow=records.uow)
    if as_json:
        _print_json([p.to_dict() for p in payers])
        return
    table = Table("id", "name", "channel", "fax", "phone", "portal", "policy", "turnaround", "urgent")
    for p in payers:
        table.add_row(
            str(p.id),
            p.name,
            p.channel,
            p.fax or "",
            p.phone or "",
            p.portal_url or "",
            p.policy_id or "",
            f"{p.turnaround_days} d",
            f"{p.urgent_turnaround_hours} h",
        )
    Console().print(table)


@payers_app.command("show")
def payers_show(name: Annotated[str, typer.Argument(help="The payer's id or name.")], as_json: AsJson = False) -> None:
    """One payer."""
    from coverage.payers.directory import get_payer

    with _records() as records:
        payer = get_payer(name, uow=records.uow)
    if as_json:
        _print_json(payer.to_dict())
        return
    for key, value in payer.to_dict().items():
        print(f"{key}: {'' if value is None else value}")


# --- db ---------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option("--revision", help="Target revision.")] = "head",
) -> None:
    """Migrate the database (the settings' URL, or the embedded SQLite file) up to the latest revision."""
    from coverage.store.db import configured_engine, current_revision, upgrade

    with configured_engine(load_settings()) as engine:
        upgrade(engine, revision)
        print(f"database at revision {current_revision(engine)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' removes every table.")],
) -> None:
    """Migrate the database down to a revision."""
    from coverage.store.db import configured_engine, current_revision, downgrade

    with configured_engine(load_settings()) as engine:
        downgrade(engine, revision)
        print(f"database at revision {current_revision(engine) or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """The revision the database is at, and the latest one."""
    from coverage.store.db import configured_engine, current_revision, head_revision

    with configured_engine(load_settings()) as engine:
        print(f"current {current_revision(engine) or 'none'}, latest {head_revision()}")
