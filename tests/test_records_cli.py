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
    cli("requests", "submit", request_id, "--by", "b")  # appeal_drafted -> appeal_submitted
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
        (
            ["requests", "transition", request_id, "cancelled", "--expected-version", "99"],
            f"error: request {request_id}: version 99",
        ),
        (
            ["requests", "transition", request_id, "approved"],
            "error: status: use `priorauth requests record --approved`",
        ),
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


def _fails(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``priorauth ARGV`` as the console script does; it must fail with exit 2 and one line."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["priorauth", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert "Traceback" not in err
    assert err.startswith("error: "), err
    return err


@pytest.mark.parametrize(
    ("status", "command"),
    [
        ("submitted", "`priorauth requests submit`"),
        ("appeal_submitted", "`priorauth requests submit`"),
        ("pended", "`priorauth requests record --pended`"),
        ("approved", "`priorauth requests record --approved`"),
        ("partially_approved", "`priorauth requests record --partial`"),
        ("denied", "`priorauth requests record --denied`"),
        ("payment_plan", "`priorauth plan`"),
    ],
)
def test_transition_refuses_statuses_that_have_their_own_command(
    cli: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], status: str, command: str
) -> None:
    request_id = str(cli("intake", str(SAMPLE_CASES / "EX-01-meets.json"), "--json")["request_id"])
    cli("requests", "submit", request_id, "--by", "b")
    err = _fails(["requests", "transition", request_id, status], monkeypatch, capsys)
    assert err == f"error: status: use {command} (it records " + err.split("(it records ", 1)[1]
    assert f"to move a request to {status}" in err
    assert [e["to"] for e in cli("requests", "show", request_id, "--json")["events"]] == ["ready", "submitted"]


