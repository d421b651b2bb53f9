"""A worker killed mid-run: the crash automation made by ``priorauth deploy`` reschedules the run, a new
worker runs it again, and the request is sent exactly once.

Real pieces throughout: a Prefect server with an auth string on a free loopback port, ``priorauth
deploy``, ``priorauth worker`` processes, a records database file. The simulated payer takes 120 s
to accept the packet, so the first worker is killed (``kill -9``, with its flow-run process) while
the run holds its sending claim, inside the gateway call. The automation waits 90 s without a
heartbeat, so the test takes about four minutes: it runs only when asked,

    PRIORAUTH_CRASH_TEST=1 .venv/bin/python -m pytest tests/test_crash_recovery.py -q
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, case_gathered
from tests.test_deployments import AUTH, PREFECT, PRIORAUTH, _api, _free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("PRIORAUTH_CRASH_TEST") != "1", reason="about 4 minutes: set PRIORAUTH_CRASH_TEST=1 to run it"
    ),
]


def _wait(what: str, check: Any, timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}")


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (a process worker starts each flow run in a session of its own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _kill_all(process: subprocess.Popen[bytes]) -> None:
    """``kill -9`` a worker and every process it started, at once (a host losing power)."""
    for pid in [*_descendants(process.pid), process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A Prefect server (auth string), the work pool, the deployments, and a records database with one ready request."""
    from coverage.store.db import Database, upgrade

    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    records = f"sqlite:///{tmp_path / 'records.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PRIORAUTH_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": url,
        "PREFECT_API_AUTH_STRING": AUTH,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PRIORAUTH_DATA_DIR": str(tmp_path / "data"),
        "PRIORAUTH_DATABASE_URL": records,
        "PRIORAUTH_DOCUMENTS_URL": str(tmp_path / "documents"),
        "PRIORAUTH_GATEWAY": "sandbox",
    }
    server = _start(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--analytics-off"],
        {**env, "PREFECT_SERVER_API_AUTH_STRING": AUTH},
        tmp_path / "server.log",
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        _wait("the server", lambda: _healthy(url), 120, 0.5)
        upgrade(records)
        case = tmp_path / "case.json"
        case.write_text(json.dumps(case_gathered("EX-01-meets")))
        for argv in (
            [str(PREFECT), "work-pool", "create", "priorauth", "--type", "process"],
            [str(PRIORAUTH), "intake", str(case)],
            [str(PRIORAUTH), "deploy"],
        ):
            done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False, timeout=180)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        database = Database.from_url(records)
        yield {"env": env, "url": url, "database": database, "workers": workers, "logs": tmp_path}
        database.dispose()
    finally:
        for worker in workers:
            if worker.poll() is None:
                _kill_all(worker)
        _stop(server)


def _healthy(url: str) -> bool:
    try:
        _api(url, "/health", auth=None)
    except OSError:
        return False
    return True


def _scalar(database: Any, sql: str) -> Any:
    from sqlalchemy import text

    with database.engine.connect() as connection:
        return connection.execute(text(sql)).scalar()


def test_a_worker_killed_mid_sending_the_run_comes_back_and_sends_once(stack: dict[str, Any]) -> None:
    env, url, database, workers = stack["env"], stack["url"], stack["database"], stack["workers"]
    request_id = _scalar(database, "SELECT id FROM pa_requests")
    assert _scalar(database, "SELECT status FROM pa_requests") == "ready"

    first = _start(
        [str(PRIORAUTH), "worker", "--pool", "priorauth"],
        {**env, "PRIORAUTH_SANDBOX_LATENCY_SECONDS": "120"},
        stack["logs"] / "worker-1.log",
    )
    workers.append(first)
    started = subprocess.run(
        [
            str(PREFECT),
            "deployment",
            "run",
            "prior-authorization/prior-authorization",
            "--param",
            f"request_id={request_id}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr[-2000:]
    (run,) = _api(url, "/flow_runs/filter", {"flows": {"name": {"any_": ["prior-authorization"]}}})
    # The run holds its sending claim, inside the (slow) gateway call, and has sent a heartbeat.
    _wait("the sending claim", lambda: _scalar(database, "SELECT COUNT(*) FROM sending_claims") == 1, 120)
    time.sleep(35)
    _kill_all(first)  # the worker and its flow-run process, at once
    assert _scalar(database, "SELECT COUNT(*) FROM submissions") == 0

    second = _start([str(PRIORAUTH), "worker", "--pool", "priorauth"], env, stack["logs"] / "worker-2.log")
    workers.append(second)

    def finished() -> str | None:
        state = _api(url, f"/flow_runs/{run['id']}")["state"]["type"]
        return state if state in ("COMPLETED", "FAILED") else None

    assert _wait("the run to come back and finish", finished, 300, 3) == "COMPLETED"
    history = [s["type"] for s in _api(url, f"/flow_run_states/?flow_run_id={run['id']}")]
    assert "CRASHED" in history  # the automation marked it, then scheduled it again
    assert _scalar(database, "SELECT COUNT(*) FROM submissions") == 1
    assert _scalar(database, "SELECT status FROM pa_requests") == "submitted"
    assert _scalar(database, "SELECT COUNT(*) FROM sending_claims") == 0
    assert _scalar(database, "SELECT attempts FROM workflow_runs") == 2
    assert _scalar(database, "SELECT state FROM workflow_runs") == "completed"
