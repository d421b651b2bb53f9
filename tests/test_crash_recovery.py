"""Runs that outlive their worker, on a real Prefect server: a worker killed mid-sending, one stopped
by SIGTERM mid-sending (as systemd stops it), and a sign-off approved while no worker runs. Either way
the request is sent exactly once; a worker stops within seconds of SIGTERM, idle or not.

Real pieces throughout, as a clinic runs them: a Prefect server with an auth string on a loopback
port (on PostgreSQL when ``PRIORAUTH_TEST_DATABASE_URL`` names one, as the records database then
is too), the work pool, ``priorauth deploy``, ``priorauth worker`` processes, ``priorauth`` commands
and the simulated payer. The server and its deployments are made once for this file; each test has
a records database of its own with one ready request.

Flow runs send a heartbeat every 30 s (Prefect's minimum) and the test deploys the crash automations
with a 60 s silence (``PRIORAUTH_CRASH_SILENCE_SECONDS``; production waits 90 s): the crash test waits
about a minute for the automation, so it is marked slow.
"""

from __future__ import annotations

import json
import re
import signal
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest

from tests.conftest import case_gathered
from tests.server_support import (
    PREFECT,
    PRIORAUTH,
    api,
    descendants,
    free_port,
    kill_all,
    postgres_or_sqlite,
    prefect_server,
    run,
    start,
    stop,
    text_cells,
    wait_for,
)

pytestmark = pytest.mark.slow

#: The deployment that sends a request.
SENDING = "prior-authorization/prior-authorization"
#: Seconds without a heartbeat before the automation crashes and reschedules a run: two 30 s beats.
SILENCE = "60"
#: States a run ends in here (``Crashed`` is not one: the crash automation schedules it again at once).
FINAL = ("COMPLETED", "FAILED", "CANCELLED")
#: Seconds a worker may take to stop after SIGTERM (systemd's TimeoutStopSec for it is longer).
STOPPED_WITHIN = 15


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The Prefect server with the work pool and every deployment, by ``priorauth deploy``: its clients' environment."""
    folder = tmp_path_factory.mktemp("prefect-deployed")
    with prefect_server(folder) as server:
        env = server | {"PRIORAUTH_DATA_DIR": str(folder / "data")}
        run([str(PREFECT), "work-pool", "create", "priorauth", "--type", "process"], env)
        run([str(PRIORAUTH), "deploy"], env | {"PRIORAUTH_CRASH_SILENCE_SECONDS": SILENCE})
        yield env


@dataclass
class Clinic:
    """One clinic's records on the deployed server: its environment, database, workers and the request."""

    env: dict[str, str]
    url: str
    database: Any
    folder: Path
    request_id: int = 0
    workers: list[Popen[bytes]] = field(default_factory=list)

    def worker(self, name: str, *, background: bool = False, **extra: str) -> Popen[bytes]:
        """``priorauth worker`` on this host, with ``extra`` settings.

        ``background``: started as ``cmd &`` from a script starts it, with SIGINT ignored.
        """
        argv = [str(PRIORAUTH), "worker", "--pool", "priorauth"]
        if background:
            argv = ["/bin/sh", "-c", 'trap "" INT; exec "$@"', "sh", *argv]
        env = self.env | {"PREFECT_WORKER_WEBSERVER_PORT": str(free_port())} | extra  # its health check's port
        process = start(argv, env, self.folder / f"{name}.log")
        self.workers.append(process)
        return process

    def scalar(self, sql: str) -> Any:
        from sqlalchemy import text

        with self.database.engine.connect() as connection:
            return connection.execute(text(sql)).scalar()

    def start_run(self) -> str:
        """A run of the sending deployment for the request, as staff start one (request id only); its id."""
        deployment = api(self.url, f"/deployments/name/{SENDING}")
        made = api(self.url, f"/deployments/{deployment['id']}/create_flow_run", {"parameters": self.parameters})
        return str(made["id"])

    @property
    def parameters(self) -> dict[str, int]:
        return {"request_id": self.request_id}

    def state(self, run_id: str) -> str:
        return str(api(self.url, f"/flow_runs/{run_id}")["state"]["type"])

    def finished(self, run_id: str, timeout: float) -> str:
        """The run's final state, once it has one."""

        def final() -> str | None:
            state = self.state(run_id)
            return state if state in FINAL else None

        try:
            return wait_for(f"run {run_id} to finish", final, timeout, 2)
        except pytest.fail.Exception:
            states = api(self.url, f"/flow_run_states/?flow_run_id={run_id}")
            history = [(s["type"], s["name"], s["timestamp"], s["message"]) for s in states]
            pytest.fail(f"run {run_id} did not finish in {timeout} s; its states: {history}")

    def show(self) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(
            run([str(PRIORAUTH), "requests", "show", str(self.request_id), "--json"], self.env).stdout
        )
        return shown


