"""A real Prefect server for the tests, as a clinic runs it: loopback, an auth string, on PostgreSQL.

The server's own database is a PostgreSQL database of its own (made next to
``PRIORAUTH_TEST_DATABASE_URL``'s, dropped at the end) when that variable names a server, else
Prefect's SQLite file in the test's folder. Helpers here start and stop its processes, workers
included, and call its API with or without the auth string.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import REPO

PREFECT = Path(sys.executable).with_name("prefect")
PRIORAUTH = Path(sys.executable).with_name("priorauth")
AUTH = "priorauth:test-auth-string-0123456789"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def api(url: str, path: str, body: dict[str, Any] | None = None, auth: str | None = AUTH) -> Any:
    """One call to the server's API (POST with a body, else GET), with the auth string unless ``None``."""
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(  # a local test server
        url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers=headers,
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def healthy(url: str) -> bool:
    try:
        api(url, "/health", auth=None)
    except OSError:
        return False
    return True


def wait_for(what: str, check: Callable[[], T | None], timeout: float, every: float = 1.0) -> T:
    """``check()`` until it gives something true; the test fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}")


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A process of ours in a session of its own, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def run(argv: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """A command of ours that must succeed; its output."""
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def descendants(pid: int) -> list[int]:
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


def kill_all(process: subprocess.Popen[bytes]) -> None:
    """``kill -9`` a worker and every process it started, at once (a host losing power)."""
    for pid in [*descendants(process.pid), process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop a process of ours and its session as a supervisor would (``kill -9`` after 30 s)."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextlib.contextmanager
def postgres_or_sqlite(folder: Path, prefix: str, driver: str = "psycopg") -> Iterator[str]:
    """A database of its own: PostgreSQL next to ``PRIORAUTH_TEST_DATABASE_URL`` when set, else a SQLite file."""
    base = os.environ.get("PRIORAUTH_TEST_DATABASE_URL")
    if not base:
        if os.environ.get("PRIORAUTH_REQUIRE_POSTGRES") == "1":
            pytest.fail("PRIORAUTH_REQUIRE_POSTGRES=1 but PRIORAUTH_TEST_DATABASE_URL is not set")
        yield f"sqlite{'+aiosqlite' if driver == 'asyncpg' else ''}:///{folder / f'{prefix}.db'}"
        return
    from sqlalchemy.engine import make_url

    from coverage.store.testing import create_postgres_database, drop_postgres_database

    url = create_postgres_database(base, prefix=prefix)
    try:
        yield make_url(url).set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)
    finally:
        drop_postgres_database(url, base)


def clean_environment(home: Path) -> dict[str, str]:
    """This process's environment without any Prefect or priorauth setting, with a Prefect home of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PRIORAUTH_"))}
    return env | {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


@contextlib.contextmanager
def prefect_server(folder: Path, env: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """A Prefect server on a free loopback port requiring :data:`AUTH`, its database as :func:`postgres_or_sqlite`.

    Yields the environment that talks to it (``PREFECT_API_URL``, ``PREFECT_API_AUTH_STRING``) and,
    under ``PREFECT_SERVER_DATABASE_CONNECTION_URL``, where its database is.
    """
    env = dict(clean_environment(folder / "prefect") if env is None else env)
    env.pop("PREFECT_API_AUTH_STRING", None)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    with postgres_or_sqlite(folder, "prefect_test", driver="asyncpg") as database:
        server = start(
            [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--analytics-off"],
            env | {"PREFECT_SERVER_API_AUTH_STRING": AUTH, "PREFECT_SERVER_DATABASE_CONNECTION_URL": database},
            folder / "server.log",
        )
        try:
            deadline = time.monotonic() + 180
            while not healthy(url):
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the Prefect server did not start: " + (folder / "server.log").read_text()[-2000:])
                time.sleep(0.5)
            yield env | {
                "PREFECT_API_URL": url,
                "PREFECT_API_AUTH_STRING": AUTH,
                "PREFECT_SERVER_DATABASE_CONNECTION_URL": database,
            }
        finally:
            stop(server)


def text_cells(database_url: str) -> dict[str, list[str]]:
    """Every non-empty cell of every table of a database (SQLite or PostgreSQL) as text, by table name."""
    from sqlalchemy import MetaData, create_engine, select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SAWarning

    url = make_url(database_url)
    sync = url.set(drivername="postgresql+psycopg" if url.drivername.startswith("postgresql") else "sqlite")
    engine = create_engine(sync)
    cells: dict[str, list[str]] = {}
    try:
        metadata = MetaData()
        with warnings.catch_warnings():  # Prefect's SQLite expression indexes: not needed to read rows
            warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
            metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.tables.values():
                for row in connection.execute(select(table)):
                    for value in row:
                        if value is None:
                            continue
                        if isinstance(value, bytes):
                            text = value.decode("utf-8", "replace")
                        elif isinstance(value, dict | list):
                            text = json.dumps(value, default=str)
                        else:
                            text = str(value)
                        cells.setdefault(table.name, []).append(text)
    finally:
        engine.dispose()
    return cells