def test_a_case_id_of_another_patient_is_refused(
    cli: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cli("intake", str(SAMPLE_CASES / "EX-01-meets.json"))
    other = json.loads((SAMPLE_CASES / "EX-01-meets.json").read_text())
    other["patient"].update(id="P-7777", given_name="Robin", family_name="Other")
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    err = _fails(["intake", str(path)], monkeypatch, capsys)
    assert err == "error: case_id: EX-01-meets is already the case of another patient\n"
    assert cli("requests", "list", "--json")[0]["patient_id"] == "P-1001"
    assert len(cli("requests", "list", "--json")) == 1


def test_an_appeal_won_then_its_authorization_is_not_a_renewal(cli: Any) -> None:
    request_id = str(cli("intake", str(SAMPLE_CASES / "EX-01-meets.json"), "--json")["request_id"])
    cli("requests", "submit", request_id, "--by", "b")
    cli("requests", "record", request_id, "--denied", "--reason", "trial too short", "--by", "b")
    cli("requests", "transition", request_id, "appeal_drafted", "--by", "b")
    cli("requests", "submit", request_id, "--by", "b")
    cli("requests", "transition", request_id, "appeal_approved", "--by", "b")
    cli(
        "requests", "record", request_id, "--approved", "--auth-number", "AP-1", "--from", "2026-12-01",
        "--to", "2027-05-31", "--units", "30", "--by", "b",
    )  # fmt: skip
    show = cli("requests", "show", request_id, "--as-of", "2027-01-01", "--json")
    assert show["status"] == "appeal_approved"
    assert show["authorization"]["number"] == "AP-1"
    assert [e["to"] for e in show["events"]][-2:] == ["appeal_approved", "appeal_approved"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--approved", "--auth-number", "A", "--from", "2026-12-01", "--to", "2027-01-01", "--units", "0"],
         "error: --units: must be at least 1"),
        (["--approved", "--auth-number", "  ", "--from", "2026-12-01", "--to", "2027-01-01", "--units", "3"],
         "error: --auth-number: required"),
        (["--approved", "--auth-number", "A", "--from", "2027-12-01", "--to", "2027-01-01", "--units", "3"],
         "error: --to: 2027-01-01 is before --from 2027-12-01"),
        (["--pended", "--info-requested", "   "], "error: --info-requested: required with --pended"),
        (["--denied", "--reason", "  "], "error: --reason: required with --denied"),
    ],
)  # fmt: skip
def test_record_names_the_option_at_fault(
    cli: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    request_id = str(cli("intake", str(SAMPLE_CASES / "EX-01-meets.json"), "--json")["request_id"])
    cli("requests", "submit", request_id, "--by", "b")
    assert _fails(["requests", "record", request_id, *args], monkeypatch, capsys).startswith(expected)
    assert cli("requests", "show", request_id, "--json")["status"] == "submitted"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--turnaround-days", "0"], "error: --turnaround-days: must be at least 1"),
        (["--turnaround-days", "-3"], "error: --turnaround-days: must be at least 1"),
        (["--urgent-hours", "0"], "error: --urgent-hours: must be at least 1"),
        (["--policy", "nope"], "error: --policy: 'nope' is not a known policy id"),
    ],
)
def test_payers_add_refuses_zero_turnaround_and_unknown_policies(
    cli: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    assert _fails(["payers", "add", "Zero Plan", *args], monkeypatch, capsys).startswith(expected)
    assert cli("payers", "list", "--json") == []
    added = cli("payers", "add", "Known Plan", "--policy", "standard-commercial", "--turnaround-days", "1", "--json")
    assert (added["policy_id"], added["turnaround_days"]) == ("standard-commercial", 1)


@pytest.mark.parametrize(
    ("env", "argv", "expected"),
    [
        (
            {"PRIORAUTH_DATABASE_URL": "garbage"},
            ["requests", "list"],
            "error: PRIORAUTH_DATABASE_URL: not a database URL",
        ),
        (
            {"PRIORAUTH_DATABASE_URL": "postgresql+psycopg://nouser:s3cret@127.0.0.1:1/x"},
            ["worklist"],
            "error: PRIORAUTH_DATABASE_URL: cannot open the database at postgresql+psycopg://nouser:***@127.0.0.1:1/x",
        ),
        ({"PRIORAUTH_DATABASE_URL": "mysql://x@localhost/x"}, ["db", "current"], "error: PRIORAUTH_DATABASE_URL: "),
        ({"PRIORAUTH_DATA_DIR": "/proc/x"}, ["requests", "list"], "error: PRIORAUTH_DATA_DIR: cannot create"),
        ({}, ["db", "upgrade", "--revision", "nosuch"], "error: revision 'nosuch': "),
        ({}, ["db", "downgrade", "nosuch"], "error: revision 'nosuch': "),
    ],
)
def test_unusable_database_settings_are_one_line(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    argv: list[str],
    expected: str,
) -> None:
    monkeypatch.delenv("PRIORAUTH_DATABASE_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    err = _fails(argv, monkeypatch, capsys)
    assert err.startswith(expected), err
    assert "s3cret" not in err
    assert err.count("\n") == 1


def test_a_data_dir_that_is_a_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PRIORAUTH_DATABASE_URL", raising=False)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("PRIORAUTH_DATA_DIR", str(tmp_path / "file"))
    assert _fails(["requests", "list"], monkeypatch, capsys).startswith("error: PRIORAUTH_DATA_DIR: cannot create")


def test_today_is_the_clinic_s_date(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from coverage.requests import clocks

    request_id = str(cli("intake", str(SAMPLE_CASES / "EX-01-meets.json"), "--json")["request_id"])
    monkeypatch.setattr(clocks, "_now_utc", lambda: dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC))
    assert cli("requests", "show", request_id, "--json")["as_of"] == "2026-12-01"  # New York, the default
    monkeypatch.setenv("PRIORAUTH_TIMEZONE", "Europe/Paris")
    assert cli("requests", "show", request_id, "--json")["as_of"] == "2026-12-02"
