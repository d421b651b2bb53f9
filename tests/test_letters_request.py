"""`priorauth letter --request ID`: documents from a stored request and the payer's recorded answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from coverage.cli import app
from tests.conftest import SAMPLE_CASES

runner = CliRunner()


def _text(pdf: Path) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(pdf).pages)


@pytest.fixture
def stored_denial(database_url: str, database: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """EX-01 taken in, submitted and denied, on the test database; the request id."""
    monkeypatch.setenv("PRIORAUTH_DATABASE_URL", database_url)
    added = runner.invoke(app, ["payers", "add", "Example Health Plan", "--fax", "(800) 555-0199"])
    assert added.exit_code == 0, added.output
    taken = runner.invoke(app, ["intake", str(SAMPLE_CASES / "EX-01-meets.json"), "--json"])
    assert taken.exit_code == 0, taken.output
    request_id = str(json.loads(taken.stdout)["request_id"])
    steps = [
        ["requests", "submit", request_id, "--channel", "fax"],
        ["requests", "record", request_id, "--denied", "--reason", "Second trial shorter than six weeks"],
    ]
    for args in steps:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return request_id


def test_appeal_and_notice_take_the_recorded_denial(stored_denial: str, tmp_path: Path) -> None:
    appeal, notice = tmp_path / "appeal.pdf", tmp_path / "notice.pdf"
    for kind, out in (("appeal", appeal), ("decision-notice", notice)):
        result = runner.invoke(app, ["letter", "--request", stored_denial, "--kind", kind, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "sha256 " in result.output
    appeal_text = _text(appeal)
    assert "Second trial shorter than six weeks" in appeal_text
    assert "Whitaker" in appeal_text  # the letter is where PHI belongs
    assert "denied" in _text(notice).lower()


def test_fax_cover_takes_the_payers_fax_from_the_directory(stored_denial: str, tmp_path: Path) -> None:
    out = tmp_path / "cover.pdf"
    result = runner.invoke(app, ["letter", "--request", stored_denial, "--kind", "fax-cover", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "(800) 555-0199" in _text(out)


def test_documents_after_the_request_is_approved(stored_denial: str, tmp_path: Path) -> None:
    """An approval clears the recorded denial; every document still renders from the request."""
    for args in (
        ["requests", "transition", stored_denial, "appeal_drafted"],
        ["requests", "submit", stored_denial, "--channel", "fax"],
        ["requests", "record", stored_denial, "--approved", "--auth-number", "PA-9", "--from", "2026-12-01",
         "--to", "2027-05-29", "--units", "30"],
    ):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    for kind in ("request", "fax-cover", "decision-notice"):
        out = tmp_path / f"{kind}.pdf"
        result = runner.invoke(app, ["letter", "--request", stored_denial, "--kind", kind, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0


def test_an_option_overrides_the_recorded_answer(stored_denial: str, tmp_path: Path) -> None:
    out = tmp_path / "appeal.pdf"
    args = ["letter", "--request", stored_denial, "--kind", "appeal", "--out", str(out)]
    result = runner.invoke(app, [*args, "--denial-reason", "Severity score not documented"])
    assert result.exit_code == 0, result.output
    text = _text(out)
    assert "Severity score not documented" in text
    assert "Second trial shorter than six weeks" not in text


@pytest.mark.parametrize(("request_id", "message"), [("x", "is not a request id"), ("999", "no such request")])
def test_unknown_request_is_one_line(stored_denial: str, request_id: str, message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["letter", "--request", request_id, "--kind", "appeal", "--out", str(tmp_path / "a")])
    assert result.exit_code != 0
    assert message in str(result.exception) or message in result.output
