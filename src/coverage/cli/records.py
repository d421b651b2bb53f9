"""``priorauth intake``, ``requests``, ``sessions``, ``payers``, ``worklist`` and ``db``: the records of billing staff.

Each command parses what staff typed (one line per problem, naming the option), calls one
service of :mod:`coverage.services`, and prints the result (``--json`` for scripts).
SQLAlchemy and Alembic are imported inside the commands, so ``priorauth check`` never loads
them. Every command that changes something takes ``--by`` (default: the login name).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coverage.cli.app import app
from coverage.cli.check import print_determination, read_case_text
from coverage.cli.options import option_count, option_date, option_id
from coverage.errors import IllegalTransition, InvalidInput
from coverage.settings import Settings, load_settings

if TYPE_CHECKING:
    from coverage.policies.service import Checker
    from coverage.requests.views import RequestDetail, RequestRow, RequestView, SessionView, WorkItem
    from coverage.services.context import Context
    from coverage.services.requests import IntakeResult
    from coverage.services.sending import Prepared
    from coverage.store.db import Database
    from coverage.store.uow import UnitOfWork

requests_app = typer.Typer(
    help="Prior-authorization requests: show, send, record, amend, undo, continue.", no_args_is_help=True
)
sessions_app = typer.Typer(help="Treatment sessions, charged to the course's authorization.", no_args_is_help=True)
payers_app = typer.Typer(help="The payer directory: add, edit, list, show.", no_args_is_help=True)
db_app = typer.Typer(help="The records database: migrate it.", no_args_is_help=True)
app.add_typer(requests_app, name="requests")
app.add_typer(sessions_app, name="sessions")
app.add_typer(payers_app, name="payers")
app.add_typer(db_app, name="db")


def login() -> str:
    """Who runs the command, when ``--by`` is not given."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return "unknown"


