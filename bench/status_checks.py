"""Status checks at scale: 10,000 requests awaiting the sandbox payer, on SQLite and on PostgreSQL.

Times, in one run, the whole ``check_status`` flow (Prefect's test harness is started first and
not counted) and the same service calls without Prefect (the flow's loop: requests due for a
check, then ``check_requests`` per batch of 100). The sandbox answers at once and pends every
request for information (an applied answer with no PDF to render), so the timing is about the
status machinery and orchestration, not WeasyPrint.

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
from coverage.requests import service as requests  # noqa: E402
from coverage.settings import load_settings  # noqa: E402
from coverage.store import tables as t  # noqa: E402
from coverage.store.db import Database, upgrade  # noqa: E402
from coverage.store.testing import clear_tables, create_postgres_database, drop_postgres_database  # noqa: E402
from coverage.workflow import exchange  # noqa: E402
from coverage.workflow.runtime import WORKFLOW_ACTOR, Runtime, use_runtime  # noqa: E402

BATCH = 100


def seed(database: Database, checker: Checker, count: int) -> None:
    """``count`` submitted requests (one intake, then bulk copies with a submission and determination each)."""
    clear_tables(database.engine)
    case = (ROOT / "src" / "coverage" / "samples" / "EX-01-meets.json").read_text()
    first = requests.intake(case, uow=database.unit_of_work(), checker=checker, by="bench")
    now = t.utcnow() - dt.timedelta(days=3)
    with database.engine.begin() as connection:
        row = connection.execute(select(t.PARequest).where(t.PARequest.id == first.request_id)).mappings().one()
        result = connection.execute(select(t.Determination.result)).scalar_one()
        base = {k: v for k, v in row.items() if k != "id"}
        base |= {"status": "submitted", "due_at": now + dt.timedelta(days=14), "version": 1}
        connection.execute(insert(t.PARequest), [base | {"case_id": f"BENCH-{i}"} for i in range(count - 1)])
        connection.execute(
            t.PARequest.__table__.update()
            .where(t.PARequest.id == first.request_id)
            .values(status="submitted", due_at=base["due_at"])
        )
        ids = list(connection.execute(select(t.PARequest.id)).scalars())
        template = connection.execute(select(t.Determination).limit(1)).mappings().one()
        determination = {k: v for k, v in template.items() if k not in ("id", "request_id")} | {"result": result}
        connection.execute(
            insert(t.Determination), [determination | {"request_id": i} for i in ids if i != first.request_id]
        )
        connection.execute(
            insert(t.Submission),
            [
                {
                    "request_id": i,
                    "channel": "electronic",
                    "reference": f"SBX-BENCH-{i}",
                    "submitted_at": now,
                    "by": "bench",
                    "idempotency_key": f"submit:{i}:1",
                }
                for i in ids
            ],
        )
    assert json.dumps(result)  # the determination travels as JSON


def services_only(rt: Runtime) -> None:
    """The flow's loop, without Prefect."""
    started = t.utcnow()
    while ids := requests.requests_due_for_check(started, uow=rt.uow(), limit=BATCH, min_interval=dt.timedelta(0)):
        exchange.check_requests(ids, uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR, clocks=rt.clocks)


def measure(url: str, count: int) -> tuple[float, float]:
    """(service seconds, flow seconds) for ``count`` requests on the database at ``url``."""
    from flows.status import check_status

    upgrade(url)
    database = Database.from_url(url)
    settings = load_settings()
    checker = Checker.from_settings(settings)
    sandbox = SandboxGateway(delay=dt.timedelta(0), weights={"pend_then_approve": 1})
    rt = Runtime(settings, database, checker, load_clinic(settings), electronic=sandbox, all_electronic=True)
    use_runtime(rt)
    try:
        seed(database, checker, count)
        began = time.perf_counter()
        services_only(rt)
        service_s = time.perf_counter() - began
        pended = len(requests.list_requests(uow=rt.uow(), status="pended"))
        assert pended == count, pended

        seed(database, checker, count)
        began = time.perf_counter()
        totals = asyncio.run(check_status(batch_size=BATCH, recheck_minutes=0))
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
