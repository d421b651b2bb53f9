"""The billing staff's journeys, entirely from the CLI, on both databases, with the audit trail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from coverage.cli import app, main
from coverage.store.db import Database
from tests.conftest import SAMPLE_CASES

runner = CliRunner()


@pytest.fixture
def cli(database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``priorauth ARGS...`` against the test database; return parsed JSON when --json is given."""
    monkeypatch.setenv("PRIORAUTH_DATABASE_URL", database_url)

    def run(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    return run


def events(show: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(e["from"], e["to"], e["by"]) for e in show["events"]]


def test_intake_to_approval_expiry_and_renewal(cli: Any) -> None:
    cli("payers", "add", "Example Health Plan", "--turnaround-days", "10", "--channel", "portal")
    taken = cli("intake", str(SAMPLE_CASES / "EX-01-meets.json"), "--json", "--by", "intake-1")
    request_id = str(taken["request_id"])
    assert taken["determination"]["outcome"] == "meets_criteria"

    cli("requests", "submit", request_id, "--channel", "portal", "--reference", "PT-1", "--by", "billing-1")
    cli(
        "requests", "record", request_id, "--approved", "--auth-number", "AUTH-55", "--from", "2026-12-01",
        "--to", "2027-05-31", "--units", "1400", "--by", "billing-1",
    )  # fmt: skip
    used = cli("requests", "use", request_id, "--units", "56", "--by", "nurse-1", "--json")
    assert used["units_used"] == 56

    show = cli("requests", "show", request_id, "--as-of", "2027-05-10", "--json")
    assert show["status"] == "expiring"
    assert show["authorization"] == {
        "number": "AUTH-55", "valid_from": "2026-12-01", "valid_to": "2027-05-31",
        "units_authorized": 1400, "units_used": 56, "partial": False,
    }  # fmt: skip
    work = cli("worklist", "--as-of", "2027-05-10", "--json")
    assert [(w["request_id"], w["kind"]) for w in work] == [(int(request_id), "expiring")]
    assert cli("worklist", "--as-of", "2027-03-01", "--json") == []

    cli("requests", "transition", request_id, "renewed", "--reason", "continuation approved", "--by", "billing-2")
    show = cli("requests", "show", request_id, "--json")
    assert events(show) == [
        (None, "ready", "intake-1"),
        ("ready", "submitted", "billing-1"),
        ("submitted", "approved", "billing-1"),
        ("approved", "approved", "nurse-1"),
        ("approved", "renewed", "billing-2"),
    ]
    assert {"from", "to", "at", "by", "reason"} <= set(show["events"][0])
    assert show["events"][-1]["reason"] == "continuation approved"
    listed = cli("requests", "list", "--status", "renewed", "--payer", "example health plan", "--json")
    assert [r["request_id"] for r in listed] == [int(request_id)]


@pytest.mark.parametrize("decision", ["appeal_approved", "appeal_denied"])
def test_denial_to_appeal(cli: Any, decision: str) -> None:
    request_id = str(cli("intake", str(SAMPLE_CASES / "EX-01-meets.json"), "--expedited", "--json")["request_id"])
    cli("requests", "submit", request_id, "--by", "b")
    cli("requests", "record", request_id, "--denied", "--reason", "trial shorter than 6 weeks", "--by", "b")
    show = cli("requests", "show", request_id, "--json")
    assert show["status"] == "denied"
    assert show["urgency"] == "expedited"
    assert show["appeal_deadline"] is not None
    cli("requests", "transition", request_id, "appeal_drafted", "--by", "b")
    cli("requests", "transition", request_id, "appeal_submitted", "--by", "b")
    cli("requests", "transition", request_id, decision, "--reason", "letter of 2027-01-05", "--by", "b")
    show = cli("requests", "show", request_id, "--json")
    assert [e["to"] for e in show["events"]] == [
        "ready", "submitted", "denied", "appeal_drafted", "appeal_submitted", decision,
    ]  # fmt: skip
    assert show["events"][2]["reason"] == "trial shorter than 6 weeks"
    if decision == "appeal_denied":
        cli("requests", "transition", request_id, "external_review", "--by", "b")
        assert cli("requests", "show", request_id, "--json")["status"] == "external_review"


def test_errors_are_one_line_and_exit_2(
    cli: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = str(cli("intake", str(SAMPLE_CASES / "EX-01-meets.json"), "--json")["request_id"])
    capsys.readouterr()
    for argv, expected in (
        (["requests", "transition", request_id, "approved"], f"error: request {request_id}: cannot go from ready"),
        (["requests", "show", "9999"], "error: request 9999: no such request"),
        (["requests", "record", request_id, "--approved"], "error: --auth-number: required with --approved"),
        (["worklist", "--as-of", "tomorrow"], "error: --as-of: 'tomorrow' is not a date"),
    ):
        monkeypatch.setattr(sys, "argv", ["priorauth", *argv])
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(expected), err
        assert "Traceback" not in err


def test_first_use_creates_the_embedded_database(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIORAUTH_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["intake", str(SAMPLE_CASES / "EX-05-medicare.json"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "not_required"
    assert (data_dir / "priorauth.db").is_file()
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0
    assert "database at revision" in upgraded.stdout


def test_check_does_not_import_sqlalchemy() -> None:
    code = "import sys, coverage.cli; assert 'sqlalchemy' not in sys.modules and 'alembic' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
