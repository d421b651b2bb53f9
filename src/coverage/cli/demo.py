"""``priorauth demo`` (a day at the billing office on the sample cases, against the sandbox payer) and
``priorauth deploy`` (the Prefect deployments, from ``deployments/prefect.yaml``).

The demo works in a folder of its own (``<data dir>/demo``: records database and PDFs, reset at
every start; Prefect's home beside it unless ``PREFECT_HOME`` is set), so it never touches a
clinic's records. The sample cases are moved to today's dates first (a shipped case never goes
stale). It runs the same Prefect flows a server runs, in Prefect's local mode, and the same
services the commands call; it prints its own steps and sends Prefect's log lines to a file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coverage.cli.app import app
from coverage.errors import PriorAuthError

if TYPE_CHECKING:
    from types import ModuleType

    from rich.console import Console

    from coverage.workflow.runtime import Runtime

#: What the sandbox payer does with each sample case (by case id); the others are decided by hand.
DEMO_SCENARIOS = {
    "EX-01-meets": "approve",
    "EX-04-missing-docs": "partial",
    "EX-08-continuation": "pend_then_approve",
}
#: Payers of the samples: how each is reached.
DEMO_PAYERS = (
    ("Example Health Plan", "electronic", None),
    ("Medicare Part B", "electronic", None),
    ("Bay State Blue", "fax", "(617) 555-0148"),
)
#: The day the shipped samples were gathered; the demo moves every date by (today - this).
SAMPLES_GATHERED = dt.date(2026, 11, 20)


def project_dir() -> Path:
    """The project checkout (where ``flows/`` and ``deployments/`` are): ``PRIORAUTH_PROJECT_DIR`` or the
    folder above ``src/``."""
    configured = os.environ.get("PRIORAUTH_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "flows").is_dir() and (parent / "deployments").is_dir():
            return parent
    return Path.cwd()


def _load_flows() -> dict[str, ModuleType]:
    """The flow modules, imported from the project's ``flows/`` package."""
    import importlib

    root = str(project_dir())
    if root not in sys.path:
        sys.path.insert(0, root)
    names = ("intake", "prior_authorization", "status", "fallback", "renewals")
    return {name: importlib.import_module(f"flows.{name}") for name in names}


_LOGGING = """version: 1
disable_existing_loggers: False
formatters:
  standard:
    (): prefect.logging.formatters.PrefectFormatter
    format: "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s"
    flow_run_fmt: "%(asctime)s.%(msecs)03d | %(levelname)-7s | Flow run %(flow_run_name)r - %(message)s"
    task_run_fmt: "%(asctime)s.%(msecs)03d | %(levelname)-7s | Task run %(task_run_name)r - %(message)s"
    datefmt: "%H:%M:%S"
handlers:
  file:
    level: 0
    class: logging.FileHandler
    formatter: standard
    filename: "{path}"
  api:
    level: 0
    class: prefect.logging.handlers.APILogHandler
loggers:
  prefect: {{level: INFO, handlers: [file], propagate: false}}
  prefect.flow_runs: {{level: NOTSET, handlers: [api, file], propagate: false}}
  prefect.task_runs: {{level: NOTSET, handlers: [api, file], propagate: false}}
  coverage: {{level: INFO, handlers: [file], propagate: false}}
  uvicorn: {{level: WARNING, handlers: [file], propagate: false}}
  fastapi: {{level: WARNING, handlers: [file], propagate: false}}
root: {{level: WARNING, handlers: [file]}}
"""


