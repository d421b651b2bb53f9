"""What a billing clerk found walking the lifecycle: cancelling, sign-off undo and rejection,
units used up, damaged attachments, private files, unlisted payers, undo of an amend."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import Cli, backdate_intake, case_gathered, today, write_case

if TYPE_CHECKING:
    from coverage.store.db import Database

pytestmark = pytest.mark.postgres

FAX = "(617) 555-0148"


def _fax_payer(cli: Cli) -> None:
    cli("payers", "add", "Example Health Plan", "--channel", "fax", "--fax", FAX)


def _intake(cli: Cli, tmp_path: Path, name: str = "EX-01-meets", **changes: Any) -> int:
    path = write_case(tmp_path / "cases", case_gathered(name, **changes), f"{name}.json")
    return int(cli("intake", str(path), "--json")["request_id"])


def _show(cli: Cli, request_id: int) -> dict[str, Any]:
    shown: dict[str, Any] = cli("requests", "show", str(request_id), "--json")
    return shown


def _work(cli: Cli, request_id: int) -> list[tuple[str, str]]:
    return [(w["kind"], w["detail"]) for w in cli("worklist", "--json") if w["request_id"] == request_id]


def test_cancelling_closes_the_send_task_and_undo_reopens_it(cli: Cli, tmp_path: Path) -> None:
    _fax_payer(cli)
    request_id = _intake(cli, tmp_path)
    cli("requests", "send", str(request_id))
    cli("requests", "transition", str(request_id), "cancelled", "--reason", "patient chose another clinic")
    assert _show(cli, request_id)["send_task"] is None
    assert _work(cli, request_id) == []
    assert cli.fails("requests", "send-failed", str(request_id), "--reason", "busy")[0].startswith(
        f"error: request {request_id}: has no open send task"
    )
    cli("requests", "undo", str(request_id), "--reason", "cancelled the wrong request")
    shown = _show(cli, request_id)
    assert shown["status"] == "ready"
    assert shown["send_task"] is not None
    assert [kind for kind, _ in _work(cli, request_id)] == ["send"]


def test_undoing_an_amend_reopens_the_task_it_closed(cli: Cli, tmp_path: Path) -> None:
    _fax_payer(cli)
    request_id = _intake(cli, tmp_path)
    cli("requests", "send", str(request_id))
    task = _show(cli, request_id)["send_task"]
    path = write_case(tmp_path / "v2", case_gathered("EX-01-meets", request__dose_mg=84), "v2.json")
    cli("requests", "amend", str(request_id), str(path))
    assert _show(cli, request_id)["send_task"] is None
    cli("requests", "undo", str(request_id), "--reason", "amended the wrong way")
    assert _show(cli, request_id)["send_task"] == task


def test_undoing_a_sign_off_asks_the_clinician_again(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIORAUTH_SIGNOFF", "required")
    _fax_payer(cli)
    request_id = _intake(cli, tmp_path)
    assert cli("requests", "send", str(request_id), "--json")["state"] == "signoff_pending"
    cli("requests", "signoff", str(request_id), "--approve", "--note", "ok", "--by", "dr.delgado")
    cli("requests", "undo", str(request_id), "--reason", "signed off the wrong request")
    shown = _show(cli, request_id)
    assert shown["signoff"] == "pending"
    assert [kind for kind, _ in _work(cli, request_id)] == ["signoff"]
    assert cli.fails("requests", "submit", str(request_id), "--reference", "F-1")[0].endswith(
        f"waits for a clinician's sign-off (`priorauth requests signoff {request_id}`)"
    )


def test_a_rejection_needs_a_note_and_the_worklist_shows_it(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIORAUTH_SIGNOFF", "required")
    _fax_payer(cli)
    request_id = _intake(cli, tmp_path)
    cli("requests", "send", str(request_id))
    assert cli.fails("requests", "signoff", str(request_id), "--reject", "--by", "dr.delgado") == [
        "error: --note: a rejection says what to change"
    ]
    cli("requests", "signoff", str(request_id), "--reject", "--note", "use the 84 mg dose", "--by", "dr.delgado")
    [(kind, detail)] = _work(cli, request_id)
    assert kind == "incomplete"
    assert "sign-off rejected by dr.delgado: use the 84 mg dose" in detail
    assert f"priorauth requests amend {request_id}" in detail


def test_a_sign_off_nobody_asked_for_is_refused(cli: Cli, tmp_path: Path) -> None:
    request_id = _intake(cli, tmp_path)
    assert cli.fails("requests", "signoff", str(request_id), "--approve", "--by", "dr.delgado")[0].startswith(
        f"error: request {request_id}: no sign-off was asked for"
    )


def test_units_used_up_make_the_authorization_expiring_that_day(cli: Cli, tmp_path: Path, database: Database) -> None:
    request_id = _intake(cli, tmp_path)
    backdate_intake(database, 10)
    cli("requests", "submit", str(request_id), "--reference", "F-1")
    start = today() - dt.timedelta(days=10)
    cli(
        "requests", "record", str(request_id), "--approved", "--auth-number", "A-1", "--decided-on", str(today()),
        "--from", str(start), "--to", str(today() + dt.timedelta(days=170)), "--units", "112",
    )  # fmt: skip
    for day in (today() - dt.timedelta(days=3), today()):
        cli("sessions", "add", str(request_id), "--date", str(day), "--dose-mg", "56")
    work = [w for w in cli("worklist", "--json") if w["request_id"] == request_id]
    assert [(w["kind"], w["due"]) for w in work] == [("expiring", str(today()))]
    assert "all 112 units used" in work[0]["detail"]


def test_a_damaged_pdf_is_not_attached(cli: Cli, tmp_path: Path) -> None:
    request_id = _intake(cli, tmp_path)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\ngarbage")
    assert cli.fails("requests", "attach", str(request_id), str(broken), "--title", "note") == [
        "error: FILE.pdf: broken.pdf is damaged and cannot be opened (PdfStreamError)"
    ]
    assert _show(cli, request_id)["documents"] == []


def test_the_records_and_copies_are_readable_by_their_owner_only(cli: Cli, tmp_path: Path, data_dir: Path) -> None:
    request_id = _intake(cli, tmp_path)
    database = data_dir / "priorauth.db"
    if database.exists():  # SQLite: the default
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
    out = tmp_path / "letter.pdf"
    cli("letter", "--request", str(request_id), "--kind", "request", "--out", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_payer_not_in_the_directory_shows_by_the_case_s_name(cli: Cli, tmp_path: Path) -> None:
    case = case_gathered("EX-04-missing-docs")
    case["coverage"]["payer_name"] = "Unlisted Regional Plan"
    path = write_case(tmp_path, case, "unlisted.json")
    request_id = int(cli("intake", str(path), "--json")["request_id"])
    rows = [w for w in cli("worklist", "--json") if w["request_id"] == request_id]
    assert rows
    assert {w["payer_name"] for w in rows} == {"Unlisted Regional Plan"}


def test_an_approval_s_terms_are_checked(cli: Cli, tmp_path: Path) -> None:
    request_id = _intake(cli, tmp_path)
    cli("requests", "submit", str(request_id), "--reference", "F-1")
    base = ["requests", "record", str(request_id), "--approved", "--auth-number", "KB-1", "--units", "112"]
    for dates, extra, expected in (
        (("2025-01-01", "2025-06-01"), [], f"error: --to: 2025-06-01 is before the request was sent ({today()})"),
        ((str(today()), str(today() + dt.timedelta(days=3650))), [], "error: --to: 3651 days is longer than any"),
        ((str(today()), str(today() + dt.timedelta(days=30))), ["--info-requested", "x"], "error: --info-requested:"),
    ):
        lines = cli.fails(*base, "--from", dates[0], "--to", dates[1], *extra)
        assert len(lines) == 1
        assert lines[0].startswith(expected), lines
    assert _show(cli, request_id)["status"] == "submitted"
    cli("requests", "record", str(request_id), "--denied", "--reason", "no")
    assert cli.fails(*base, "--from", str(today()), "--to", str(today())) == [
        f"error: request {request_id} is denied: undo it first, or appeal it"
    ]


def test_a_medicare_session_is_coded_by_its_own_dose(cli: Cli, tmp_path: Path) -> None:
    request_id = _intake(cli, tmp_path, "EX-05-medicare", request__dose_mg=84)
    first = cli("sessions", "add", str(request_id), "--date", str(today()), "--dose-mg", "56", "--json")
    assert (first["code"], first["units"]) == ("G2082", 1)
    second = cli("sessions", "add", str(request_id), "--date", str(today()), "--dose-mg", "84", "--json")
    assert (second["code"], second["units"], second["same_day"]) == ("G2083", 1, 1)  # the text output warns
    listed = cli("sessions", "list", str(request_id), "--json")
    assert [(x["code"], x["same_day"]) for x in listed] == [("G2082", 1), ("G2083", 1)]


def test_a_session_of_a_self_pay_course_needs_no_authorization(cli: Cli, tmp_path: Path) -> None:
    request_id = _intake(cli, tmp_path, "EX-06-self-pay")
    added = cli("sessions", "add", str(request_id), "--date", str(today()))
    assert "no authorization needed" in added
    assert [w["kind"] for w in cli("worklist", "--json") if w["request_id"] == request_id] in ([], ["incomplete"])
