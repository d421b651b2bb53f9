"""The fifteen scenarios of lifecycle.md, each through the command line (``--json``), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pypdf import PdfReader

from tests.conftest import Cli, backdate_intake, case_gathered, today, write_case

if TYPE_CHECKING:
    from coverage.store.db import Database

pytestmark = pytest.mark.postgres

FAX = "(617) 555-0148"


def _long(day: dt.date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _pdf_text(data_dir: Path, key: str) -> str:
    reader = PdfReader(io.BytesIO((data_dir / "documents" / key).read_bytes()))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def _fax_payer(cli: Cli, name: str = "Example Health Plan", **options: str) -> None:
    extra = [item for pair in options.items() for item in (f"--{pair[0].replace('_', '-')}", pair[1])]
    cli("payers", "add", name, "--channel", "fax", "--fax", FAX, "--turnaround-days", "10", *extra)


def _intake(cli: Cli, tmp_path: Path, name: str = "EX-01-meets", *args: str, **changes: Any) -> int:
    path = write_case(tmp_path / "cases", case_gathered(name, **changes), f"{name}.json")
    return int(cli("intake", str(path), *args, "--json", "--by", "intake-1")["request_id"])


def _show(cli: Cli, request_id: int) -> dict[str, Any]:
    shown: dict[str, Any] = cli("requests", "show", str(request_id), "--json")
    return shown


def _sent(cli: Cli, tmp_path: Path) -> int:
    """Scenarios 1 and 2: a fax payer's request sent by a person."""
    _fax_payer(cli)
    request_id = _intake(cli, tmp_path)
    cli("requests", "send", str(request_id), "--json", "--by", "billing-1")
    cli("requests", "submit", str(request_id), "--channel", "fax", "--reference", "F-1", "--by", "billing-1")
    return request_id


def _approved(cli: Cli, tmp_path: Path, *, units: str = "448") -> int:
    request_id = _sent(cli, tmp_path)
    start, end = today(), today() + dt.timedelta(days=179)
    cli(
        "requests", "record", str(request_id), "--approved", "--auth-number", "A-77",
        "--from", str(start), "--to", str(end), "--units", units, "--json",
    )  # fmt: skip
    return request_id


def test_1_a_fax_payer_s_request_waits_for_a_person(cli: Cli, tmp_path: Path) -> None:
    _fax_payer(cli)
    request_id = _intake(cli, tmp_path)
    prepared = cli("requests", "send", str(request_id), "--json")
    assert prepared["state"] == "send_task"
    shown = _show(cli, request_id)
    assert shown["status"] == "ready"
    task = shown["send_task"]
    assert task["channel"] == "fax"
    assert task["destination"] == FAX
    assert task["pages"] == sum(d["pages"] for d in shown["documents"])  # letter + packet + the cover itself
    assert [d["kind"] for d in shown["documents"]] == ["request", "packet", "fax-cover"]
    assert task["documents"] == [d["control_number"] for d in shown["documents"]]
    assert shown["submissions"] == []
    work = cli("worklist", "--json")
    assert [(w["kind"], w["request_id"]) for w in work] == [("send", request_id)]
    assert FAX in work[0]["detail"]


def test_2_a_person_confirms_the_sending(cli: Cli, tmp_path: Path) -> None:
    request_id = _sent(cli, tmp_path)
    shown = _show(cli, request_id)
    assert shown["status"] == "submitted"
    assert shown["send_task"] is None
    assert [(s["channel"], s["reference"], s["sent_on"]) for s in shown["submissions"]] == [
        ("fax", "F-1", str(today()))
    ]
    due = dt.datetime.fromisoformat(shown["due_at"])
    sent = dt.datetime.fromisoformat(shown["events"][-1]["at"])
    assert due - sent == dt.timedelta(days=10)  # the payer's turnaround, from the sending
    assert cli("worklist", "--json") == []