def _prepare_folder() -> tuple[Path, Path]:
    """Point the settings and Prefect at the demo folder (before Prefect is imported); reset the records.

    Returns the records folder and the log file Prefect writes to.
    """
    from coverage.settings import configure_prefect_home, load_settings

    base = load_settings().data_dir
    demo = base / "demo"
    records = demo / "data"
    demo.mkdir(mode=0o700, parents=True, exist_ok=True)
    demo.chmod(0o700)  # the demo's records, PDFs and Prefect's database and log: the owner's only
    shutil.rmtree(records, ignore_errors=True)
    records.mkdir(parents=True, mode=0o700)
    log = demo / "prefect.log"
    log.unlink(missing_ok=True)
    settings_file = demo / "logging.yml"
    settings_file.write_text(_LOGGING.format(path=str(log).replace('"', '\\"')), encoding="utf-8")
    os.environ["PRIORAUTH_DATA_DIR"] = str(records)
    for name in ("PRIORAUTH_DATABASE_URL", "PRIORAUTH_DOCUMENTS_URL", "PRIORAUTH_SIGNOFF"):
        os.environ.pop(name, None)
    os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(settings_file)
    if "PREFECT_HOME" not in os.environ:
        (demo / "prefect").mkdir(mode=0o700, parents=True, exist_ok=True)
        (demo / "prefect").chmod(0o700)
        os.environ["PREFECT_HOME"] = str(demo / "prefect")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    configure_prefect_home(load_settings())
    return records, log


