"""``priorauth demo`` end to end on a fresh data folder, then a PHI scan of Prefect's own database."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

#: The sample patient's name, birth date (in the formats a log line or a letter might use), member id,
#: and the clinic's case ids (Prefect sees request ids only).
PHI = [
    re.compile(r"\bDana\b", re.IGNORECASE),
    re.compile(r"Whitaker", re.IGNORECASE),
    re.compile(r"1983-05-14|05/14/1983|5/14/1983|14/05/1983|1983/05/14|19830514|May 14,? 1983|14 May 1983"),
    re.compile(r"XEH123456789", re.IGNORECASE),
    re.compile(r"EX-0\d-[a-z]"),
]


def _text_cells(database: Path) -> dict[str, list[str]]:
    """Every text (and JSON) cell of every table, by table name."""
    cells: dict[str, list[str]] = {}
    with sqlite3.connect(database) as connection:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                    if isinstance(text, str):
                        cells.setdefault(table, []).append(text)
    return cells


@pytest.mark.slow
def test_demo_decides_every_sample_and_leaves_no_phi_in_prefect(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRIORAUTH_", "PREFECT_"))}
    env |= {
        "PRIORAUTH_DATA_DIR": str(tmp_path / "data"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "coverage", "demo"], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    final = {
        m.group(1).strip(): m.group(2) for m in re.finditer(r"│ (EX-\d\d-[\w() -]+?)\s+│ \d+\s+│ (\w+)", done.stdout)
    }
    assert final == {
        "EX-01-meets": "approved",
        "EX-02-iv-not-covered": "payment_plan",
        "EX-03-subtherapeutic-dose": "payment_plan",
        "EX-04-missing-docs": "partially_approved",
        "EX-05-medicare": "not_required",
        "EX-06-self-pay": "payment_plan",
        "EX-07-iv-covered": "approved",
        "EX-08-continuation": "approved",
        "EX-01-meets (continuation)": "approved",
    }, done.stdout
    for step in ("sign-off", "send task", "pends it", "on the same request", "undone", "session", "continuation"):
        assert step in done.stdout, step
    log = re.search(r"Prefect's log lines: (\S+)", done.stdout)
    assert log is not None
    assert "Flow run" in Path(log.group(1)).read_text()
    assert "Flow run" not in done.stdout + done.stderr  # Prefect's lines go to the log file, not the screen
    documents = tmp_path / "data" / "demo" / "data" / "documents"
    pdfs = list(documents.glob("*/*.pdf"))
    assert len(pdfs) >= 20
    assert all(p.read_bytes().startswith(b"%PDF-") for p in pdfs)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in pdfs)

    # Prefect's own database and folder, made by the demo's process: the owner's only.
    assert (tmp_path / "prefect").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "prefect" / "prefect.db").stat().st_mode & 0o777 == 0o600
    assert Path(log.group(1)).stat().st_mode & 0o777 == 0o600

    cells = _text_cells(tmp_path / "prefect" / "prefect.db")
    assert any("request_id" in c for c in cells["flow_run"]), "no flow-run parameters recorded: the scan means nothing"
    assert cells.get("log"), "no log lines recorded: the scan means nothing"
    for where in ("flow_run", "task_run", "log", "artifact", "events", "event_resources"):
        for cell in cells.get(where, []):
            for pattern in PHI:
                assert not pattern.search(cell), f"PHI ({pattern.pattern}) in Prefect's {where}: {cell[:200]}"
    leaks = [(table, p.pattern) for table, values in cells.items() for c in values for p in PHI if p.search(c)]
    assert leaks == []
