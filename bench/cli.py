"""Everyday commands as a clerk runs them: each one timed as a whole process on a database of 1,000 requests.

    .venv/bin/python bench/cli.py [--requests 1000] [--runs 5]

Builds a data folder of its own with ``--requests`` requests (most ready or with the payer,
some approved with sessions, some not covered), then runs each command ``--runs`` times as a
new process and prints the median wall time of each. Targets: under 1.0 s each, ``letter``
and ``plan`` (which make a PDF) under 1.5 s.

The last line is ``RESULT help=<s> check=<s> list=<s> worklist=<s> intake=<s> letter=<s> plan=<s>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PRIORAUTH = str(Path(sys.executable).with_name("priorauth"))
TARGETS = {"help": 1.0, "check": 1.0, "list": 1.0, "worklist": 1.0, "intake": 1.0, "letter": 1.5, "plan": 1.5}


def build(folder: Path, count: int) -> tuple[list[int], Path]:
    """A records database of ``count`` requests; the ids of not-covered drafts (plannable) and a case file."""
    os.environ["PRIORAUTH_DATA_DIR"] = str(folder)
    from sqlalchemy import select

    from coverage.cli.demo import dated_samples, shift_dates
    from coverage.policies.service import Checker
    from coverage.requests.clocks import clinic_today
    from coverage.services import requests as services
    from coverage.services import sessions
    from coverage.services.context import Context
    from coverage.settings import load_settings
    from coverage.store.db import open_database
    from coverage.store.tables import Patient

    settings = load_settings()
    database = open_database(settings)
    checker = Checker.from_settings(settings)
    ctx = Context.from_settings(settings)
    today = clinic_today(settings.timezone)
    samples = dated_samples(folder / "samples", today)
    documents = {p.stem: json.loads(p.read_text()) for p in samples.glob("*.json")}
    plannable: list[int] = []
    given: list[tuple[int, dt.date]] = []
    names = sorted(documents)
    for number in range(count):
        name = names[number % len(names)]
        document: dict[str, Any] = json.loads(json.dumps(documents[name]))
        document["case_id"] = f"BENCH-{number:05d}"
        document["patient"]["id"] = f"P-{number:05d}"
        document = shift_dates(document, -(number % 10))
        taken = services.intake(json.dumps(document), uow=database.unit_of_work(), checker=checker, ctx=ctx, by="bench")
        if taken.status == "draft" and taken.determination.outcome in ("not_covered", "does_not_meet_criteria"):
            plannable.append(taken.request_id)
        if taken.status != "ready" or number % 3 == 0:
            continue
        uow = database.unit_of_work()
        services.submit(taken.request_id, uow=uow, ctx=ctx, channel="fax", by="bench")
        if number % 3 == 1:
            answer = services.AnswerInput(
                decision="approved",
                auth_number=f"A-{number}",
                valid_from=today - dt.timedelta(days=20),
                valid_to=today + dt.timedelta(days=number % 200),
                sessions=8,
            )
            services.record_answer(taken.request_id, answer, uow=uow, ctx=ctx, by="bench")
            given.extend((taken.request_id, today - dt.timedelta(days=days_ago)) for days_ago in range(number % 4))
    # The patients were seen earlier: sessions are never dated before a patient's first intake.
    with database.sessions() as session, session.begin():
        for patient in session.scalars(select(Patient)):
            patient.created_at -= dt.timedelta(days=10)
    for request_id, day in given:
        sessions.add(request_id, day=day, uow=database.unit_of_work(), ctx=ctx, by="bench")
    database.dispose()
    case = folder / "new-case.json"
    fresh = json.loads(json.dumps(documents["EX-01-meets"]))
    case.write_text(json.dumps(fresh))
    return plannable, case


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([PRIORAUTH, *argv], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="priorauth-bench-cli-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        plannable, case = build(folder / "data", args.requests)
        print(f"built {args.requests} requests in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRIORAUTH_")}
        env["PRIORAUTH_DATA_DIR"] = str(folder / "data")
        env["COLUMNS"] = "160"
        out = folder / "out.pdf"
        commands: dict[str, Any] = {
            "help": lambda _run: ["--help"],
            "check": lambda _run: ["check", str(case)],
            "list": lambda _run: ["requests", "list"],
            "worklist": lambda _run: ["worklist"],
            "intake": lambda run: ["intake", str(_renamed(case, folder, run))],
            "letter": lambda _run: ["letter", str(case), "--kind", "request", "--out", str(out)],
            "plan": lambda run: ["plan", str(plannable[run]), "--installments", "6", "--agreement", str(out)],
        }
        if len(plannable) < args.runs:
            raise SystemExit("not enough not-covered requests to make plans for: raise --requests")
        medians: dict[str, float] = {}
        for name, argv in commands.items():
            times = [timed(argv(run), env) for run in range(args.runs)]
            medians[name] = statistics.median(times)
            target = TARGETS[name]
            verdict = "ok" if medians[name] < target else f"SLOW (target {target} s)"
            print(f"{name:9} median {medians[name]:.2f} s  min {min(times):.2f}  max {max(times):.2f}  {verdict}")
    print("RESULT " + " ".join(f"{name}={seconds:.2f}" for name, seconds in medians.items()))


def _renamed(case: Path, folder: Path, run: int) -> Path:
    """The new case under a new case id and patient for each run (a new request each time)."""
    data = json.loads(case.read_text())
    data["case_id"] = f"NEW-{run}"
    data["patient"]["id"] = f"P-NEW-{run}"
    path = folder / f"new-{run}.json"
    path.write_text(json.dumps(data))
    return path


if __name__ == "__main__":
    main()