def test_3_information_asked_is_added_to_the_same_request(cli: Cli, tmp_path: Path) -> None:
    request_id = _sent(cli, tmp_path)
    respond_by = today() + dt.timedelta(days=14)
    cli(
        "requests", "record", str(request_id), "--pended", "--info-requested", "PHQ-9 within 14 days",
        "--respond-by", str(respond_by),
    )  # fmt: skip
    work = cli("worklist", "--json")
    assert [(w["kind"], w["due"], w["detail"]) for w in work] == [
        ("information_requested", str(respond_by), "PHQ-9 within 14 days")
    ]
    scores = case_gathered("EX-01-meets")["assessments"] + [{"instrument": "phq9", "score": 20, "date": str(today())}]
    amended = write_case(tmp_path / "amended", case_gathered("EX-01-meets", assessments=scores))
    result = cli("requests", "amend", str(request_id), str(amended), "--json")
    assert (result["request_id"], result["status"], result["case_version"]) == (request_id, "ready", 2)
    cli("requests", "submit", str(request_id), "--channel", "fax", "--reference", "F-2")
    shown = _show(cli, request_id)
    assert shown["request_id"] == request_id
    assert shown["case_versions"] == [1, 2]
    assert shown["status"] == "submitted"
    assert [s["reference"] for s in shown["submissions"]] == ["F-1", "F-2"]
    assert [r["request_id"] for r in cli("requests", "list", "--json")] == [request_id]


def test_3_intake_of_the_edited_case_amends_the_pended_request(cli: Cli, tmp_path: Path) -> None:
    request_id = _sent(cli, tmp_path)
    cli("requests", "record", str(request_id), "--pended", "--info-requested", "recent PHQ-9")
    again = _intake(cli, tmp_path)
    assert again == request_id
    assert _show(cli, request_id)["case_versions"] == [1, 2]
    assert len(cli("requests", "list", "--json")) == 1


def test_4_the_same_approval_twice_is_recorded_once(cli: Cli, tmp_path: Path) -> None:
    request_id = _approved(cli, tmp_path)
    start, end = today(), today() + dt.timedelta(days=179)
    again = cli(
        "requests", "record", str(request_id), "--approved", "--auth-number", "A-77",
        "--from", str(start), "--to", str(end), "--units", "448",
    )  # fmt: skip
    assert "already recorded" in again
    shown = _show(cli, request_id)
    assert len(shown["answers"]) == 1
    assert len(shown["authorizations"]) == 1
    assert shown["status"] == "approved"


def test_5_a_different_answer_on_a_decided_request_is_refused(cli: Cli, tmp_path: Path) -> None:
    request_id = _approved(cli, tmp_path)
    before = _show(cli, request_id)
    lines = cli.fails("requests", "record", str(request_id), "--denied", "--reason", "not necessary")
    assert lines == [f"error: request {request_id} is approved (A-77): undo it first, or record a continuation"]
    assert _show(cli, request_id)["events"] == before["events"]


def test_6_an_answer_on_the_wrong_request_is_undone(cli: Cli, tmp_path: Path) -> None:
    request_id = _approved(cli, tmp_path)
    cli("requests", "undo", str(request_id), "--reason", "wrong request", "--by", "billing-2")
    shown = _show(cli, request_id)
    assert shown["status"] == "submitted"
    assert [a["voided"] for a in shown["authorizations"]] == [True]
    assert shown["authorization"] is None
    assert [a["voided"] for a in shown["answers"]] == [True]
    assert [(e["action"], e["from"], e["to"]) for e in shown["events"][-2:]] == [
        ("answer", "submitted", "approved"),
        ("undo", "approved", "submitted"),
    ]
    assert "wrong request" in shown["events"][-1]["reason"]
    assert shown["events"][-1]["by"] == "billing-2"


def test_7_sessions_use_up_the_authorization_then_are_flagged(cli: Cli, tmp_path: Path) -> None:
    request_id = _approved(cli, tmp_path)
    for _ in range(8):
        session = cli("sessions", "add", str(request_id), "--date", str(today()), "--json")
        assert (session["units"], session["authorization_number"]) == (56, "A-77")
    auth = _show(cli, request_id)["authorization"]
    assert (auth["units_used"], auth["units_left"], auth["code"]) == (448, 0, "J0013")
    assert auth["runs_out_on"] == str(today())
    assert [w["kind"] for w in cli("worklist", "--json")] == ["expiring"]
    ninth = cli("sessions", "add", str(request_id), "--date", str(today()), "--json")
    assert ninth["authorization_number"] is None
    work = cli("worklist", "--json")
    assert sorted(w["kind"] for w in work) == ["expiring", "session_without_authorization"]
    assert len(_show(cli, request_id)["sessions"]) == 9