def shift_dates(value: Any, days: int) -> Any:
    """Every ``YYYY-MM-DD`` date of a case moved by ``days`` (birth dates stay: a person's age is theirs)."""
    if isinstance(value, dict):
        return {k: v if k == "birth_date" else shift_dates(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_dates(v, days) for v in value]
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()
        except ValueError:
            return value
    return value


def dated_samples(folder: Path, today: dt.date) -> Path:
    """The shipped sample cases, with their dates moved so that they were gathered two days ago."""
    from importlib import resources

    samples = Path(str(resources.files("coverage").joinpath("samples")))
    days = (today - dt.timedelta(days=2) - SAMPLES_GATHERED).days
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(samples.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        (folder / path.name).write_text(json.dumps(shift_dates(data, days), indent=2), encoding="utf-8")
    return folder


class _Day:
    """The demo's day, step by step: each method is a part of a billing clerk's day."""

    clerk, clinician, nurse = "demo-clerk", "dr-delgado", "nurse-1"

    def __init__(self, console: Console, rt: Runtime, flows: dict[str, ModuleType], samples: Path) -> None:
        self.console, self.rt, self.flows, self.samples = console, rt, flows, samples
        self.today = rt.ctx.today()
        self.ids: dict[str, int] = {}

    def step(self, text: str) -> None:
        self.console.print(f"[bold cyan]>[/] {text}")

    def note(self, text: str) -> None:
        self.console.print(f"  {text}")

    def run(self, flow: str, *args: Any, **kwargs: Any) -> Any:
        module = self.flows[flow]
        entry = {"intake": "intake_batch", "status": "check_status", "fallback": "denial_fallback"}.get(flow, flow)
        return asyncio.run(getattr(module, entry)(*args, **kwargs))

    def status(self, request_id: int) -> str:
        from coverage.services import requests as services

        return services.get_request(request_id, uow=self.rt.uow(), ctx=self.rt.ctx).request.stored_status

    def intake(self) -> None:
        from coverage.payers.gateways import SandboxGateway
        from coverage.services import payers
        from coverage.services import requests as services

        rt = self.rt
        self.step("the payer directory: Example Health Plan and Medicare answer electronically, Bay State Blue by fax")
        for name, channel, number in DEMO_PAYERS:
            payers.add_payer(
                name, uow=rt.uow(), channel=channel, fax=number, turnaround_days=14, urgent_turnaround_hours=72
            )
        self.step(f"intake of the 8 sample cases, dated {self.today - dt.timedelta(days=2)} (flow intake-batch)")
        self.run("intake", str(self.samples))
        self.ids = {v.case_id: v.request_id for v in services.list_requests(uow=rt.uow(), ctx=rt.ctx)}
        rt.electronic = SandboxGateway(
            seed=0,
            delay=dt.timedelta(0),
            expedited_delay=dt.timedelta(0),
            timezone=rt.settings.timezone,
            scenarios={self.ids[case]: scenario for case, scenario in DEMO_SCENARIOS.items()},  # type: ignore[misc]
        )
        for case, rid in self.ids.items():
            self.note(f"request {rid} ({case}): {self.status(rid)}")

    def send(self) -> None:
        from coverage.services import requests as services

        rt, first, by_fax = self.rt, self.ids["EX-01-meets"], self.ids["EX-07-iv-covered"]
        self.step(f"request {first}: prepared with a clinician's sign-off (flow prior-authorization, sign_off=true)")
        prepared = self.run("prior_authorization", first, sign_off=True)
        self.note(f"{prepared['state']}: {len(prepared['documents'])} documents wait for the clinician")
        self.step(f"request {first}: {self.clinician} approves the sign-off; the flow is started again")
        services.signoff(first, approve=True, uow=rt.uow(), ctx=rt.ctx, by=self.clinician, note="trials checked")
        prepared = self.run("prior_authorization", first)
        self.note(f"{prepared['state']} ({prepared['status']})")
        self.step(f"request {by_fax}: Bay State Blue takes faxes: the flow opens a send task, nothing is marked sent")
        prepared = self.run("prior_authorization", by_fax)
        self.note(f"{prepared['state']}: send {prepared['pages']} pages by fax; status stays {prepared['status']}")
        self.step(f"request {by_fax}: {self.clerk} faxes it; the line is busy once, then it goes through")
        services.send_failed(by_fax, "line busy", uow=rt.uow(), ctx=rt.ctx, by=self.clerk)
        services.submit(by_fax, uow=rt.uow(), ctx=rt.ctx, channel="fax", reference="FAX-0001", by=self.clerk)
        self.note(self.status(by_fax))

    def pended(self) -> None:
        pended, missing = self.ids["EX-08-continuation"], self.ids["EX-04-missing-docs"]
        self.step(f"request {pended}: sent; the sandbox payer pends it for recent scores (flow check-status)")
        self.run("prior_authorization", pended)
        self.run("status", recheck_minutes=0)
        self.note(self.status(pended))
        self.step(f"request {pended}: {self.clerk} adds the PHQ-9 asked for, on the same request, and sends again")
        _amend(self.rt, pended, self.samples / "EX-08-continuation.json", self.today, self.clerk, phq9=6)
        self.run("prior_authorization", pended)
        self.step(f"request {missing}: {self.clerk} completes the missing documentation and sends it")
        _amend(self.rt, missing, self.samples / "EX-04-missing-docs.json", self.today, self.clerk, rems=True)
        self.run("prior_authorization", missing)
        self.step("status check of every request with the payer (flow check-status): answers, notices, fallbacks")
        self.note(str(self.run("status", recheck_minutes=0)))

    def undo(self) -> None:
        from coverage.services import requests as services

        rt, by_fax, missing = self.rt, self.ids["EX-07-iv-covered"], self.ids["EX-04-missing-docs"]
        approval = services.AnswerInput(
            decision="approved",
            reference="BSB-7781",
            auth_number="BSB-A-7781",
            valid_from=self.today,
            valid_to=self.today + dt.timedelta(days=89),
            sessions=6,
        )
        self.step(f"request {by_fax}: Bay State Blue phones its approval; {self.clerk} types it on request {missing}")
        try:
            services.record_answer(missing, approval, uow=rt.uow(), ctx=rt.ctx, by=self.clerk)
        except PriorAuthError as error:  # the demo shows the refusal a clerk would see
            self.note(f"refused: {error}")
        self.step(f"request {by_fax}: recorded on the right request, undone, and recorded again")
        services.record_answer(by_fax, approval, uow=rt.uow(), ctx=rt.ctx, by=self.clerk)
        services.undo(by_fax, "recorded before the payer's letter arrived", uow=rt.uow(), ctx=rt.ctx, by=self.clerk)
        self.note(f"after the undo: {self.status(by_fax)}")
        services.record_answer(by_fax, approval, uow=rt.uow(), ctx=rt.ctx, by=self.clerk)
        self.note(self.status(by_fax))

    def sessions(self) -> None:
        from coverage.services import requests as services
        from coverage.services import sessions

        rt, first = self.rt, self.ids["EX-01-meets"]
        self.step(f"request {first}: a session entered at 84 mg instead of 56 mg: it is voided")
        mistake = sessions.add(first, day=self.today, dose_mg=84, uow=rt.uow(), ctx=rt.ctx, by=self.nurse)
        self.note(f"session {mistake.id}: charged to {mistake.authorization_number or 'nothing (on the worklist)'}")
        sessions.void(mistake.id, "wrong dose: the session was 56 mg", uow=rt.uow(), ctx=rt.ctx, by=self.nurse)
        self.step(f"request {first}: today's session of 56 mg charges its authorization (J0013: 1 unit = 1 mg)")
        sessions.add(first, day=self.today, uow=rt.uow(), ctx=rt.ctx, by=self.nurse)
        auth = services.get_request(first, uow=rt.uow(), ctx=rt.ctx).request.authorization
        if auth is not None:
            self.note(f"authorization {auth.number}: {auth.units_used} of {auth.units} units used")
        self.step(f"request {first}: a continuation for the next period (a life of its own)")
        taken = services.continue_request(first, uow=rt.uow(), checker=rt.checker, ctx=rt.ctx, by=self.clerk)
        later = taken.request_id
        self.ids["EX-01-meets (continuation)"] = later
        self.note(f"request {later}: {taken.status} ({taken.determination.outcome}: the response scores are missing)")
        self.step(f"request {later}: {self.clerk} adds the first session's date and today's PHQ-9 (the response)")
        _amend(rt, later, self.samples / "EX-01-meets.json", self.today, self.clerk, phq9=7, continuation=True)
        self.run("prior_authorization", later)
        self.run("status", recheck_minutes=0)
        self.note(f"request {later}: {self.status(later)}; request {first} keeps its own authorization")

    def fall_back(self) -> None:
        from coverage.services import requests as services
        from coverage.workflow import selfpay
        from coverage.workflow.runtime import WORKFLOW_ACTOR

        for case, rid in self.ids.items():
            current = self.status(rid)
            outcome = services.get_request(rid, uow=self.rt.uow(), ctx=self.rt.ctx).request.outcome
            if current == "denied" or (current == "draft" and outcome in ("not_covered", "does_not_meet_criteria")):
                self.step(f"request {rid} ({case}): {current}; fall back (flow denial-fallback)")
                self.run("fallback", rid)
            elif current == "not_required":
                self.step(f"request {rid} ({case}): no prior authorization needed; sessions can be scheduled")
        plan = self.ids["EX-02-iv-not-covered"]
        self.step(f"request {plan}: the patient takes the payment plan and pays the first installment")
        selfpay.accept_offer(plan, rt=self.rt, by=WORKFLOW_ACTOR, start=self.today, first_payment=True)

    def summary(self) -> list[dict[str, Any]]:
        from coverage.services import requests as services

        rows = []
        for case, rid in sorted(self.ids.items(), key=lambda item: item[1]):
            detail = services.get_request(rid, uow=self.rt.uow(), ctx=self.rt.ctx)
            rows.append(
                {
                    "case_id": case,
                    "request_id": rid,
                    "status": detail.request.status,
                    "documents": _kinds([d.kind for d in detail.documents]),
                    "events": len(detail.events),
                }
            )
        return rows


def run_demo(console: Console) -> tuple[list[dict[str, Any]], Path]:
    """A day at the billing office on the sample cases; the summary rows and the Prefect log file."""
    records, log = _prepare_folder()
    from coverage.settings import load_settings
    from coverage.workflow.runtime import Runtime, use_runtime

    rt = Runtime.from_settings(load_settings())
    use_runtime(rt)
    try:
        day = _Day(console, rt, _load_flows(), dated_samples(records / "samples", rt.ctx.today()))
        for part in (day.intake, day.send, day.pended, day.undo, day.sessions, day.fall_back):
            part()
        return day.summary(), log
    finally:
        use_runtime(None)
        rt.database.dispose()


def _amend(
    rt: Runtime,
    request_id: int,
    path: Path,
    today: dt.date,
    by: str,
    *,
    phq9: int = 21,
    rems: bool = False,
    continuation: bool = False,
) -> None:
    """The case as the clerk completes it: a PHQ-9 of today added (and REMS enrollment confirmed)."""
    from coverage.services import requests as services

    if continuation:
        data: dict[str, Any] = services.case_document(request_id, uow=rt.uow())
        data["request"]["therapy_start"] = (today - dt.timedelta(days=5)).isoformat()
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
    data["as_of"] = today.isoformat()
    if rems:
        data["request"]["patient_rems_enrolled"] = True
    data["assessments"] = [
        *data.get("assessments", []),
        {"instrument": "phq9", "score": phq9, "date": today.isoformat()},
    ]
    services.amend(request_id, json.dumps(data), uow=rt.uow(), checker=rt.checker, ctx=rt.ctx, by=by)


def _kinds(kinds: list[str]) -> list[str]:
    """Each document kind once, in order, with a count when there are several (``fax-cover x2``)."""
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return [f"{kind} x{n}" if n > 1 else kind for kind, n in counts.items()]


@app.command()
def demo(
    web: Annotated[
        bool, typer.Option("--web", help="Then serve the demo's records in the browser, with a demo user.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="The web app's port (with --web).", min=1, max=65535)] = 8000,
) -> None:
    """A day at the billing office on the sample cases, against the sandbox payer, in a demo folder of its own."""
    import gc

    from rich.console import Console

    gc.enable()  # a long run: the command line starts with the collector off
    from rich.table import Table

    console = Console()
    started = time.perf_counter()
    console.print("[bold]priorauth demo[/]: intake, sign-off, sendings by gateway and by fax, answers, sessions, ...")
    rows, log = run_demo(console)
    from coverage.settings import load_settings

    table = Table(title="The sample requests at the end of the day")
    for column in ("case", "request", "status", "documents", "events"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["case_id"], str(row["request_id"]), row["status"], ", ".join(row["documents"]), str(row["events"])
        )
    console.print(table)
    console.print(f"Records and PDFs: {load_settings().data_dir}")
    console.print(f"Prefect's log lines: {log}")
    home = os.environ.get("PREFECT_HOME")
    console.print(
        f"Prefect runs: {home} (to browse them: PREFECT_HOME={home} "
        "PREFECT_SERVER_API_AUTH_STRING=<a secret> .venv/bin/prefect server start --host 127.0.0.1)"
    )
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    if web:
        _serve_demo(console, port)


def _serve_demo(console: Console, port: int) -> None:
    """The demo's records in the browser: a demo clinician with a new random password, on 127.0.0.1."""
    import secrets

    from coverage.cli.web import serve
    from coverage.settings import load_settings
    from coverage.store.db import open_database
    from coverage.web.accounts import Accounts

    password = secrets.token_urlsafe(12)
    database = open_database(load_settings())
    try:
        accounts = Accounts(database.sessions)
        if any(u.name == "demo" for u in accounts.users()):
            accounts.set_password("demo", password)
            accounts.set_disabled("demo", False)
        else:
            accounts.add_user("demo", role="clinician", password=password)
    finally:
        database.dispose()
    console.print(f"Sign in at http://127.0.0.1:{port}/ as [bold]demo[/] with the password [bold]{password}[/]")
    serve("127.0.0.1", port)


@app.command()
def deploy(
    prefect_file: Annotated[Path, typer.Option(help="relative to the project folder")] = Path(
        "deployments/prefect.yaml"
    ),
    automations: Annotated[
        bool, typer.Option(help="create the automations that reschedule runs whose worker died")
    ] = True,
) -> None:
    """Apply the Prefect deployments (prefect deploy --all) with the clinic's time zone and project folder.

    Needs ``PREFECT_API_URL`` and the server's client string in ``PREFECT_API_AUTH_STRING`` (checked
    first: one line when missing or refused), then creates the crash automations. Flow runs send a
    heartbeat every ``PRIORAUTH_HEARTBEAT_SECONDS``; a run silent for ``PRIORAUTH_CRASH_SILENCE_SECONDS``
    is crashed and run again.
    """
    from coverage.errors import ConfigurationError
    from coverage.settings import load_settings
    from coverage.workflow.server import api_url, check_api

    if api_url() is None:
        raise ConfigurationError("PREFECT_API_URL: not set; deploy needs the Prefect server's API URL")
    check_api()
    settings = load_settings()
    root = project_dir()
    env = dict(os.environ)
    env["PRIORAUTH_TIMEZONE"] = settings.timezone
    env["PRIORAUTH_PROJECT_DIR"] = str(root)
    env["PRIORAUTH_HEARTBEAT_SECONDS"] = str(settings.heartbeat_seconds)
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect) if prefect.exists() else "prefect", "--no-prompt", "deploy", "--all"]
    command += ["--prefect-file", str(prefect_file)]
    completed = subprocess.run(command, cwd=root, env=env, check=False)  # noqa: S603  # our own argv, no shell
    if completed.returncode != 0 or not automations:
        raise typer.Exit(completed.returncode)
    from coverage.workflow.automations import DEPLOYMENTS, ensure_crash_automations

    silence = dt.timedelta(seconds=settings.crash_silence_seconds)
    made = asyncio.run(ensure_crash_automations(DEPLOYMENTS, silence))
    typer.echo(f"automations: {', '.join(made)}")
    # Prefect's own tip above names `prefect worker start`: that skips our host checks, heartbeats
    # and no-pickle settings.
    typer.echo("start workers with `priorauth worker` (not `prefect worker start`): it checks this host first")


@app.command()
def worker(
    pool: Annotated[str, typer.Option(help="the work pool")] = "priorauth",
    limit: Annotated[int | None, typer.Option(help="at most this many runs at once", min=1)] = None,
    check_only: Annotated[bool, typer.Option("--check", help="check this host, start nothing")] = False,
) -> None:
    """Check this host (Prefect credentials, records database, document store, clinic, policies, the health
    check's port free), then run a Prefect process worker with heartbeats and a health check on
    PREFECT_WORKER_WEBSERVER_PORT (8080 unless set; one port per worker on a host); one line per problem,
    exit 2, or exit 75 (try again later) when the server or the records database does not answer now."""
    from coverage.errors import ConfigurationError, Unreachable
    from coverage.settings import load_settings
    from coverage.workflow.server import WORKER_ENVIRONMENT, api_url, health_port_problems, worker_errors

    if api_url() is None:
        raise ConfigurationError("PREFECT_API_URL: not set; a worker needs the Prefect server's API URL")
    settings = load_settings()
    environment = WORKER_ENVIRONMENT | {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(settings.heartbeat_seconds)}
    for name, value in environment.items():
        os.environ.setdefault(name, value)
    errors, port_problems = worker_errors(settings), health_port_problems()
    problems = [line for error in errors for line in error.lines()] + port_problems
    if problems:
        # Only a server or database not answering now: the supervisor tries again; anything else is fixed first.
        passing = not port_problems and all(isinstance(error, Unreachable) for error in errors)
        raise _Problems(problems, exit_status=TEMPORARY_FAILURE if passing else 2)
    if check_only:
        typer.echo("worker checks: ok")
        return
    os.environ["PRIORAUTH_PROJECT_DIR"] = str(project_dir())
    prefect = Path(sys.executable).with_name("prefect")
    argv = [str(prefect) if prefect.exists() else "prefect", "worker", "start", "--pool", pool]
    argv += ["--type", "process", "--with-healthcheck"]
    if limit is not None:
        argv += ["--limit", str(limit)]
    # Prefect's worker stops on SIGTERM by sending itself SIGINT. A process started in the background
    # by a non-interactive shell (`cmd &` in a script) inherits SIGINT ignored, exec keeps it ignored,
    # and that worker never stops: both signals back to their defaults first.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    sys.stdout.flush()
    os.execvp(argv[0], argv)  # noqa: S606  # our own argv: the supervisor's signals reach the worker itself


#: ``priorauth worker``'s exit status when the server or the records database does not answer now
#: (``EX_TEMPFAIL`` of sysexits.h): systemd starts it again after ``RestartSec``; exit 2 it does not.
TEMPORARY_FAILURE = 75


class _Problems(PriorAuthError):
    """Several problems, one line each."""

    def __init__(self, problems: list[str], *, exit_status: int = 2) -> None:
        self.problems = problems
        self.exit_status = exit_status
        super().__init__("; ".join(problems))

    def lines(self) -> list[str]:
        return list(self.problems)
