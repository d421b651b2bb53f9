"""Status checks at scale: 10,000 requests awaiting the sandbox payer, on SQLite and on PostgreSQL.

Times, in one run, the whole ``check_status`` flow (Prefect's test harness is started first and not
counted) and the same service calls without Prefect (the flow's loop: ``exchange.check_due``, the
requests due for a check and ``check_requests`` on them, per batch of the flow's default size,
``flows.status.BATCH_SIZE``: one unit of work per batch of answers). The sandbox answers at once and
pends every request for information. Every answer also gets the patient's notice, a PDF (about
0.1-0.2 s of WeasyPrint each, whatever the batching): the notices are left out here
(``decision_notices`` replaced by a no-op), so the timing is about the status machinery and
orchestration; the letter benchmarks measure rendering.

    .venv/bin/python bench/status_checks.py [--requests 10000] [--postgres URL]

Last line: ``RESULT sqlite_per_s=<n> postgres_per_s=<n> prefect_overhead=<flow time / service time>``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_TMP = Path(tempfile.mkdtemp(prefix="priorauth-bench-"))
os.environ["PRIORAUTH_DATA_DIR"] = str(_TMP / "data")
os.environ["PREFECT_HOME"] = str(_TMP / "prefect")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from coverage.clinic import load_clinic  # noqa: E402
from coverage.payers.gateways import SandboxGateway  # noqa: E402
from coverage.policies.service import Checker  # noqa: E402
from coverage.services import requests as services  # noqa: E402
from coverage.services.context import Context  # noqa: E402
from coverage.settings import load_settings  # noqa: E402
from coverage.store import tables as t  # noqa: E402
from coverage.store.db import Database, upgrade  # noqa: E402
from coverage.store.documents import DocumentStore  # noqa: E402
from coverage.store.testing import clear_tables, create_postgres_database, drop_postgres_database  # noqa: E402
from coverage.workflow import exchange  # noqa: E402
from coverage.workflow.runtime import WORKFLOW_ACTOR, Runtime, use_runtime  # noqa: E402


def _copy(row: dict[str, object], **changes: object) -> dict[str, object]:
    return {k: v for k, v in row.items() if k != "id"} | changes


def seed(rt: Runtime, count: int) -> None:
    """``count`` submitted requests: one intake and sending through the services, then bulk copies of its rows."""
    database = rt.database
    clear_tables(database.engine)
    case = (ROOT / "src" / "coverage" / "samples" / "EX-01-meets.json").read_text()
    first = services.intake(case, uow=rt.uow(), checker=rt.checker, ctx=rt.ctx, by="bench").request_id
    submitted_at = t.utcnow() - dt.timedelta(days=3)
    services.submit(
        first,
        uow=rt.uow(),
        ctx=rt.ctx,
        channel="electronic",
        by="bench",
        idempotency_key=f"submit:{first}:1",
        at=submitted_at,
    )
    with database.engine.begin() as connection:
        course = dict(connection.execute(select(t.courses)).mappings().one())
        request = dict(connection.execute(select(t.pa_requests)).mappings().one())
        version = dict(connection.execute(select(t.cases)).mappings().one())
        evaluation = dict(connection.execute(select(t.determinations)).mappings().one())
        sent = dict(connection.execute(select(t.submissions)).mappings().one())
        names = [f"BENCH-{i}" for i in range(count - 1)]
        connection.execute(insert(t.courses), [_copy(course, case_id=n, version=1) for n in names])
        course_ids = dict(
            connection.execute(select(t.courses.c.case_id, t.courses.c.id).where(t.courses.c.case_id.in_(names))).all()
        )
        connection.execute(
            insert(t.pa_requests),
            [_copy(request, case_id=n, course_id=course_ids[n], version=1) for n in names],
        )
        request_ids = dict(
            connection.execute(
                select(t.pa_requests.c.case_id, t.pa_requests.c.id).where(t.pa_requests.c.case_id.in_(names))
            ).all()
        )
        connection.execute(insert(t.cases), [_copy(version, case_id=n, request_id=request_ids[n]) for n in names])
        version_ids = dict(
            connection.execute(select(t.cases.c.case_id, t.cases.c.id).where(t.cases.c.case_id.in_(names))).all()
        )
        connection.execute(
            insert(t.determinations),
            [_copy(evaluation, request_id=request_ids[n], case_record_id=version_ids[n]) for n in names],
        )
        connection.execute(
            insert(t.submissions),
            [
                _copy(sent, request_id=request_ids[n], idempotency_key=f"submit:{request_ids[n]}:1", reference=None)
                for n in names
            ],
        )
    assert json.dumps(evaluation["result"])  # the determination travels as JSON


def _no_notices(request_ids: object, *, rt: Runtime) -> list[str]:
    """Stands in for ``exchange.decision_notices``: the PDFs are not what this benchmark measures."""
    return []


def services_only(rt: Runtime) -> None:
    """The flow's loop, without Prefect: requests due for a check, asked in batches, notices for the answers."""
    from flows.status import BATCH_SIZE  # the flow's own batch size

    started = dt.datetime.now(dt.UTC)
    while (
        outcome := exchange.check_due(started, rt=rt, by=WORKFLOW_ACTOR, limit=BATCH_SIZE, min_interval=dt.timedelta(0))
    ).due:
        answered = [*outcome.decided, *outcome.pended]
        if answered:
            exchange.decision_notices(answered, rt=rt)


def measure(url: str, count: int) -> tuple[float, float]:
    """(service seconds, flow seconds) for ``count`` requests on the database at ``url``."""
    from flows.status import BATCH_SIZE, check_status

    exchange.decision_notices = _no_notices  # type: ignore[assignment]  # see the module's docstring

    upgrade(url)
    database = Database.from_url(url)
    settings = load_settings()
    checker = Checker.from_settings(settings)
    sandbox = SandboxGateway(delay=dt.timedelta(0), weights={"pend_then_approve": 1})
    rt = Runtime(
        settings,
        database,
        checker,
        load_clinic(settings),
        DocumentStore(settings.documents_location),
        Context.from_settings(settings),
        electronic=sandbox,
        all_electronic=True,
    )
    use_runtime(rt)
    try:
        seed(rt, count)
        began = time.perf_counter()
        services_only(rt)
        service_s = time.perf_counter() - began
        pended = len(services.list_requests(uow=rt.uow(), ctx=rt.ctx, status="pended"))
        assert pended == count, pended

        seed(rt, count)
        began = time.perf_counter()
        totals = asyncio.run(check_status(batch_size=BATCH_SIZE, recheck_minutes=0))
        flow_s = time.perf_counter() - began
        assert totals["checked"] == count, totals
        assert totals["pended"] == count, totals
    finally:
        use_runtime(None)
        database.dispose()
    print(f"  {url.rsplit('@', maxsplit=1)[-1]}: services {service_s:.2f} s, flow {flow_s:.2f} s ({count} requests)")
    return service_s, flow_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        sqlite_service, sqlite_flow = measure(f"sqlite:///{_TMP / 'bench.db'}", args.requests)
        url = create_postgres_database(args.postgres, prefix="priorauth_bench")
        try:
            pg_service, pg_flow = measure(url, args.requests)
        finally:
            drop_postgres_database(url, args.postgres)
    overhead = (sqlite_flow + pg_flow) / (sqlite_service + pg_service)
    print(
        f"RESULT sqlite_per_s={args.requests / sqlite_flow:.0f} postgres_per_s={args.requests / pg_flow:.0f} "
        f"prefect_overhead={overhead:.2f}"
    )


if __name__ == "__main__":
    main()