@pytest.fixture
def clinic(deployed: dict[str, str], tmp_path: Path) -> Iterator[Clinic]:
    """A records database of its own (PostgreSQL when the tests have it), migrated, with one ready request."""
    from coverage.store.db import Database, upgrade

    with postgres_or_sqlite(tmp_path, "priorauth_test") as records:
        upgrade(records)
        env = {k: v for k, v in deployed.items() if k != "PREFECT_SERVER_DATABASE_CONNECTION_URL"}
        env |= {
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PRIORAUTH_DATA_DIR": str(tmp_path / "data"),
            "PRIORAUTH_DATABASE_URL": records,
            "PRIORAUTH_DOCUMENTS_URL": str(tmp_path / "documents"),
            "PRIORAUTH_GATEWAY": "sandbox",
        }
        database = Database.from_url(records)
        here = Clinic(env, deployed["PREFECT_API_URL"], database, tmp_path)
        try:
            case = tmp_path / "case.json"
            case.write_text(json.dumps(case_gathered("EX-01-meets")))
            run([str(PRIORAUTH), "intake", str(case)], env)
            here.request_id = int(here.scalar("SELECT id FROM pa_requests"))
            assert here.scalar("SELECT status FROM pa_requests") == "ready"
            yield here
        finally:
            for worker in here.workers:
                if worker.poll() is None:
                    kill_all(worker)
            database.dispose()


def _heartbeats(url: str, run_id: str) -> int:
    found = api(
        url,
        "/events/filter",
        {
            "filter": {
                "event": {"name": ["prefect.flow-run.heartbeat"]},
                "resource": {"id": [f"prefect.flow-run.{run_id}"]},
            }
        },
    )
    return int(found["total"])


def test_a_worker_killed_mid_sending_the_run_comes_back_and_sends_once(clinic: Clinic) -> None:
    from coverage.services.sending import submission_key

    # The payer takes ten minutes to accept, so the run is inside the gateway call when its worker dies.
    first = clinic.worker("worker-1", PRIORAUTH_SANDBOX_LATENCY_SECONDS="600")
    run_id = clinic.start_run()
    wait_for("the sending claim", lambda: clinic.scalar("SELECT COUNT(*) FROM sending_claims") == 1, 180)
    sending = clinic.scalar("SELECT sending FROM sending_claims")
    # The server has the run's heartbeat: from now on its silence is watched.
    wait_for("a heartbeat", lambda: _heartbeats(clinic.url, run_id), 120)
    kill_all(first)  # the worker and its flow-run process, at once
    assert clinic.state(run_id) == "RUNNING"  # nothing told Prefect
    assert clinic.scalar("SELECT COUNT(*) FROM submissions") == 0

    clinic.worker("worker-2")
    assert clinic.finished(run_id, 300) == "COMPLETED"
    history = [(s["type"], s["name"]) for s in api(clinic.url, f"/flow_run_states/?flow_run_id={run_id}")]
    # The automations marked it, then scheduled it again.
    crashed = history.index(("CRASHED", "Worker lost"))
    assert history[crashed + 1][0] == "SCHEDULED"
    # Sent once: one submission, under the key of the sending the dead run had claimed (the payer
    # answers a key it knows with the same receipt, so it got one packet).
    assert clinic.scalar("SELECT COUNT(*) FROM submissions") == 1
    assert clinic.scalar("SELECT idempotency_key FROM submissions") == submission_key(clinic.request_id, sending)
    assert clinic.scalar("SELECT status FROM pa_requests") == "submitted"
    assert clinic.scalar("SELECT COUNT(*) FROM sending_claims") == 0
    assert clinic.scalar("SELECT attempts FROM workflow_runs") == 2
    assert clinic.scalar("SELECT state FROM workflow_runs") == "completed"


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:  # a local test worker
            return bool(answer.status == 200)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("background", [False, True])
