"""Shared fixtures. Every test run works in its own data folder, never the user's."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from coverage.drugs import default_drug_table
from coverage.policies.loader import load_registry
from coverage.policies.service import Checker

if TYPE_CHECKING:
    from coverage.store.db import Database
    from coverage.store.documents import DocumentStore
    from coverage.store.uow import UnitOfWork
    from coverage.workflow.runtime import Runtime

REPO = Path(__file__).resolve().parents[1]
SHARED_CASES = REPO.parent / "shared" / "examples" / "cases"
EXAMPLES = REPO / "tests" / "examples"  # a copy of SHARED_CASES, so a clone alone can run the tests
SAMPLE_CASES = REPO / "src" / "coverage" / "samples"

# Isolate the whole run before anything reads settings: a data folder of its own, and no
# clinic configuration leaking in from the developer's environment.
_RUN_DIR = Path(tempfile.mkdtemp(prefix="priorauth-tests-"))
for _name in [
    n
    for n in os.environ
    if n.startswith("PRIORAUTH_") and n not in ("PRIORAUTH_TEST_DATABASE_URL", "PRIORAUTH_REQUIRE_POSTGRES")
]:
    del os.environ[_name]
os.environ["PRIORAUTH_DATA_DIR"] = str(_RUN_DIR / "data")
os.environ["PREFECT_HOME"] = str(_RUN_DIR / "prefect")


@pytest.fixture(scope="session")
def checker() -> Checker:
    """The shipped policies and drug table."""
    return Checker(load_registry(None), default_drug_table())


def example_case_paths() -> list[Path]:
    """The example cases that have an expected determination beside them."""
    return sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".expected.json"))


def load_case_dict(name: str) -> dict[str, object]:
    """A sample case as a JSON object, to vary in a test."""
    data: dict[str, object] = json.loads((SAMPLE_CASES / f"{name}.json").read_text())
    return data


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder for one test."""
    folder = tmp_path / "data"
    monkeypatch.setenv("PRIORAUTH_DATA_DIR", str(folder))
    return folder


# --- The records database: every storage test on SQLite, and on PostgreSQL when
# PRIORAUTH_TEST_DATABASE_URL names a server. Each run migrates one database per backend (a
# PostgreSQL database of its own, with a unique name, dropped at the end), and each test starts
# from empty tables. SQLAlchemy is imported inside the fixtures, not when this file loads.


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty records database for this test run: its URL."""
    from coverage.store.db import upgrade
    from coverage.store.testing import create_postgres_database, drop_postgres_database

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('records') / 'records.db'}"
        upgrade(url)
        yield url
        return
    base = os.environ.get("PRIORAUTH_TEST_DATABASE_URL")
    if not base:
        if os.environ.get("PRIORAUTH_REQUIRE_POSTGRES") == "1":
            pytest.fail("PRIORAUTH_REQUIRE_POSTGRES=1 but PRIORAUTH_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL: set PRIORAUTH_TEST_DATABASE_URL to run the storage tests on PostgreSQL too")
    url = create_postgres_database(base)
    try:
        upgrade(url)
        yield url
    finally:
        drop_postgres_database(url, base)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The run's records database with every table emptied first."""
    from coverage.store.db import Database
    from coverage.store.testing import clear_tables

    db = Database.from_url(database_url)
    clear_tables(db.engine)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def uow(database: Database) -> UnitOfWork:
    """A unit of work on the test's records database."""
    from coverage.store.uow import SqlUnitOfWork

    return SqlUnitOfWork(database.sessions)


# --- The document store: on the local default (a folder of the data folder) and behind an fsspec URL
# (fsspec's memory filesystem, a root of the test's own, removed after it).


@pytest.fixture(params=["local", "memory"])
def document_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    """A fresh document store: a local folder, or ``memory://`` through fsspec."""
    from coverage.store.documents import DocumentStore

    if request.param == "local":
        yield DocumentStore(tmp_path / "documents")
        return
    import uuid

    import fsspec  # type: ignore[import-untyped]  # fsspec ships no type information

    root = f"/priorauth-test-{uuid.uuid4().hex}"
    try:
        yield DocumentStore(f"memory://{root}/documents")
    finally:
        memory = fsspec.filesystem("memory")
        if memory.exists(root):
            memory.rm(root, recursive=True)