RequestId = Annotated[str, typer.Argument(metavar="REQUEST_ID", help="The request's id.", show_default=False)]
By = Annotated[
    str | None, typer.Option("--by", help="Who makes the change, for the audit trail (default: login name).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="The day to look from, YYYY-MM-DD (default: today).")]
Reason = Annotated[str, typer.Option("--reason", help="Why, for the audit trail.")]


@dataclass
class Records:
    """What a records command works with, opened once per command."""

    settings: Settings
    database: Database
    ctx: Context
    _checker: Checker | None = None

    def uow(self) -> UnitOfWork:
        return self.database.unit_of_work()

    @property
    def checker(self) -> Checker:
        if self._checker is None:
            from coverage.policies.service import Checker

            self._checker = Checker.from_settings(self.settings)
        return self._checker


@contextmanager
def records() -> Iterator[Records]:
    """The settings, the database and the clinic's clock, for one command."""
    from coverage.services.context import Context
    from coverage.store.db import open_database
    from coverage.workflow.server import check_server_records

    settings = load_settings()
    check_server_records(settings)  # staff on a server's hosts never get an empty local database
    database = open_database(settings)
    try:
        yield Records(settings, database, Context.from_settings(settings))
    finally:
        database.dispose()


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _day(option: str, value: str | None) -> dt.date | None:
    return option_date(option, value)


# --- printing -----------------------------------------------------------------------------------


def _print_request(detail: RequestDetail, timezone: str) -> None:
    from zoneinfo import ZoneInfo

    from rich.console import Console
    from rich.table import Table

    zone = ZoneInfo(timezone)

    def local(moment: dt.datetime) -> str:
        """A moment in the clinic's time zone (the records keep UTC)."""
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
        return f"{aware.astimezone(zone):%Y-%m-%d %H:%M %Z}"

    console = Console()
    r = detail.request
    lines = [
        f"[bold]request {r.request_id}[/bold]  {r.kind}  case {r.case_id} (version {r.case_version})  "
        f"status [bold]{r.status}[/bold]" + (f" (stored {r.stored_status})" if r.status != r.stored_status else ""),
        f"{r.treatment} {r.indication}  urgency {r.urgency}  payer {r.payer_name or 'unknown'}",
    ]
    if r.previous_request_id:
        lines.append(f"continues request {r.previous_request_id}")
    if r.later_request_ids:
        lines.append("continued by request " + ", ".join(map(str, r.later_request_ids)))
    if r.expedited_reason:
        lines.append(f"expedited: {r.expedited_reason}")
    if r.due_at is not None:
        lines.append(f"answer due {local(r.due_at)}" + ("  [red]overdue[/red]" if r.overdue else ""))
    if r.signoff:
        lines.append(f"sign-off: {r.signoff}")
    if r.send_task is not None:
        task = r.send_task
        lines.append(
            f"[bold]send task[/bold]: {task.channel} to {task.destination or '(not in the payer directory)'}, "
            f"{task.pages} pages: {', '.join(task.documents)}"
            + (f"; {len(task.failed_attempts)} failed attempt(s)" if task.failed_attempts else "")
        )
    if r.appeal_deadline:
        lines.append(f"appeal deadline {r.appeal_deadline}")
    console.print("\n".join(lines))
    if detail.determination is not None:
        print_determination(detail.determination)
    if detail.answers:
        answers = Table("decided", "decision", "reference", "detail", title="answers")
        for a in detail.answers:
            text = a.reason or a.info_requested or a.authorization_number or ""
            answers.add_row(str(a.decided_on), a.decision + (" (undone)" if a.voided else ""), a.reference or "", text)
        console.print(answers)
    if detail.authorizations:
        auths = Table("number", "valid", "code", "units", "used", "left", "runs out", "", title="authorizations")
        for au in detail.authorizations:
            note = "voided" if au.voided else "superseded" if au.superseded else ""
            auths.add_row(
                au.number,
                f"{au.valid_from} to {au.valid_to}",
                au.code,
                str(au.units),
                str(au.units_used),
                str(au.units_left),
                str(au.runs_out_on or ""),
                note,
            )
        console.print(auths)
    if detail.sessions:
        sessions = Table("session", "date", "dose", "units", "charged to", "", title="sessions of the course")
        for s in detail.sessions:
            sessions.add_row(
                str(s.id),
                str(s.date),
                f"{s.dose_mg} mg" if s.dose_mg else "",
                str(s.units),
                s.authorization_number or ("" if s.voided or not s.needs_authorization else "[red]nothing[/red]"),
                f"voided: {s.void_reason}" if s.voided else "",
            )
        console.print(sessions)
    if detail.documents:
        docs = Table("control number", "kind", "dated", "pages", "title", title="documents")
        for d in detail.documents:
            docs.add_row(d.control_number, d.kind, str(d.dated or ""), str(d.pages or ""), d.title or "")
        console.print(docs)
    history = Table("at", "from", "to", "by", "reason", title="history")
    for e in detail.events:
        history.add_row(local(e.at), e.from_status or "—", e.to_status, e.by, e.reason or "")
    console.print(history)


def _print_requests(views: list[RequestRow]) -> None:
    from coverage.cli.columns import print_columns

    rows = []
    for v in views:
        auth = v.authorization
        rows.append(
            [
                str(v.request_id),
                v.case_id,
                v.kind,
                v.patient_id,
                v.status,
                v.payer_name or "",
                (f"{v.due_at:%Y-%m-%d}" + (" overdue" if v.overdue else "")) if v.due_at else "",
                f"{auth.number} to {auth.valid_to} ({auth.units_used}/{auth.units})" if auth else "",
            ]
        )
    print_columns(["id", "case", "kind", "patient", "status", "payer", "due", "authorization"], rows)


def _changed(view: RequestView, as_json: bool, what: str = "") -> None:
    if as_json:
        print_json(view.to_dict())
    else:
        print(f"request {view.request_id}: {view.stored_status}" + (f" ({what})" if what else ""))


def _taken(result: IntakeResult, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    verb = {"new": "new request", "amended": "request", "continuation": "new continuation request"}[result.action]
    print(f"{verb} {result.request_id}: {result.status} (case version {result.case_version})")
    print_determination(result.determination)


# --- intake -------------------------------------------------------------------------------------


@app.command()
def intake(
    case: Annotated[Path, typer.Argument(help="The case file (JSON).")],
    expedited: Annotated[bool, typer.Option("--expedited", help="Urgent: the payer's urgent turnaround.")] = False,
    expedited_reason: Annotated[
        str | None, typer.Option("--expedited-reason", help="Why it is urgent (printed on the letter and fax cover).")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Validate, store and evaluate a case (as of today): a new request, or the open one amended."""
    from coverage.services.requests import intake as take_in

    text = read_case_text(case)
    with records() as r:
        result = take_in(
            text,
            uow=r.uow(),
            checker=r.checker,
            ctx=r.ctx,
            by=by or login(),
            expedited=expedited,
            expedited_reason=expedited_reason,
        )
    _taken(result, as_json)


# --- requests: reading --------------------------------------------------------------------------


@requests_app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option("--status", help="Only this status (as of --as-of).")] = None,
    payer: Annotated[str | None, typer.Option("--payer", help="Only this payer (by name).")] = None,
    as_of: AsOf = None,
    as_json: AsJson = False,
) -> None:
    """Requests, oldest first."""
    from coverage.services.requests import list_requests

    day = _day("--as-of", as_of)
    with records() as r:
        views = list_requests(uow=r.uow(), ctx=r.ctx, status=status, payer=payer, as_of=day)
    if as_json:
        print_json([v.to_dict() for v in views])
    else:
        _print_requests(views)


@requests_app.command("show")
def show(request_id: RequestId, as_of: AsOf = None, as_json: AsJson = False) -> None:
    """A request: status, answers, authorization, sessions, documents and its full history."""
    from coverage.services.requests import get_request

    number, day = option_id("REQUEST_ID", request_id), _day("--as-of", as_of)
    with records() as r:
        detail = get_request(number, uow=r.uow(), ctx=r.ctx, as_of=day)
    if as_json:
        print_json(detail.to_dict())
    else:
        _print_request(detail, r.ctx.timezone)


# --- requests: sending --------------------------------------------------------------------------


def _print_prepared(prepared: Prepared, as_json: bool) -> None:
    if as_json:
        print_json(prepared.to_dict())
        return
    rid = prepared.request_id
    messages = {
        "submitted": f"request {rid}: submitted electronically ({prepared.status})",
        "send_task": f"request {rid}: {prepared.status}; send {prepared.pages} pages by {prepared.channel}, then "
        f"`priorauth requests submit {rid} --channel {prepared.channel} --reference ...`",
        "signoff_pending": f"request {rid}: documents made; waiting for a clinician's sign-off "
        f"(`priorauth requests signoff {rid} --approve`)",
        "draft": f"request {rid}: back to draft, nothing sent ({prepared.reason})",
        "not_sendable": f"request {rid}: is {prepared.status}; nothing to send",
        "busy": f"request {rid}: {prepared.status}; {prepared.reason} now, so nothing was done here "
        f"(`priorauth requests show {rid}` once it is done)",
    }
    print(messages.get(prepared.state, f"request {rid}: {prepared.state}"))
    for number in prepared.documents:
        print(f"  {number}")


def _print_run_started(number: int, status: str, run_id: str, as_json: bool, *, done: str = "") -> None:
    if as_json:
        print_json({"request_id": number, "state": "run_started", "status": status, "flow_run": run_id})
    else:
        print(f"request {number}: {done}the prior-authorization run {run_id} sends it (a worker runs it)")


def _send(r: Records, request_id: int, *, by: str, sign_off: bool = False) -> Prepared:
    from coverage.clinic import load_clinic
    from coverage.services.sending import send
    from coverage.store.documents import DocumentStore
    from coverage.workflow.runtime import sandbox_from_settings

    electronic = sandbox_from_settings(r.settings)

    def gateway_for(channel: str) -> Any:
        if r.settings.gateway == "sandbox" or channel == "electronic":
            return electronic
        return None

    return send(
        request_id,
        uow=r.uow(),
        checker=r.checker,
        clinic=load_clinic(r.settings),
        store=DocumentStore(r.settings.documents_location),
        ctx=r.ctx,
        by=by,
        gateway_for=gateway_for,
        sign_off=sign_off,
        template_dir=r.settings.template_dir,
    )


_SENDABLE_NOTE = "only ready, pended or appeal_drafted requests are sent"


@requests_app.command("send")
def send_command(
    request_id: RequestId,
    sign_off: Annotated[bool, typer.Option("--sign-off", help="A clinician signs off before it goes out.")] = False,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Re-evaluate today, make the documents, and send: a gateway submits, or a send task opens for a person.

    With a Prefect server (``PREFECT_API_URL``) this starts a run of the prior-authorization
    deployment instead, as the web app does: a worker makes the documents and sends, and the run
    shows in Prefect and, should it fail, on the worklist. The run gets the request id only.
    """
    from coverage.requests.lifecycle import SENDABLE
    from coverage.services.requests import get_request
    from coverage.workflow.server import api_url, start_sending_run

    number = option_id("REQUEST_ID", request_id)
    if api_url() is not None:
        with records() as r:
            status = get_request(number, uow=r.uow(), ctx=r.ctx).request.stored_status
        if status not in SENDABLE:
            raise IllegalTransition(f"request {number}: is {status}; {_SENDABLE_NOTE}")
        _print_run_started(number, status, start_sending_run(number, sign_off=sign_off), as_json)
        return
    with records() as r:
        prepared = _send(r, number, by=by or login(), sign_off=sign_off)
    if prepared.state == "not_sendable":
        raise IllegalTransition(f"request {number}: is {prepared.status}; {_SENDABLE_NOTE}")
    _print_prepared(prepared, as_json)


@requests_app.command("send-failed")
def send_failed_command(request_id: RequestId, reason: Reason, by: By = None, as_json: AsJson = False) -> None:
    """A failed attempt to send (busy fax line, portal down): noted; the send task stays open."""
    from coverage.services.requests import send_failed

    number = option_id("REQUEST_ID", request_id)
    with records() as r:
        view = send_failed(number, reason, uow=r.uow(), ctx=r.ctx, by=by or login())
    _changed(view, as_json, "send task still open")


@requests_app.command("submit")
def submit_command(  # noqa: PLR0917  # Typer maps each parameter to a flag
    request_id: RequestId,
    channel: Annotated[str, typer.Option("--channel", help="fax, portal, phone or electronic.")] = "fax",
    reference: Annotated[str | None, typer.Option("--reference", help="The payer's or the fax's reference.")] = None,
    sent_on: Annotated[
        str | None, typer.Option("--sent-on", help="When it was sent, YYYY-MM-DD (default: today).")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Record a sending made by a person (the request, the information asked for, or the appeal)."""
    from coverage.services.requests import get_request, submit

    number, day = option_id("REQUEST_ID", request_id), _day("--sent-on", sent_on)
    with records() as r:
        submit(number, uow=r.uow(), ctx=r.ctx, channel=channel, reference=reference, sent_on=day, by=by or login())
        view = get_request(number, uow=r.uow(), ctx=r.ctx).request
    _changed(view, as_json)


@requests_app.command("signoff")
def signoff_command(  # noqa: PLR0917  # Typer maps each parameter to a flag
    request_id: RequestId,
    approve: Annotated[bool, typer.Option("--approve", help="Approve: the sending goes on.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject: the request returns to draft.")] = False,
    note: Annotated[str | None, typer.Option("--note", help="The clinician's note.")] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """A clinician's sign-off of the prepared sending; an approval sends it on at once.

    With a Prefect server (``PREFECT_API_URL``) the approval starts a run of the prior-authorization
    deployment instead, which a worker picks up (now, or once one runs); the run gets the request id only.
    """
    from coverage.services.requests import signoff
    from coverage.workflow.server import api_url, check_sending_deployment, schedule_sending_run

    if approve == reject:
        raise InvalidInput(["--approve: give exactly one of --approve and --reject"])
    number = option_id("REQUEST_ID", request_id)
    who = by or login()
    server = approve and api_url() is not None
    if server:
        check_sending_deployment()  # before anything is recorded: a refusing server changes nothing
    with records() as r:
        view = signoff(number, approve=approve, uow=r.uow(), ctx=r.ctx, by=who, note=note)
        if not approve:
            _changed(view, as_json, "sign-off rejected")
            return
        if not server:
            _print_prepared(_send(r, number, by=who), as_json)
            return
    _print_run_started(number, view.stored_status, schedule_sending_run(number), as_json, done="signed off; ")


# --- requests: the payer's answer ---------------------------------------------------------------


@requests_app.command("record")
def record(  # Typer maps each parameter to a flag; callers never pass them by position
    request_id: RequestId,
    *,
    approved: Annotated[bool, typer.Option("--approved", help="Approved as asked.")] = False,
    partial: Annotated[bool, typer.Option("--partial", help="Approved for less than asked.")] = False,
    modified: Annotated[
        bool, typer.Option("--modified", help="The same authorization with new dates or units (X12 A6).")
    ] = False,
    pended: Annotated[bool, typer.Option("--pended", help="More information asked (give --info-requested).")] = False,
    denied: Annotated[bool, typer.Option("--denied", help="Denied (give --reason).")] = False,
    not_required: Annotated[bool, typer.Option("--not-required", help="No prior authorization needed.")] = False,
    decided_on: Annotated[
        str | None, typer.Option("--decided-on", help="The payer's decision date (default: today).")
    ] = None,
    auth_number: Annotated[str | None, typer.Option("--auth-number", help="The authorization number.")] = None,
    valid_from: Annotated[str | None, typer.Option("--from", help="Valid from, YYYY-MM-DD.")] = None,
    valid_to: Annotated[str | None, typer.Option("--to", help="Valid to, YYYY-MM-DD.")] = None,
    units: Annotated[
        str | None, typer.Option("--units", help="Units of the billing code (J0013: 1 unit = 1 mg).")
    ] = None,
    sessions: Annotated[
        str | None, typer.Option("--sessions", help="Instead of --units: sessions (x the dose for J0013).")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="The payer's specific denial reason.")] = None,
    info_requested: Annotated[str | None, typer.Option("--info-requested", help="What the payer asks for.")] = None,
    respond_by: Annotated[str | None, typer.Option("--respond-by", help="Answer the payer by, YYYY-MM-DD.")] = None,
    reference: Annotated[str | None, typer.Option("--reference", help="The payer's reference.")] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Record the payer's answer, dated as the payer dated it; the same answer twice changes nothing."""
    from coverage.fields import MAX_UNITS
    from coverage.services.requests import AnswerInput, record_answer

    flags = {
        "approved": approved,
        "partially_approved": partial,
        "modified": modified,
        "pended": pended,
        "denied": denied,
        "not_required": not_required,
    }
    chosen = [name for name, flag in flags.items() if flag]
    if len(chosen) != 1:
        raise InvalidInput(
            ["answer: give exactly one of --approved, --partial, --modified, --pended, --denied, --not-required"]
        )
    number = option_id("REQUEST_ID", request_id)
    answer = AnswerInput(
        decision=chosen[0],  # type: ignore[arg-type]  # one of the literal's values
        decided_on=_day("--decided-on", decided_on),
        reference=reference,
        reason=reason,
        info_requested=info_requested,
        respond_by=_day("--respond-by", respond_by),
        auth_number=auth_number,
        valid_from=_day("--from", valid_from),
        valid_to=_day("--to", valid_to),
        units=option_count("--units", units, low=1, high=MAX_UNITS),
        sessions=option_count("--sessions", sessions, low=1, high=MAX_UNITS),
    )
    with records() as r:
        result = record_answer(number, answer, uow=r.uow(), ctx=r.ctx, by=by or login())
    if as_json:
        print_json({**result.request.to_dict(), "recorded": result.recorded})
    elif result.recorded:
        print(f"request {number}: {result.request.stored_status}")
    else:
        print(f"request {number}: this answer was already recorded; nothing changed")


# --- requests: corrections and moves -------------------------------------------------------------


@requests_app.command("amend")
def amend_command(
    request_id: RequestId,
    case: Annotated[Path, typer.Argument(metavar="CASE.json", help="The case with the information added.")],
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """A new case version on the same request (information the payer asked for), re-evaluated today."""
    from coverage.services.requests import amend

    number = option_id("REQUEST_ID", request_id)
    text = read_case_text(case)
    with records() as r:
        result = amend(number, text, uow=r.uow(), checker=r.checker, ctx=r.ctx, by=by or login())
    _taken(result, as_json)


@requests_app.command("attach")
def attach_command(
    request_id: RequestId,
    pdf: Annotated[Path, typer.Argument(metavar="FILE.pdf", help="An outside document (chart note, lab result).")],
    title: Annotated[str, typer.Option("--title", help="What it is, as the fax cover lists it.")],
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Attach an outside PDF: it joins the enclosures and the page count of the next sending."""
    from coverage.services.attachments import attach
    from coverage.store.documents import DocumentStore

    number = option_id("REQUEST_ID", request_id)
    with records() as r:
        view = attach(
            number,
            pdf,
            title=title,
            uow=r.uow(),
            ctx=r.ctx,
            store=DocumentStore(r.settings.documents_location),
            by=by or login(),
        )
    _changed(view, as_json, "attached")


@requests_app.command("appeal")
def appeal_command(
    request_id: RequestId,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the audit trail.")] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Draft the appeal of a denial (denied or appeal_denied to appeal_drafted); `requests send` sends it."""
    from coverage.services.requests import transition

    number = option_id("REQUEST_ID", request_id)
    with records() as r:
        view = transition(number, "appeal_drafted", uow=r.uow(), ctx=r.ctx, by=by or login(), reason=reason)
    _changed(view, as_json)


@requests_app.command("transition")
def transition_command(
    request_id: RequestId,
    status: Annotated[str, typer.Argument(help="appeal_drafted, external_review, payment_plan or cancelled.")],
    *,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the audit trail.")] = None,
    expected_version: Annotated[
        str | None, typer.Option("--expected-version", help="Refuse if the request changed since this version.")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """A move that carries no payer data; sendings and answers have their own commands."""
    from coverage.services.requests import transition

    number = option_id("REQUEST_ID", request_id)
    version = option_count("--expected-version", expected_version, low=1, high=2**31 - 1)
    with records() as r:
        view = transition(
            number, status, uow=r.uow(), ctx=r.ctx, by=by or login(), reason=reason, expected_version=version
        )
    _changed(view, as_json)


@requests_app.command("undo")
def undo_command(request_id: RequestId, reason: Reason, by: By = None, as_json: AsJson = False) -> None:
    """Reverse the request's last change of state (a sending, an answer, an amend, a move); it is recorded."""
    from coverage.services.requests import undo

    number = option_id("REQUEST_ID", request_id)
    with records() as r:
        view = undo(number, reason, uow=r.uow(), ctx=r.ctx, by=by or login())
    _changed(view, as_json, "undone")


@requests_app.command("continue")
def continue_command(request_id: RequestId, by: By = None, as_json: AsJson = False) -> None:
    """A continuation request for the next period, from the latest case version of this approved request."""
    from coverage.services.requests import continue_request

    number = option_id("REQUEST_ID", request_id)
    with records() as r:
        result = continue_request(number, uow=r.uow(), checker=r.checker, ctx=r.ctx, by=by or login())
    if as_json:
        print_json({**result.to_dict(), "previous_request_id": number})
        return
    print(f"continuation request {result.request_id} of request {number}: {result.status}")
    print_determination(result.determination)


# --- sessions -----------------------------------------------------------------------------------


def _print_session(view: SessionView, as_json: bool) -> None:
    if as_json:
        print_json(view.to_dict())
        return
    units = f"{view.units} unit{'s' if view.units != 1 else ''}"
    print(f"session {view.id} on {view.date}: {units} of {view.code or 'service'}, {view.charge()}")
    if view.same_day and not view.voided:
        print(
            f"warning: {view.same_day} other session(s) on {view.date} for this course; "
            f"if this one is a mistake, `priorauth sessions void {view.id} --reason ...`",
            file=sys.stderr,
        )


@sessions_app.command("add")
def sessions_add(
    request_id: RequestId,
    date: Annotated[str, typer.Option("--date", help="When it was given, YYYY-MM-DD (not in the future).")],
    dose_mg: Annotated[
        str | None, typer.Option("--dose-mg", help="Esketamine dose of this session (default: the case's).")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """A session of the request's course, charged to the authorization in force on its date."""
    from coverage.services.sessions import add

    number, day = option_id("REQUEST_ID", request_id), _day("--date", date)
    assert day is not None
    dose = option_count("--dose-mg", dose_mg, low=0, high=10**9)
    with records() as r:
        view = add(number, day=day, dose_mg=dose, uow=r.uow(), ctx=r.ctx, by=by or login())
    _print_session(view, as_json)


@sessions_app.command("void")
def sessions_void(
    session_id: Annotated[str, typer.Argument(metavar="SESSION_ID", help="The session's id.")],
    reason: Reason,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Correct a session recorded by mistake: kept on record, charged to nothing."""
    from coverage.services.sessions import void

    number = option_id("SESSION_ID", session_id)
    with records() as r:
        view = void(number, reason, uow=r.uow(), ctx=r.ctx, by=by or login())
    _print_session(view, as_json)


@sessions_app.command("list")
def sessions_list(request_id: RequestId, as_json: AsJson = False) -> None:
    """Every session of the request's course."""
    from rich.console import Console
    from rich.table import Table

    from coverage.services.sessions import list_sessions

    number = option_id("REQUEST_ID", request_id)
    with records() as r:
        views = list_sessions(number, uow=r.uow())
    if as_json:
        print_json([v.to_dict() for v in views])
        return
    table = Table("session", "request", "date", "dose", "units", "code", "charged to", "")
    for s in views:
        table.add_row(
            str(s.id),
            str(s.request_id or ""),
            str(s.date),
            f"{s.dose_mg} mg" if s.dose_mg else "",
            str(s.units),
            s.code or "",
            s.authorization_number or "",
            f"voided: {s.void_reason}" if s.voided else "",
        )
    Console().print(table)


# --- worklist -----------------------------------------------------------------------------------


def _print_worklist(items: list[WorkItem], day: dt.date) -> None:
    from coverage.cli.columns import print_columns

    rows = [
        [
            f"{i.due}{' !' if i.due < day else ''}",
            i.kind,
            str(i.request_id),
            i.case_id,
            i.status,
            "EXPEDITED" if i.urgency == "expedited" else "",
            i.payer_name or "",
            i.detail,
        ]
        for i in items
    ]
    headers = ["due (! late)", "what", "request", "case", "status", "urgency", "payer", "detail"]
    print_columns(headers, rows, title=f"worklist {day}: {len(items)} item(s), most urgent first")


@app.command()
def worklist(as_of: AsOf = None, as_json: AsJson = False) -> None:
    """What needs a person on that day, most urgent first."""
    from coverage.worklist import build

    with records() as r:
        day = _day("--as-of", as_of) or r.ctx.today()
        items = build(day, uow=r.uow(), zone=r.ctx.timezone)
    if as_json:
        print_json([i.to_dict() for i in items])
    else:
        _print_worklist(items, day)


# --- payers -------------------------------------------------------------------------------------


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
        str | None, typer.Option("--turnaround-days", help="Expected answer time (default from settings).")
    ] = None,
    urgent_hours: Annotated[
        str | None, typer.Option("--urgent-hours", help="Urgent answer time in hours (default from settings).")
    ] = None,
    appeal_days: Annotated[
        str | None, typer.Option("--appeal-days", help="Days to appeal a denial (default from settings, 180).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Add a payer to the directory."""
    from coverage.policies.loader import load_registry
    from coverage.services.payers import CLOCK_BOUNDS, add_payer

    days = option_count("--turnaround-days", turnaround_days, low=1, high=CLOCK_BOUNDS["turnaround_days"][1])
    hours = option_count("--urgent-hours", urgent_hours, low=1, high=CLOCK_BOUNDS["urgent_turnaround_hours"][1])
    window = option_count("--appeal-days", appeal_days, low=1, high=CLOCK_BOUNDS["appeal_window_days"][1])
    with records() as r:
        known = load_registry(r.settings.policy_dir).ids() if policy is not None else None
        try:
            payer = add_payer(
                name,
                uow=r.uow(),
                channel=channel,
                fax=fax,
                phone=phone,
                portal_url=portal,
                policy_id=policy,
                known_policies=known,
                turnaround_days=r.settings.default_turnaround_days if days is None else days,
                urgent_turnaround_hours=r.settings.default_urgent_turnaround_hours if hours is None else hours,
                appeal_window_days=window,
            )
        except InvalidInput as error:
            raise _as_options(error) from None
    if as_json:
        print_json(payer.to_dict())
    else:
        print(f"payer {payer.id}: {payer.name}")


@payers_app.command("edit")
def payers_edit(  # Typer maps each parameter to a flag
    payer: Annotated[str, typer.Argument(help="The payer's id or name.")],
    *,
    name: Annotated[str | None, typer.Option("--name", help="A corrected name.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="fax, portal, phone or electronic.")] = None,
    fax: Annotated[str | None, typer.Option("--fax", help="The fax number ('' clears it).")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="The phone number ('' clears it).")] = None,
    portal: Annotated[str | None, typer.Option("--portal", help="Portal address ('' clears it).")] = None,
    policy: Annotated[str | None, typer.Option("--policy", help="The policy id ('' clears it).")] = None,
    turnaround_days: Annotated[str | None, typer.Option("--turnaround-days")] = None,
    urgent_hours: Annotated[str | None, typer.Option("--urgent-hours")] = None,
    appeal_days: Annotated[str | None, typer.Option("--appeal-days")] = None,
    as_json: AsJson = False,
) -> None:
    """Correct a payer's entry; the next sending uses it (what was sent stays as sent)."""
    from coverage.policies.loader import load_registry
    from coverage.services.payers import CLOCK_BOUNDS, edit_payer

    changes: dict[str, object] = {
        field: value
        for field, value in (
            ("name", name),
            ("channel", channel),
            ("fax", fax),
            ("phone", phone),
            ("portal_url", portal),
            ("policy_id", policy),
        )
        if value is not None
    }
    for field, option, text in (
        ("turnaround_days", "--turnaround-days", turnaround_days),
        ("urgent_turnaround_hours", "--urgent-hours", urgent_hours),
        ("appeal_window_days", "--appeal-days", appeal_days),
    ):
        number = option_count(option, text, low=1, high=CLOCK_BOUNDS[field][1])
        if number is not None:
            changes[field] = number
    with records() as r:
        known = load_registry(r.settings.policy_dir).ids() if policy else None
        try:
            before, after = edit_payer(payer, changes, uow=r.uow(), known_policies=known)
        except InvalidInput as error:
            raise _as_options(error, name="--name") from None
    if as_json:
        print_json({"before": before.to_dict(), "after": after.to_dict()})
        return
    old, new = before.to_dict(), after.to_dict()
    for field in sorted(changes):
        print(f"payer {after.id}: {field} {old[field]!r} -> {new[field]!r}")


#: The payer's field names, as the options of ``payers add`` that carry them.
_PAYER_OPTIONS = {
    "name": "NAME",
    "policy_id": "--policy",
    "portal_url": "--portal",
    "turnaround_days": "--turnaround-days",
    "urgent_turnaround_hours": "--urgent-hours",
    "appeal_window_days": "--appeal-days",
    "channel": "--channel",
    "fax": "--fax",
    "phone": "--phone",
}


def _as_options(error: InvalidInput, name: str = "NAME") -> InvalidInput:
    """The same problems, each naming the command-line option rather than the field behind it."""
    lines = []
    options = {**_PAYER_OPTIONS, "name": name}
    for line in error.lines():
        field, sep, rest = line.partition(":")
        option = options.get(field.strip())
        lines.append(f"{option}:{rest}" if option is not None and sep else line)
    return InvalidInput(lines)


@payers_app.command("list")
def payers_list(as_json: AsJson = False) -> None:
    """The payer directory."""
    from rich.console import Console
    from rich.table import Table

    from coverage.services.payers import list_payers

    with records() as r:
        payers = list_payers(uow=r.uow())
    if as_json:
        print_json([p.to_dict() for p in payers])
        return
    table = Table("id", "name", "channel", "fax", "phone", "portal", "policy", "turnaround", "urgent", "appeal")
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
            f"{p.appeal_window_days} d" if p.appeal_window_days else "default",
        )
    Console().print(table)


@payers_app.command("show")
def payers_show(name: Annotated[str, typer.Argument(help="The payer's id or name.")], as_json: AsJson = False) -> None:
    """One payer."""
    from coverage.services.payers import get_payer

    with records() as r:
        payer = get_payer(name, uow=r.uow())
    if as_json:
        print_json(payer.to_dict())
        return
    for key, value in payer.to_dict().items():
        print(f"{key}: {'' if value is None else value}")


# --- db -----------------------------------------------------------------------------------------


def _db_settings() -> Settings:
    """The settings, refused on a server's hosts without the shared records URL (as every staff command)."""
    from coverage.workflow.server import check_server_records

    settings = load_settings()
    check_server_records(settings)
    return settings


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option("--revision", help="Target revision.")] = "head",
) -> None:
    """Migrate the database (the settings' URL, or the embedded SQLite file) up to the latest revision."""
    from coverage.store.db import configured_engine, current_revision, upgrade

    with configured_engine(_db_settings()) as engine:
        upgrade(engine, revision)
        print(f"database at revision {current_revision(engine)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' removes every table.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: a downgrade drops tables and their records.")] = False,
) -> None:
    """Migrate the database down to a revision (records of later revisions are lost: give --yes)."""
    from coverage.store.db import configured_engine, current_revision, downgrade

    if not yes:
        raise InvalidInput(
            [f"--yes: a downgrade to {revision} drops tables and the records in them; confirm with --yes"]
        )
    with configured_engine(_db_settings()) as engine:
        downgrade(engine, revision)
        print(f"database at revision {current_revision(engine) or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """The revision the database is at, and the latest one."""
    from coverage.store.db import configured_engine, current_revision, head_revision

    with configured_engine(_db_settings()) as engine:
        print(f"current {current_revision(engine) or 'none'}, latest {head_revision()}")
