"""The records commands: one line per problem naming the option, exit 2, never a traceback; ids of any
size; the embedded database on first use; and what only the command line does."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli, case_gathered, write_case

pytestmark = pytest.mark.postgres

#: Every command that takes an id, with the rest of its arguments.
ID_COMMANDS = [
    ["requests", "show", "{id}"],
    ["requests", "send", "{id}"],
    ["requests", "submit", "{id}", "--channel", "fax"],
    ["requests", "record", "{id}", "--denied", "--reason", "no"],
    ["requests", "transition", "{id}", "cancelled"],
    ["requests", "undo", "{id}", "--reason", "x"],
    ["requests", "continue", "{id}"],
    ["requests", "appeal", "{id}"],
    ["requests", "signoff", "{id}", "--approve"],
    ["requests", "send-failed", "{id}", "--reason", "busy"],
    ["sessions", "add", "{id}", "--date", "2026-12-01"],
    ["sessions", "list", "{id}"],
    ["sessions", "void", "{id}", "--reason", "x"],
    ["plan", "{id}"],
    ["payments", "show", "{id}"],
    ["letter", "--request", "{id}", "--kind", "request", "--out", "x.pdf"],
]


@pytest.mark.parametrize("argv", ID_COMMANDS, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("value", ["99999999999999999999", "2147483648", "0", "-1", "12a"])
def test_an_id_out_of_range_is_one_line(cli: Cli, argv: list[str], value: str) -> None:
    lines = cli.fails(*[value if part == "{id}" else part for part in argv])
    assert len(lines) == 1, lines
    assert "is not an id" in lines[0] or lines[0].startswith("error: No such option: -1"), lines


def test_an_id_that_names_nothing_is_one_line(cli: Cli) -> None:
    assert cli.fails("requests", "show", "2147483647") == ["error: request 2147483647: no such request"]
    assert cli.fails("payers", "show", "99999999999999999999") == [
        "error: payer '99999999999999999999': not in the directory"
    ]


def test_usage_mistakes_are_one_line(cli: Cli) -> None:
    assert cli.fails("requests", "show") == [
        "error: Missing argument 'REQUEST_ID'. (see `priorauth requests show --help`)"
    ]
    assert cli.fails("requests", "show", "1", "--bogus")[0].startswith("error: No such option: --bogus")
    lines = cli.fails("requests", "record", "1", "--approved", "--denied")
    assert lines == [
        "error: answer: give exactly one of --approved, --partial, --modified, --pended, --denied, --not-required"
    ]


def test_text_options_are_bounded_and_clean(cli: Cli, tmp_path: Path) -> None:
    request_id = str(cli("intake", str(write_case(tmp_path, case_gathered("EX-01-meets"))), "--json")["request_id"])
    assert cli.fails("requests", "submit", request_id, "--reference", "R" * 41) == [
        "error: --reference: at most 40 characters (got 41)"
    ]
    assert cli.fails("requests", "transition", request_id, "cancelled", "--reason", "a\u202eb") == [
        "error: --reason: contains a control character or an invisible direction mark"
    ]
    assert cli.fails("requests", "submit", request_id, "--by", "x" * 121) == [
        "error: --by: at most 120 characters (got 121)"
    ]
    assert cli("requests", "show", request_id, "--json")["stored_status"] == "ready"


def test_a_huge_or_bad_case_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text('{"case_id": "' + "x" * 300_000 + '"}')
    assert cli.fails("intake", str(big)) == [f"error: {big}: larger than 256 KB; a case is a few KB"]
    data = case_gathered("EX-01-meets")
    data["medication_trials"] = data["medication_trials"][:1] * 51
    assert cli.fails("intake", str(write_case(tmp_path, data))) == ["error: medication_trials: at most 50 items"]
    data = case_gathered("EX-01-meets")
    data["patient"]["given_name"] = "Dana\x00"
    lines = cli.fails("intake", str(write_case(tmp_path, data)))
    assert lines == ["error: patient.given_name: contains a control character or an invisible direction mark"]
    assert cli("requests", "list", "--json") == []


def test_a_downgrade_needs_yes(cli: Cli) -> None:
    assert cli.fails("db", "downgrade", "base") == [
        "error: --yes: a downgrade to base drops tables and the records in them; confirm with --yes"
    ]
    from coverage.store.db import HEAD

    assert f"latest {HEAD}" in cli("db", "current")


def test_first_use_creates_the_embedded_database(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRIORAUTH_DATABASE_URL", raising=False)
    taken = Cli()("intake", str(write_case(tmp_path, case_gathered("EX-05-medicare"))), "--json")
    assert taken["status"] == "not_required"
    assert (data_dir / "priorauth.db").is_file()
    assert "database at revision" in Cli()("db", "upgrade")


def test_check_does_not_import_sqlalchemy() -> None:
    code = "import sys, coverage.cli; assert 'sqlalchemy' not in sys.modules and 'alembic' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_send_refuses_what_is_not_sendable(cli: Cli, tmp_path: Path) -> None:
    request_id = str(cli("intake", str(write_case(tmp_path, case_gathered("EX-05-medicare"))), "--json")["request_id"])
    sendable = "only ready, pended or appeal_drafted requests are sent"
    assert cli.fails("requests", "send", request_id) == [f"error: request {request_id}: is not_required; {sendable}"]


def test_attach_an_outside_pdf(cli: Cli, tmp_path: Path, data_dir: Path) -> None:
    cli("payers", "add", "Example Health Plan", "--channel", "fax", "--fax", "555-0100")
    request_id = str(cli("intake", str(write_case(tmp_path, case_gathered("EX-01-meets"))), "--json")["request_id"])
    not_pdf = tmp_path / "note.txt"
    not_pdf.write_text("chart note")
    assert cli.fails("requests", "attach", request_id, str(not_pdf), "--title", "Chart note") == [
        "error: FILE.pdf: note.txt is not a PDF"
    ]
    sent = cli("requests", "send", request_id, "--json")
    from coverage.services.documents import pdf_page_count

    pages_before = sent["pages"]
    letter = next(d for d in cli("requests", "show", request_id, "--json")["documents"] if d["kind"] == "request")
    outside = tmp_path / "labs.pdf"
    outside.write_bytes((data_dir / "documents" / letter["key"]).read_bytes())
    attached = pdf_page_count(outside.read_bytes())
    cli("requests", "attach", request_id, str(outside), "--title", "Lab results")
    shown = cli("requests", "show", request_id, "--json")
    assert shown["send_task"] is None  # the documents changed: prepared again at the next send
    assert cli.fails("requests", "attach", request_id, str(outside), "--title", "Again")[0].startswith(
        "error: FILE.pdf: already attached"
    )
    again = cli("requests", "send", request_id, "--json")
    assert again["pages"] == pages_before + attached
    assert any(number.startswith(f"{request_id}-ATT-") for number in again["documents"])
    key = next(
        d["key"] for d in cli("requests", "show", request_id, "--json")["documents"] if d["kind"] == "attachment"
    )
    stored = data_dir / "documents" / key
    assert stored.stat().st_mode & 0o777 == 0o600
    assert stored.parent.stat().st_mode & 0o777 == 0o700
    cli("requests", "undo", request_id, "--reason", "wrong patient's labs")
    documents = cli("requests", "show", request_id, "--json")["documents"]
    assert [d["withdrawn"] for d in documents if d["kind"] == "attachment"] == [True]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--approved", "--auth-number", "A"], "error: --from: required with --approved"),
        (["--approved", "--auth-number", "A", "--from", "2026-12-01", "--to", "2026-11-01", "--units", "5"],
         "error: --to: 2026-11-01 is before --from 2026-12-01"),
        (["--partial", "--auth-number", "A", "--from", "2026-12-01", "--to", "2027-01-01", "--units", "0"],
         "error: --units: must be 1 to 100000"),
        (["--approved", "--auth-number", "A", "--from", "2026-12-01", "--to", "2027-01-01", "--units", "1e3"],
         "error: --units: '1e3' is not a whole number"),
        (["--denied"], "error: --reason: required with --denied (the payer's specific reason)"),
        (["--pended"], "error: --info-requested: required with --pended (what the payer asks for)"),
        (["--denied", "--reason", "x", "--decided-on", "12/01/2026"],
         "error: --decided-on: '12/01/2026' is not a date (YYYY-MM-DD)"),
    ],
)  # fmt: skip
def test_record_names_the_option_at_fault(cli: Cli, tmp_path: Path, args: list[str], expected: str) -> None:
    request_id = str(cli("intake", str(write_case(tmp_path, case_gathered("EX-01-meets"))), "--json")["request_id"])
    cli("requests", "submit", request_id, "--by", "b")
    assert cli.fails("requests", "record", request_id, *args)[0] == expected
    assert cli("requests", "show", request_id, "--json")["status"] == "submitted"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--turnaround-days", "0"], "error: --turnaround-days: must be 1 to 365"),
        (["--turnaround-days", "-3"], "error: --turnaround-days: must be 1 to 365"),
        (["--turnaround-days", "99999999999999999999"], "error: --turnaround-days: '99999999999999999999' is not"),
        (["--urgent-hours", "0"], "error: --urgent-hours: must be 1 to 720"),
        (["--appeal-days", "x"], "error: --appeal-days: 'x' is not a whole number"),
        (["--fax", "555\x000"], "error: --fax: contains a control character"),
        (["--policy", "nope"], "error: --policy: 'nope' is not a known policy id"),
    ],
)
def test_payers_add_refuses_zero_turnaround_and_unknown_policies(cli: Cli, args: list[str], expected: str) -> None:
    assert cli.fails("payers", "add", "Zero Plan", "--channel", "electronic", *args)[0].startswith(expected)
    assert cli("payers", "list", "--json") == []
    added = cli(
        "payers", "add", "Known Plan", "--fax", "555-0100", "--policy", "standard-commercial",
        "--turnaround-days", "1", "--json",
    )  # fmt: skip
    assert (added["policy_id"], added["turnaround_days"]) == ("standard-commercial", 1)


def test_a_payer_entry_needs_its_channel_s_address_and_can_be_corrected(cli: Cli) -> None:
    assert cli.fails("payers", "add", "Harbor", "--channel", "fax") == [
        "error: --fax: a payer reached by fax needs its fax"
    ]
    assert cli.fails("payers", "add", "Summit", "--channel", "portal") == [
        "error: --portal: a payer reached by portal needs its portal url"
    ]
    cli("payers", "add", "Harbor", "--fax", "555-0100")
    assert cli.fails("payers", "edit", "harbor", "--fax", "") == ["error: --fax: a payer reached by fax needs its fax"]
    assert cli.fails("payers", "edit", "harbor") == ["error: payer: nothing to change (give an option)"]
    missing = cli.fails("payers", "edit", "99999999999", "--fax", "1")
    assert missing == ["error: payer '99999999999': not in the directory"]
    changed = cli("payers", "edit", "harbor", "--fax", "555-0199", "--appeal-days", "60", "--json")
    assert (changed["before"]["fax"], changed["after"]["fax"]) == ("555-0100", "555-0199")
    assert cli("payers", "show", "Harbor", "--json")["appeal_window_days"] == 60
    cli("payers", "add", "Summit", "--channel", "portal", "--portal", "https://portal.example")
    assert cli.fails("payers", "edit", "summit", "--name", "HARBOR") == [
        "error: --name: a payer named 'HARBOR' is already in the directory"
    ]


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
        ({}, ["db", "downgrade", "nosuch", "--yes"], "error: revision 'nosuch': "),
    ],
)
def test_unusable_database_settings_are_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], argv: list[str], expected: str
) -> None:
    monkeypatch.delenv("PRIORAUTH_DATABASE_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    lines = Cli().fails(*argv)
    assert lines[0].startswith(expected), lines
    assert "s3cret" not in lines[0]
    assert len(lines) == 1


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIORAUTH_DATABASE_URL", raising=False)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("PRIORAUTH_DATA_DIR", str(tmp_path / "file"))
    assert Cli().fails("requests", "list")[0].startswith("error: PRIORAUTH_DATA_DIR: cannot create")


def test_today_is_the_clinic_s_date(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request_id = str(cli("intake", str(write_case(tmp_path, case_gathered("EX-05-medicare"))), "--json")["request_id"])
    real = dt.datetime

    class Late(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return real(2026, 12, 2, 3, 0, tzinfo=dt.UTC).astimezone(tz) if tz else real(2026, 12, 2, 3, 0)

    monkeypatch.setattr(dt, "datetime", Late)
    assert cli("requests", "show", request_id, "--json")["as_of"] == "2026-12-01"  # New York, the default
    monkeypatch.setenv("PRIORAUTH_TIMEZONE", "Europe/Paris")
    assert cli("requests", "show", request_id, "--json")["as_of"] == "2026-12-02"
