"""``priorauth policies impact`` at scale: 100,000 open requests of one policy, one revision.

    .venv/bin/python bench/impact.py [--requests 100000] [--postgres URL]

Builds a migrated records database (SQLite in a temporary folder, or the PostgreSQL database
``--postgres`` names, whose tables it empties first) and inserts the rows of N open requests
directly (patients, coverages, courses, requests, current case versions): varied cases of
``bench/engine.py``'s generator, all under standard-commercial, in draft, ready, pended and
submitted. Then it runs ``priorauth policies impact REVISION --json`` in a child process: the
revision shortens the TRD severity window from 30 to 14 days. Target: under 30 s for 100,000
requests, memory flat (the child's peak RSS does not grow with N).

Last line: ``RESULT requests_per_s=<n> peak_rss_mb=<n>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, insert

from coverage.policies.loader import builtin_folder
from coverage.store import tables as t
from coverage.store.db import upgrade

ROOT = Path(__file__).resolve().parents[1]
STATUSES = ["draft", "ready", "pended", "submitted"]
CHUNK = 5000


def _bench_generator() -> Any:
    spec = importlib.util.spec_from_file_location("bench_engine", ROOT / "bench" / "engine.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_case


def revision(folder: Path) -> Path:
    """standard-commercial from 2026-12-01 with a 14-day severity window."""
    text = builtin_folder().joinpath("standard-commercial.yaml").read_text()
    text = text.replace('version: "2025-06-01"', 'version: "2026-12-01"')
    text = text.replace("effective_date: 2025-06-01", "effective_date: 2026-12-01")
    text = text.replace("            window_days: 30\n", "            window_days: 14\n")
    path = folder / "standard-commercial-2026-12-01.yaml"
    path.write_text(text)
    return path


def fill(url: str, count: int) -> None:
    """``count`` open requests of standard-commercial, inserted row by row type in chunks."""
    make_case = _bench_generator()
    rng = random.Random(11)
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        for table in (t.determinations, t.cases, t.pa_requests, t.courses, t.Coverage.__table__, t.Patient.__table__):
            connection.execute(delete(table))
    for start in range(0, count, CHUNK):
        numbers = range(start + 1, min(start + CHUNK, count) + 1)
        documents = []
        for number in numbers:
            case = make_case(rng, number)
            case["case_id"] = f"IMPACT-{number:07d}"
            case["coverage"].update(policy_id="standard-commercial", plan_type="commercial")
            documents.append(case)
        with engine.begin() as connection:
            connection.execute(
                insert(t.Patient.__table__),
                [{"id": n, "external_id": f"P-{n:07d}", "created_at": now, "updated_at": now} for n in numbers],
            )
            connection.execute(
                insert(t.Coverage.__table__),
                [
                    {"id": n, "patient_id": n, "plan_type": "commercial", "policy_id": "standard-commercial"}
                    | {"created_at": now}
                    for n in numbers
                ],
            )
            connection.execute(
                insert(t.courses),
                [
                    {"id": n, "case_id": d["case_id"], "patient_id": n, "treatment": d["request"]["treatment"]}
                    | {"created_at": now, "updated_at": now, "version": 1}
                    for n, d in zip(numbers, documents, strict=True)
                ],
            )
            connection.execute(
                insert(t.pa_requests),
                [
                    {
                        "id": n,
                        "course_id": n,
                        "case_id": d["case_id"],
                        "patient_id": n,
                        "coverage_id": n,
                        "kind": d["request"]["kind"],
                        "status": STATUSES[n % len(STATUSES)],
                        "version": 1,
                        "urgency": "standard",
                        "treatment": d["request"]["treatment"],
                        "indication": d["request"]["indication"],
                        "signoff_required": False,
                        "created_at": now,
                        "updated_at": now,
                        "status_changed_at": now,
                    }
                    for n, d in zip(numbers, documents, strict=True)
                ],
            )
            connection.execute(
                insert(t.cases),
                [
                    {
                        "id": n,
                        "case_id": d["case_id"],
                        "version": 1,
                        "request_id": n,
                        "patient_id": n,
                        "document": d,
                        "sha256": "sha256:" + hashlib.sha256(json.dumps(d).encode()).hexdigest(),
                        "received_at": now,
                        "received_by": "bench",
                        "superseded": False,
                    }
                    for n, d in zip(numbers, documents, strict=True)
                ],
            )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to run on instead of SQLite (its tables are emptied)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="priorauth-bench-") as folder:
        base = Path(folder)
        url = args.postgres or f"sqlite:///{base / 'records.db'}"
        upgrade(url)
        started = time.perf_counter()
        fill(url, args.requests)
        print(f"{args.requests} open requests inserted in {time.perf_counter() - started:.1f} s")
        env = {
            **os.environ,
            "PRIORAUTH_DATA_DIR": str(base / "data"),
            "PRIORAUTH_DATABASE_URL": url,
            "PRIORAUTH_TIMEZONE": "America/New_York",
        }
        env.pop("PRIORAUTH_POLICY_DIR", None)
        out = base / "impact.json"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        with out.open("w") as target:
            subprocess.run(
                [sys.executable, "-m", "coverage", "policies", "impact", str(revision(base)), "--json"],
                check=True,
                stdout=target,
                env=env,
            )
        elapsed = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if peak_kb <= before:
            print("note: the child did not raise the children's peak; the figure is an upper bound")
        report = json.loads(out.read_text())
        if report["evaluated"] != args.requests:
            raise SystemExit(f"impact evaluated {report['evaluated']} of {args.requests} requests")
        outcomes: dict[str, int] = {}
        for change in report["changed"]:
            key = f"{change['outcome_from']}->{change['outcome_to']}"
            outcomes[key] = outcomes.get(key, 0) + 1
    print(f"backend: {'postgresql' if args.postgres else 'sqlite'}; {args.requests} requests in {elapsed:.1f} s")
    print(f"changed: {len(report['changed'])} {dict(sorted(outcomes.items()))}")
    print(f"RESULT requests_per_s={args.requests / elapsed:.0f} peak_rss_mb={peak_kb / 1024:.1f}")


if __name__ == "__main__":
    main()
