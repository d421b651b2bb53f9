"""A clinic's broken template override is one line naming the template: no traceback, no PHI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<p>{{ patient.no_such_field }}</p>", "no_such_field"),
        (b"<p>{{ ''.__class__.__mro__ }}</p>", "letter template fax-cover.html"),
        (b"<p>\xff\xfe not text</p>", "not UTF-8"),
    ],
)
def test_broken_override(tmp_path: Path, content: bytes, expected: str) -> None:
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "fax-cover.html").write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "coverage", "letter", str(EXAMPLES / "EX-01-meets.json"), "--kind", "fax-cover",
         "--out", str(tmp_path / "cover.pdf")],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "PRIORAUTH_TEMPLATE_DIR": str(overrides)},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert expected in result.stderr
    assert "Whitaker" not in result.stderr
    assert not (tmp_path / "cover.pdf").exists()