def test_an_idle_worker_stops_soon_after_sigterm(clinic: Clinic, background: bool) -> None:
    """As systemd stops it (SIGTERM to the main process), also when started in the background of a script."""
    port = free_port()
    worker = clinic.worker("worker-1", background=background, PREFECT_WORKER_WEBSERVER_PORT=str(port))
    wait_for("the worker's health check", lambda: _health(port), 120)
    log = clinic.folder / "worker-1.log"
    wait_for("the worker to poll", lambda: "started!" in log.read_text(), 60)  # Prefect's own handlers set
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=STOPPED_WITHIN) == 0
    assert "stopped!" in log.read_text()


def test_a_worker_stopped_mid_sending_stops_soon_and_its_run_comes_back(clinic: Clinic) -> None:
    """The worker kills its run's process as it stops; the crash automations schedule the run again."""
    port = free_port()
    first = clinic.worker("worker-1", PREFECT_WORKER_WEBSERVER_PORT=str(port), PRIORAUTH_SANDBOX_LATENCY_SECONDS="600")
    run_id = clinic.start_run()
    wait_for("the sending claim", lambda: clinic.scalar("SELECT COUNT(*) FROM sending_claims") == 1, 180)
    below = descendants(first.pid)
    assert below
    first.send_signal(signal.SIGTERM)  # the worker only, as systemd's KillMode=mixed does
    assert first.wait(timeout=STOPPED_WITHIN) == 0
    assert wait_for("the run's process to end", lambda: not any(_alive(pid) for pid in below) or None, 30)
    assert clinic.state(run_id) in ("RUNNING", "CRASHED")
    assert clinic.scalar("SELECT COUNT(*) FROM submissions") == 0

    clinic.worker("worker-2")
    assert clinic.finished(run_id, 300) == "COMPLETED"
    assert clinic.scalar("SELECT COUNT(*) FROM submissions") == 1
    assert clinic.scalar("SELECT attempts FROM workflow_runs") == 2


def test_a_sign_off_approved_while_no_worker_runs_is_sent_once_a_worker_starts(
    clinic: Clinic, deployed: dict[str, str]
) -> None:
    clinic.env["PRIORAUTH_SIGNOFF"] = "required"  # the clinic's rule, on every host
    first = clinic.worker("worker-1")
    prepared = clinic.start_run()
    assert clinic.finished(prepared, 240) == "COMPLETED"  # no run waits for the clinician
    stop(first, signal.SIGTERM)
    assert first.returncode is not None
    shown = clinic.show()
    assert shown["signoff"] == "pending"
    assert shown["stored_status"] == "ready"
    assert clinic.scalar("SELECT COUNT(*) FROM submissions") == 0

    note = "Two SSRI trials checked against the chart"
    signed = run(
        [str(PRIORAUTH), "requests", "signoff", str(clinic.request_id), "--approve", "--by", "dr.x", "--note", note],
        clinic.env,
    )
    started = re.search(r"run ([0-9a-f-]{36})", signed.stdout)
    assert started is not None, signed.stdout
    again = started.group(1)
    assert clinic.state(again) == "SCHEDULED"  # waiting for a worker; nothing sent yet
    assert clinic.scalar("SELECT COUNT(*) FROM submissions") == 0
    assert clinic.show()["signoff"] == "approved"

    clinic.worker("worker-2")
    assert clinic.finished(again, 240) == "COMPLETED"
    assert clinic.scalar("SELECT COUNT(*) FROM submissions") == 1
    assert clinic.scalar("SELECT status FROM pa_requests") == "submitted"
    # The reviewer and the note are in the records' history, and nowhere in Prefect's database.
    events = clinic.show()["events"]
    assert [(e["by"], e["reason"]) for e in events if e["action"] == "signoff"] == [
        ("dr.x", f"sign-off approved: {note}")
    ]
    runs = api(clinic.url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": [prepared, again]}}})
    assert [r["parameters"] for r in runs] == [clinic.parameters, clinic.parameters]
    cells = text_cells(deployed["PREFECT_SERVER_DATABASE_CONNECTION_URL"])
    assert any(again in c for c in cells["flow_run"]), "the run is not in the scanned database: the scan means nothing"
    leaks = [(table, c[:200]) for table, values in cells.items() for c in values if "dr.x" in c or note in c]
    assert leaks == []
