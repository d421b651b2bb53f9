"""The web app's server time on a database of 10,000 requests: worklist, request page, determination panel.

    .venv/bin/python bench/web.py [--requests 10000] [--runs 21] [--folder DIR]

Builds a records database of ``--requests`` requests (the mix of ``bench/cli.py``: most ready
or with the payer, a third of those approved with sessions), or reuses the one in ``--folder``,
then calls the app in process (Starlette's test client: no network, so the time is the
server's) ``--runs`` times per page, signed in as a clerk, and prints medians. Targets: the
worklist's first page and a request page at or under 150 ms, a determination panel update at
or under 50 ms.

The last line is ``RESULT requests=<n> worklist_ms=<ms> request_ms=<ms> determination_ms=<ms>``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGETS = {"worklist": 150.0, "request": 150.0, "determination": 50.0}
PASSWORD = "bench password 123"


def _median_ms(call: Any, runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"HTTP {response.status_code}: {response.text[:300]}")
    return statistics.median(times), min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--folder", type=Path, help="Keep (or reuse) the built data folder here.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="priorauth-bench-web-") as tmp:
        folder = args.folder or Path(tmp)
        data = folder / "data"
        os.environ["PRIORAUTH_DATA_DIR"] = str(data)
        for name in ("PRIORAUTH_DATABASE_URL", "PREFECT_API_URL"):
            os.environ.pop(name, None)
        if not (data / "priorauth.db").exists():
            from cli import build  # bench/cli.py: the same mix of requests

            started = time.perf_counter()
            build(data, args.requests)
            print(f"built {args.requests} requests in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        run(data, args.runs)


def run(data: Path, runs: int) -> None:
    from starlette.testclient import TestClient

    from coverage.cli.demo import SAMPLES_GATHERED, shift_dates
    from coverage.settings import load_settings
    from coverage.store.db import open_database
    from coverage.web.app import Web, make_app
    from coverage.web.forms import form_values

    settings = load_settings()
    database = open_database(settings)
    web = Web(settings, database)
    if not any(u.name == "bench" for u in web.accounts.users()):
        web.accounts.add_user("bench", role="clerk", password=PASSWORD)
    client = TestClient(make_app(web), base_url="http://127.0.0.1")
    page = client.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    client.post("/signin", data={"csrf": token[1], "name": "bench", "password": PASSWORD})
    home = client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert csrf is not None
    with database.engine.connect() as connection:
        from sqlalchemy import func, select

        from coverage.store.tables import pa_requests

        count = int(connection.execute(select(func.count()).select_from(pa_requests)).scalar_one())
        middle = int(connection.execute(select(func.max(pa_requests.c.id))).scalar_one()) // 2
    root = Path(__file__).resolve().parents[1]
    sample = json.loads((root / "src/coverage/samples/EX-03-subtherapeutic-dose.json").read_text())
    today = web.ctx.today()
    values = form_values(shift_dates(sample, (today - SAMPLES_GATHERED).days))
    values["csrf"] = csrf[1]
    web.checker  # noqa: B018  # load the policies before timing, as a running server has
    client.post("/cases/determine", data=values)
    items = home.text.count("<tr") - 1
    print(f"{count} requests; the worklist's first page shows {items} rows", file=sys.stderr)
    results = {
        "worklist": _median_ms(lambda: client.get("/"), runs),
        "request": _median_ms(lambda: client.get(f"/requests/{middle}"), runs),
        "determination": _median_ms(lambda: client.post("/cases/determine", data=values), runs),
    }
    for name, (median, low, high) in results.items():
        target = TARGETS[name]
        verdict = "ok" if median <= target else f"SLOW (target {target:.0f} ms)"
        print(f"{name:13} median {median:7.1f} ms  min {low:7.1f}  max {high:7.1f}  {verdict}")
    database.dispose()
    print(
        f"RESULT requests={count} worklist_ms={results['worklist'][0]:.1f} "
        f"request_ms={results['request'][0]:.1f} determination_ms={results['determination'][0]:.1f}"
    )


if __name__ == "__main__":
    main()
