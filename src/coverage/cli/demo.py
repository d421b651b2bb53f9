"""``priorauth demo`` (the whole pipeline on the sample cases, against the sandbox payer) and
``priorauth deploy`` (the Prefect deployments, from ``deployments/prefect.yaml``).

The demo works in a folder of its own (``<data dir>/demo``: records database and PDFs, reset
at every start; Prefect's home beside it unless ``PREFECT_HOME`` is set), so it never touches a
clinic's records. It runs the same Prefect flows a server runs, in Prefect's local mode.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coverage.cli.app import app

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from rich.console import Console

    from coverage.workflow.runtime import Runtime

#: What the sandbox payer does with each sample case in the demo (by case id).
DEMO_SCENARIOS = {
    "EX-01-meets": "deny_documentation",  # denied for documentation: appeal, then approved
    "EX-04-missing-docs": "partial",  # once the documentation is collected: partially approved
    "EX-07-iv-covered": "deny_not_covered",  # denied as not a covered benefit: self-pay plan
    "EX-08-continuation": "pend_then_approve",  # pended for information, sent, approved
}
#: The sample whose missing documentation "staff collect" during the demo.
AMENDED_CASE = "EX-04-missing-docs"
#: The sample whose patient makes a first payment on the plan (receipt).
FIRST_PAYMENT_CASE = "EX-07-iv-covered"


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
    names = ("intake", "prior_authorization", "status", "fallback")
    return {name: importlib.import_module(f"flows.{name}") for name in names}


def _prepare_folder() -> Path:
    """Point the settings and Prefect at the demo folder (before Prefect is imported); reset the records."""
    from coverage.settings import configure_prefect_home, load_settings

    base = load_settings().data_dir
    demo = base / "demo"
    records = demo / "data"
    shutil.rmtree(records, ignore_errors=True)
    records.mkdir(parents=True)
    os.environ["PRIORAUTH_DATA_DIR"] = str(records)
    os.environ.pop("PRIORAUTH_DATABASE_URL", None)
    if "PREFECT_HOME" not in os.environ:
        (demo / "prefect").mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(demo / "prefect")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    configure_prefect_home(load_settings())
    return records


def _amended_case(samples: Path, folder: Path) -> Path:
    """``EX-04`` as staff complete it: REMS enrollment confirmed and a recent PHQ-9 added."""
    data: dict[str, Any] = json.loads((samples / f"{AMENDED_CASE}.json").read_text(encoding="utf-8"))
    data["request"]["patient_rems_enrolled"] = True
    data["assessments"] = [*data.get("assessments", []), {"instrument": "phq9", "score": 21, "date": "2026-11-18"}]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{AMENDED_CASE}.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return folder


def run_demo(console: Console) -> list[dict[str, Any]]:
    """Run the pipeline over the sample cases until every request is decided; the summary rows."""
    import datetime as dt
    from importlib import resources

    records = _prepare_folder()
    from coverage.payers.gateways import SandboxGateway
    from coverage.requests import service as requests
    from coverage.settings import load_settings
    from coverage.workflow import prepare, selfpay
    from coverage.workflow.runtime import WORKFLOW_ACTOR, Runtime, use_runtime

    settings = load_settings()
    rt = Runtime.from_settings(settings)
    rt.all_electronic = True
    use_runtime(rt)
    flows = _load_flows()
    samples = Path(str(resources.files("coverage").joinpath("samples")))

    def step(text: str) -> None:
        console.print(f"[bold cyan]>[/] {text}")

    step("intake: the 8 sample cases (flow intake-batch)")
    taken = asyncio.run(flows["intake"].intake_batch(str(samples)))
    by_case = {_case_of(rt, rid): rid for rid in taken["requests"]}
    rt.electronic = SandboxGateway(
        seed=0,
        delay=dt.timedelta(0),
        expedited_delay=dt.timedelta(0),
        scenarios={by_case[case]: scenario for case, scenario in DEMO_SCENARIOS.items()},  # type: ignore[misc]
    )
    step(f"staff collect the missing documentation of {AMENDED_CASE}: intake the amended case")
    asyncio.run(flows["intake"].intake_batch(str(_amended_case(samples, records / "amended"))))

    def statuses() -> dict[int, str]:
        return {v.request_id: v.stored_status for v in requests.list_requests(uow=rt.uow())}

    for request_id, status in statuses().items():
        if status == "not_required":
            step(f"request {request_id}: no prior authorization needed; documentation packet filed")
            prepare.file_documentation(
                request_id, uow=rt.uow(), checker=rt.checker, clinic=rt.clinic, documents_dir=rt.documents_dir
            )
        elif status == "draft":
            step(f"request {request_id}: not coverable; fall back (flow denial-fallback)")
            asyncio.run(flows["fallback"].denial_fallback(request_id))
    _until_decided(rt, flows, step, console)
    today = dt.datetime.now(dt.UTC).date()
    for request_id, status in statuses().items():
        if status == "payment_plan":
            case_id = _case_of(rt, request_id)
            step(f"request {request_id}: the patient takes the payment plan")
            selfpay.accept_offer(
                request_id,
                uow=rt.uow(),
                clinic=rt.clinic,
                documents_dir=rt.documents_dir,
                by=WORKFLOW_ACTOR,
                start=today,
                first_payment=case_id == FIRST_PAYMENT_CASE,
            )
    rows = []
    for view in requests.list_requests(uow=rt.uow()):
        detail = requests.get_request(view.request_id, uow=rt.uow())
        rows.append(
            {
                "case_id": view.case_id,
                "request_id": view.request_id,
                "status": view.stored_status,
                "documents": _kinds([d.kind for d in detail.documents]),
                "pdfs": sum(1 for d in detail.documents if d.path and Path(d.path).is_file()),
            }
        )
    use_runtime(None)
    rt.database.dispose()
    return rows


def _until_decided(rt: Runtime, flows: dict[str, ModuleType], step: Callable[[str], None], console: Console) -> None:
    """Send what is ready (requests, information, appeals) and check statuses until the payer has decided all."""
    from coverage.requests import service as requests
    from coverage.workflow import prepare

    def statuses() -> dict[int, str]:
        return {v.request_id: v.stored_status for v in requests.list_requests(uow=rt.uow())}

    for _ in range(6):
        current = statuses()
        to_send = [rid for rid, status in current.items() if status in prepare.SENDABLE]
        for request_id in to_send:
            step(f"request {request_id}: {current[request_id]} -> send to the payer (flow prior-authorization)")
            asyncio.run(flows["prior_authorization"].prior_authorization(request_id))
        if not any(status in ("submitted", "pended", "appeal_submitted") for status in statuses().values()):
            break
        step("status check of every request awaiting the payer (flow check-status)")
        totals = asyncio.run(flows["status"].check_status(recheck_minutes=0))
        console.print(f"  {totals}")
        if not any(status in (*prepare.SENDABLE, "submitted", "appeal_submitted") for status in statuses().values()):
            break


def _kinds(kinds: list[str]) -> list[str]:
    """Each document kind once, in order, with a count when there are several (``fax-cover x2``)."""
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return [f"{kind} x{n}" if n > 1 else kind for kind, n in counts.items()]


def _case_of(rt: Runtime, request_id: int) -> str:
    from coverage.requests import service as requests

    return requests.get_request(request_id, uow=rt.uow()).request.case_id


@app.command()
def demo() -> None:
    """Run the whole workflow on the sample cases against the sandbox payer, in a demo folder of its own."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    started = time.perf_counter()
    console.print("[bold]priorauth demo[/]: sample cases -> determinations, letters, submissions, answers")
    rows = run_demo(console)
    from coverage.settings import load_settings

    folder = load_settings().documents_dir
    table = Table(title="Every sample case, decided")
    for column in ("case", "request", "final status", "documents", "PDFs"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["case_id"], str(row["request_id"]), row["status"], ", ".join(row["documents"]), str(row["pdfs"])
        )
    console.print(table)
    console.print(f"PDFs: {folder}")
    console.print(f"Prefect runs: {os.environ.get('PREFECT_HOME')} (`prefect server start` to browse them)")
    console.print(f"done in {time.perf_counter() - started:.1f} s")


@app.command()
def deploy(
    prefect_file: Annotated[Path, typer.Option(help="relative to the project folder")] = Path(
        "deployments/prefect.yaml"
    ),
) -> None:
    """Apply the Prefect deployments (prefect deploy --all) with the clinic's time zone and project folder."""
    from coverage.settings import load_settings

    root = project_dir()
    env = dict(os.environ)
    env["PRIORAUTH_TIMEZONE"] = load_settings().timezone
    env["PRIORAUTH_PROJECT_DIR"] = str(root)
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect) if prefect.exists() else "prefect", "--no-prompt", "deploy", "--all"]
    command += ["--prefect-file", str(prefect_file)]
    completed = subprocess.run(command, cwd=root, env=env, check=False)  # noqa: S603  # our own argv, no shell
    raise typer.Exit(completed.returncode)