def test_8_a_session_before_the_authorization_starts_is_flagged(cli: Cli, tmp_path: Path, database: Database) -> None:
    request_id = _approved(cli, tmp_path)
    backdate_intake(database, 1)  # the patient was taken in before the session
    before = cli("sessions", "add", str(request_id), "--date", str(today() - dt.timedelta(days=1)), "--json")
    assert before["authorization_number"] is None
    assert _show(cli, request_id)["authorization"]["units_used"] == 0
    work = cli("worklist", "--json")
    assert [(w["kind"], w["request_id"]) for w in work] == [("session_without_authorization", request_id)]
    cli("sessions", "void", str(before["id"]), "--reason", "typed the wrong date")
    assert cli("worklist", "--json") == []


def test_9_a_continuation_has_the_whole_life_of_a_request(cli: Cli, tmp_path: Path) -> None:
    first = _approved(cli, tmp_path)
    continued = cli("requests", "continue", str(first), "--json")
    later = continued["request_id"]
    assert continued["previous_request_id"] == first
    shown = _show(cli, later)
    assert (shown["kind"], shown["previous_request_id"]) == ("continuation", first)
    assert shown["documents"] == []
    # The response scores: the therapy started five days ago, and a PHQ-9 of today.
    document = case_gathered("EX-01-meets")
    document["request"]["kind"] = "continuation"
    document["request"]["therapy_start"] = str(today() - dt.timedelta(days=5))
    document["assessments"].append({"instrument": "phq9", "score": 7, "date": str(today())})
    amended = cli("requests", "amend", str(later), str(write_case(tmp_path / "response", document)), "--json")
    assert amended["status"] == "ready"
    cli("requests", "send", str(later))
    cli("requests", "submit", str(later), "--channel", "fax", "--reference", "F-C1")
    cli("requests", "record", str(later), "--denied", "--reason", "response not documented", "--reference", "DN-9")
    cli("requests", "appeal", str(later))
    cli("requests", "send", str(later))
    cli("requests", "submit", str(later), "--channel", "fax", "--reference", "F-C2")
    start = today() + dt.timedelta(days=180)
    cli(
        "requests", "record", str(later), "--approved", "--auth-number", "A-78",
        "--from", str(start), "--to", str(start + dt.timedelta(days=179)), "--sessions", "12",
    )  # fmt: skip
    shown = _show(cli, later)
    assert [e["to"] for e in shown["events"] if e["from"] != e["to"]] == [
        "draft", "ready", "submitted", "denied", "appeal_drafted", "appeal_submitted", "appeal_approved",
    ]  # fmt: skip
    assert [a["number"] for a in shown["authorizations"]] == ["A-78"]
    assert shown["authorizations"][0]["units"] == 12 * 56
    earlier = _show(cli, first)
    assert earlier["status"] == "approved"
    assert earlier["authorization"]["number"] == "A-77"
    assert earlier["later_request_ids"] == [later]


def test_10_a_stale_case_goes_to_draft_and_nothing_is_made(cli: Cli, tmp_path: Path) -> None:
    _fax_payer(cli)
    request_id = _intake(cli, tmp_path, gathered=today() - dt.timedelta(days=60))
    shown = _show(cli, request_id)
    assert shown["status"] == "draft"
    assert "severity" in shown["events"][0]["reason"]
    assert cli.fails("requests", "send", str(request_id))[0].startswith(f"error: request {request_id}: is draft")
    shown = _show(cli, request_id)
    assert shown["documents"] == []
    assert shown["submissions"] == []
    assert [w["kind"] for w in cli("worklist", "--json")] == ["incomplete"]


def test_11_a_letter_made_today_is_dated_today(cli: Cli, tmp_path: Path, data_dir: Path) -> None:
    _fax_payer(cli)
    gathered = today() - dt.timedelta(days=12)
    request_id = _intake(cli, tmp_path, gathered=gathered)
    cli("requests", "send", str(request_id))
    letter = next(d for d in _show(cli, request_id)["documents"] if d["kind"] == "request")
    assert letter["dated"] == str(today())
    text = _pdf_text(data_dir, letter["key"])
    assert _long(today()) in text
    # The sample asks to start 11 days after its facts were gathered: that is now in the past.
    assert f"starting {_long(today())}" in text
    assert _long(gathered + dt.timedelta(days=11)) not in text