# --- Workflow and flows (issue: flows). Prefect's test harness costs seconds to start: once per run.


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API for the flow tests, started once for the whole run."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def workflow_runtime(database: Database, data_dir: Path, checker: Checker) -> Iterator[Runtime]:
    """The workflow's runtime on the test's database, with a sandbox payer that answers at once."""

    from coverage.clinic import load_clinic
    from coverage.payers.gateways import SandboxGateway
    from coverage.services.context import Context
    from coverage.settings import load_settings
    from coverage.store.documents import DocumentStore
    from coverage.workflow.runtime import Runtime, use_runtime

    settings = load_settings()
    runtime = Runtime(
        settings=settings,
        database=database,
        checker=checker,
        clinic=load_clinic(settings),
        store=DocumentStore(settings.documents_location),
        ctx=Context.from_settings(settings),
        electronic=SandboxGateway(delay=dt.timedelta(0), expedited_delay=dt.timedelta(0)),
        all_electronic=True,
    )
    use_runtime(runtime)
    try:
        yield runtime
    finally:
        use_runtime(None)


# --- Cases dated relative to today: the records evaluate on the day of the act (lifecycle rule 1),
# so a test that takes a case in must not depend on the day the samples were written.


def today() -> dt.date:
    """The clinic's today, as the records see it."""
    from coverage.requests.clocks import clinic_today

    return clinic_today()


def backdate_intake(records: object, days: int) -> None:
    """Every patient taken in ``days`` earlier: sessions and payments are not dated before a first intake,
    so a test with past sessions moves the intake back first (the records only know the real now)."""
    import datetime as dt

    from coverage.store import fake
    from coverage.store.tables import Patient

    back = dt.timedelta(days=days)
    if isinstance(records, fake.FakeUnitOfWork):
        for row in records.patients.rows:
            row.created_at = row.created_at - back
        return
    from coverage.store.db import Database

    assert isinstance(records, Database)  # the records database, or a fake unit of work
    with records.sessions() as session, session.begin():
        for row in session.query(Patient).all():
            row.created_at = row.created_at - back


def case_gathered(name: str, gathered: dt.date | None = None, **changes: Any) -> dict[str, Any]:
    """A sample case with every date moved so that its facts were gathered on ``gathered`` (default today).

    ``changes`` replace top-level keys or, with ``__``, nested ones (``request__dose_mg=84``).
    """
    from coverage.cli.demo import SAMPLES_GATHERED, shift_dates

    data: dict[str, Any] = shift_dates(load_case_dict(name), ((gathered or today()) - SAMPLES_GATHERED).days)
    for key, value in changes.items():
        target = data
        *parents, last = key.split("__")
        for parent in parents:
            target = target[parent]
        target[last] = value
    return data


def write_case(folder: Path, data: dict[str, Any], name: str = "case.json") -> Path:
    """A case written to a file, for the commands."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- The command line, in process, against the test's database.


class Cli:
    """``priorauth ARGS...`` in process: JSON back with ``--json``, the text otherwise; ``fails`` for errors."""

    def __init__(self) -> None:
        from typer.testing import CliRunner

        self.runner = CliRunner()

    def __call__(self, *args: str) -> Any:
        from coverage.cli import app

        result = self.runner.invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    def fails(self, *args: str) -> list[str]:
        """Run a command that must be refused: exit 2, no traceback; the error lines."""
        import contextlib
        import io
        import sys

        from coverage.cli import main

        err = io.StringIO()
        argv = sys.argv
        sys.argv = ["priorauth", *args]
        try:
            with (
                contextlib.redirect_stderr(err),
                contextlib.redirect_stdout(io.StringIO()),
                pytest.raises(SystemExit) as exited,
            ):
                main()
        finally:
            sys.argv = argv
        text = err.getvalue()
        assert exited.value.code == 2, text
        assert "Traceback" not in text, text
        return text.splitlines()


@pytest.fixture
def cli(database: Database, database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The command line on the test's database (documents in the test's data folder)."""
    monkeypatch.setenv("PRIORAUTH_DATABASE_URL", database_url)
    return Cli()