@pytest.mark.parametrize("case_id", ["../x", "/tmp/x", "a b", "x/y"])
def test_12_a_case_id_is_never_a_path(cli: Cli, tmp_path: Path, case_id: str) -> None:
    path = write_case(tmp_path, case_gathered("EX-01-meets", case_id=case_id))
    for command in (["check", str(path)], ["intake", str(path)]):
        lines = cli.fails(*command)
        assert len(lines) == 1
        assert lines[0].startswith("error: case_id: "), lines
    assert cli("requests", "list", "--json") == []


def test_13_the_denial_carries_the_payer_s_date_and_reference(cli: Cli, tmp_path: Path, data_dir: Path) -> None:
    _fax_payer(cli)
    request_id = _intake(cli, tmp_path, gathered=today() - dt.timedelta(days=20))
    sent_on, decided_on = today() - dt.timedelta(days=20), today() - dt.timedelta(days=10)
    cli("requests", "submit", str(request_id), "--channel", "fax", "--sent-on", str(sent_on))
    cli(
        "requests", "record", str(request_id), "--denied", "--reason", "two adequate trials not documented",
        "--decided-on", str(decided_on), "--reference", "DN-5",
    )  # fmt: skip
    shown = _show(cli, request_id)
    assert shown["appeal_deadline"] == str(decided_on + dt.timedelta(days=180))
    assert shown["answers"][0]["decided_on"] == str(decided_on)
    cli("requests", "appeal", str(request_id))
    cli("requests", "send", str(request_id))
    appeal = next(d for d in _show(cli, request_id)["documents"] if d["kind"] == "appeal")
    text = _pdf_text(data_dir, appeal["key"])
    assert "DN-5" in text
    assert f"dated {_long(decided_on)}" in text
    assert appeal["dated"] == str(today())


def test_14_expedited_means_expedited_everywhere(cli: Cli, tmp_path: Path, data_dir: Path) -> None:
    _fax_payer(cli, urgent_hours="72")
    request_id = _intake(cli, tmp_path, "EX-01-meets", "--expedited")
    cli("requests", "send", str(request_id))
    documents = _show(cli, request_id)["documents"]
    for kind in ("request", "fax-cover"):
        text = _pdf_text(data_dir, next(d["key"] for d in documents if d["kind"] == kind))
        assert "EXPEDITED REVIEW REQUESTED" in text, kind
        assert "seriously jeopardize" in text, kind
    cli("requests", "submit", str(request_id), "--channel", "fax")
    shown = _show(cli, request_id)
    sent = dt.datetime.fromisoformat(shown["events"][-1]["at"])
    assert dt.datetime.fromisoformat(shown["due_at"]) - sent == dt.timedelta(hours=72)


def test_15_a_rejected_sign_off_returns_to_draft_and_nothing_is_sent(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIORAUTH_SIGNOFF", "required")
    _fax_payer(cli)
    request_id = _intake(cli, tmp_path)
    assert cli("requests", "send", str(request_id), "--json")["state"] == "signoff_pending"
    assert _show(cli, request_id)["signoff"] == "pending"
    assert [w["kind"] for w in cli("worklist", "--json")] == ["signoff"]
    cli("requests", "signoff", str(request_id), "--reject", "--note", "needs MADRS", "--by", "dr-delgado")
    shown = _show(cli, request_id)
    assert shown["status"] == "draft"
    assert "needs MADRS" in shown["events"][-1]["reason"]
    assert shown["events"][-1]["by"] == "dr-delgado"
    assert shown["send_task"] is None
    assert shown["submissions"] == []
    scores = case_gathered("EX-01-meets")["assessments"] + [{"instrument": "madrs", "score": 33, "date": str(today())}]
    amended = write_case(tmp_path / "madrs", case_gathered("EX-01-meets", assessments=scores))
    cli("requests", "amend", str(request_id), str(amended))
    approved = cli("requests", "signoff", str(request_id), "--approve", "--by", "dr-delgado", "--json")
    assert approved["state"] == "send_task"
    shown = _show(cli, request_id)
    assert shown["send_task"] is not None
    assert shown["signoff"] == "approved"
    assert shown["submissions"] == []
