"""The documents of a stored request say what the records say (issue 9, billing-clerk walk-through).

Expedited wording exactly when the request is expedited (lifecycle rule 12), the appeal's clock,
the notice's start and units, the cover sheet's wording, and what ``letter`` options accept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from coverage.letters import Decision, Denial, LetterOptions, render_html
from coverage.letters.templates import long_date
from coverage.policies.service import Checker
from coverage.services import documents as service
from coverage.services import requests as services
from coverage.settings import Settings
from coverage.store.documents import DocumentStore
from tests.conftest import EXAMPLES, Cli, backdate_intake, case_gathered, today, write_case
from tests.test_letters_request import FAX, Desk, _letter, _text
from tests.test_letters_support import DATED, inputs_for

REASON = "Worsening ideation since the last visit"


@pytest.fixture
def store(tmp_path: Path) -> DocumentStore:
    return DocumentStore(tmp_path / "documents")


def _mdsi(**changes: Any) -> dict[str, Any]:
    """CW-102: esketamine 84 mg for MDSI, gathered 2 days ago, acute ideation documented."""
    gathered = today() - dt.timedelta(days=2)
    case = case_gathered("EX-01-meets", gathered, request__indication="mdsi", request__dose_mg=84, **changes)
    case["case_id"] = "CW-102"
    case["suicidality"] = {
        "acute_ideation_or_behavior": True,
        "documented": (gathered - dt.timedelta(days=3)).isoformat(),
    }
    return case


def _read(made: service.Made, store: DocumentStore) -> str:
    return _text(service.read(made.document, store=store))


# --- (7) expedited exactly when the request is expedited, then everywhere -------------------------


def test_a_standard_mdsi_request_says_nothing_expedited(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, _mdsi())
    letter, cover = desk.make(lambda d: (d.letter(), d.cover(d.enclosures(), FAX)))
    for made in (letter, cover):
        text = _read(made, store)
        assert "expedited" not in text.lower()
        assert "72 hours" not in text
    assert "suicidal ideation" in _read(letter, store)  # the clinical urgency is still explained


def test_an_expedited_mdsi_request_says_so_everywhere(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, _mdsi(), expedited=True, expedited_reason=REASON)
    letter, cover = desk.make(lambda d: (d.letter(), d.cover(d.enclosures(), FAX)))
    text = _read(letter, store)
    assert "EXPEDITED REVIEW REQUESTED" in text  # the banner
    assert "RE: EXPEDITED Prior authorization request" in text
    assert f"Expedited review requested. {REASON}. I ask for a decision within 72 hours." in text
    cover_text = _read(cover, store)
    assert "EXPEDITED REVIEW REQUESTED" in cover_text
    assert REASON in cover_text


def test_an_expedited_letter_asks_for_the_payer_s_urgent_hours(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, _mdsi(), expedited=True)
    with desk.uow as uow:
        for payer in uow.payers.all():
            payer.urgent_turnaround_hours = 24
        uow.commit()
    text = _read(desk.make(lambda d: d.letter()), store)
    assert "I ask for a decision within 24 hours." in text
    assert "72 hours" not in text


def test_every_letter_kind_is_expedited_only_with_a_reason(checker: Checker) -> None:
    for example, kind, options in (
        ("EX-01-meets", "request", LetterOptions()),
        ("mdsi", "request", LetterOptions()),
        ("EX-07-iv-covered", "request", LetterOptions()),
        ("EX-08-continuation", "continuation", LetterOptions()),
        ("EX-01-meets", "appeal", LetterOptions(denial=Denial("Not necessary"))),
    ):
        inputs = inputs_for(checker, example)
        for reason in (None, REASON):
            html, _, _ = render_html(
                kind,
                case=inputs.case,
                determination=inputs.determination,
                clinic=inputs.clinic,
                policy=inputs.policy,
                options=dataclasses.replace(options, expedited_reason=reason),
                dated=DATED,
            )
            body = html.split("</style>", 1)[1]
            assert ("xpedited" in body.lower()) == (reason is not None), (example, kind, reason)
            assert ("72 hours" in body) == (reason is not None), (example, kind, reason)


# --- (8) the expedited appeal asks for the urgent clock ------------------------------------------


def _denied(desk: Desk) -> None:
    services.submit(desk.request_id, uow=desk.uow, ctx=desk.ctx, channel="fax", by="b-1")
    denial = services.AnswerInput(decision="denied", reason="Not medically necessary", reference="DN-7")
    services.record_answer(desk.request_id, denial, uow=desk.uow, ctx=desk.ctx, by="b-1")


def test_an_expedited_appeal_asks_for_a_decision_within_72_hours(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, _mdsi(), expedited=True)
    _denied(desk)
    text = _read(desk.make(lambda d: d.appeal()), store)
    assert "EXPEDITED REVIEW REQUESTED" in text
    assert "please decide within 72 hours" in text
    assert "30 days" not in text


def test_a_standard_appeal_asks_for_30_days(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, _mdsi())
    _denied(desk)
    text = _read(desk.make(lambda d: d.appeal()), store)
    assert "please decide within 30" in text  # (a page break may fall before "days")
    assert "EXPEDITED" not in text
    assert "72 hours" not in text


# --- (17) the notice of a backdated approval; (18) units that make no whole session ----------------


def _approved(desk: Desk, *, valid_from: dt.date, units: int) -> service.Made:
    services.submit(
        desk.request_id, uow=desk.uow, ctx=desk.ctx, channel="fax", by="b-1", sent_on=today() - dt.timedelta(days=2)
    )  # sent once the case was gathered; an authorization may start before it (retroactive)
    approval = services.AnswerInput(
        decision="approved",
        auth_number="A-12",
        valid_from=valid_from,
        valid_to=valid_from + dt.timedelta(days=179),
        units=units,
    )
    services.record_answer(desk.request_id, approval, uow=desk.uow, ctx=desk.ctx, by="b-1")
    answer = desk.request().latest_answer
    assert answer is not None
    made = desk.make(lambda d: d.notice(answer))
    assert made is not None
    return made


def test_a_backdated_approval_s_notice_schedules_from_the_day_it_is_made(
    checker: Checker, store: DocumentStore
) -> None:
    desk = Desk(checker, store, _mdsi())
    start = today() - dt.timedelta(days=30)
    text = _read(_approved(desk, valid_from=start, units=84 * 8), store)
    assert f"starting on or after {long_date(today())}" in text
    assert f"starting on or after {long_date(start)}" not in text
    assert f"Approved from {long_date(start)}" in text  # the authorization keeps its own dates


def test_a_notice_says_when_the_units_are_already_used(checker: Checker, store: DocumentStore) -> None:
    from coverage.services import sessions

    desk = Desk(checker, store, _mdsi())
    start = today() - dt.timedelta(days=30)
    sent = today() - dt.timedelta(days=2)
    services.submit(desk.request_id, uow=desk.uow, ctx=desk.ctx, channel="fax", by="b-1", sent_on=sent)
    backdate_intake(desk.uow, 3)
    sessions.add(desk.request_id, day=today() - dt.timedelta(days=3), uow=desk.uow, ctx=desk.ctx, by="b-1")
    approval = services.AnswerInput(
        decision="approved", auth_number="A-12", valid_from=start, valid_to=start + dt.timedelta(days=179), units=84
    )
    services.record_answer(desk.request_id, approval, uow=desk.uow, ctx=desk.ctx, by="b-1")
    answer = desk.request().latest_answer
    assert answer is not None
    text = _read(desk.make(lambda d: d.notice(answer)), store)
    assert "already been used" in text
    assert "We will call you to schedule" not in text


def test_units_that_make_no_whole_session_are_said(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, _mdsi())
    text = _read(_approved(desk, valid_from=today(), units=300), store)
    assert "300 units of J0013 (1 unit = 1 mg), 3 full sessions at 84 mg (48 mg left over)" in text


@pytest.mark.parametrize(
    ("units", "sessions", "said"),
    [
        (84, 1, "84 units of J0013 (1 unit = 1 mg), 1 session at 84 mg"),
        (1, 0, "1 unit of J0013 (1 unit = 1 mg), not enough for one full session at 84 mg (1 mg)"),
        (85, 1, "85 units of J0013 (1 unit = 1 mg), 1 full session at 84 mg (1 mg left over)"),
    ],
)
def test_the_approved_amount_is_singular_or_plural(units: int, sessions: int, said: str) -> None:
    from coverage.letters.render import approved_amount

    decision = Decision(
        status="approved", units=units, code="J0013", unit_label="1 unit = 1 mg", sessions=sessions, dose_mg=84
    )
    assert approved_amount(decision, ()) == said
    medicare = Decision(status="approved", units=1, code="G2083", unit_label="1 unit = one session", sessions=1)
    assert approved_amount(medicare, ()) == "1 unit of G2083 (1 unit = one session), 1 session"


# --- (20) the cover sheet says how the sending goes and what it is ------------------------------


def test_a_portal_payer_s_cover_is_no_fax(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, _mdsi(), channel="portal")
    text = _read(desk.make(lambda d: d.cover(d.enclosures(), None)), store)
    assert "PORTAL SUBMISSION COVER SHEET" in text
    assert "FAX" not in re.sub(r"\d+-FAX-[0-9A-F]{8}", "", text)  # (the cover's control number says FAX)
    assert "____" not in text
    assert "facsimile" not in text


def test_the_appeal_s_cover_names_the_appeal(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, _mdsi())
    _denied(desk)
    services.transition(desk.request_id, "appeal_drafted", uow=desk.uow, ctx=desk.ctx, by="b-1")
    text = _read(desk.make(lambda d: d.cover(d.enclosures(), FAX)), store)
    assert "Re Appeal of adverse determination" in text
    assert "Prior authorization request" not in text


def test_the_resend_answering_a_pend_says_so_with_the_payer_s_reference(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, _mdsi())
    services.submit(desk.request_id, uow=desk.uow, ctx=desk.ctx, channel="fax", by="b-1")
    pend = services.AnswerInput(
        decision="pended", reference="RFI-31", info_requested="PHQ-9 within 14 days", respond_by=today()
    )
    services.record_answer(desk.request_id, pend, uow=desk.uow, ctx=desk.ctx, by="b-1")
    letter, cover = desk.make(lambda d: (d.letter(), d.cover(d.enclosures(), FAX)))
    cover_text = _read(cover, store)
    assert "Response to your request for additional information (your reference RFI-31)" in cover_text
    assert "PHQ-9 within 14 days" in cover_text
    letter_text = _read(letter, store)
    assert "RE: Response to your request for additional information" in letter_text
    assert "(your reference RFI-31)" in letter_text
    assert "PHQ-9 within 14 days" in letter_text


def test_a_first_sending_s_cover_is_the_request(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, _mdsi())
    text = _read(desk.make(lambda d: d.cover(d.enclosures(), FAX)), store)
    assert "FAX" in text
    assert "Re Prior authorization request" in text
    assert "request for additional information" not in text


# --- (15) what `letter` options accept, and which documents a request's status allows -----------

PREVIEW = ("letter", str(EXAMPLES / "EX-01-meets.json"))


def _tomorrow() -> str:
    return (today() + dt.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("kind", "args", "option"),
    [
        ("fax-cover", ["--recipient-fax", "(800) 555-0199\a"], "--recipient-fax"),
        ("fax-cover", ["--recipient-fax", "5" * 3000], "--recipient-fax"),
        ("fax-cover", ["--attention", "Attn: \u202eUM"], "--attention"),
        ("appeal", ["--denial-reason", "\x1b[31mred\x1b[0m"], "--denial-reason"),
        ("appeal", ["--denial-reason", "x" * 2001], "--denial-reason"),
        ("appeal", ["--denial-reason", "Not necessary", "--denial-reference", "R" * 500], "--denial-reference"),
        ("decision-notice", ["--decision", "approved", "--auth-number", "A\x00B"], "--auth-number"),
        ("decision-notice", ["--decision", "denied", "--decision-reason", "no\x07"], "--decision-reason"),
        ("receipt", ["--payment", "2026-11-01:10.00:card:" + "R" * 500], "--payment"),
        ("request", ["--expedited-reason", "urgent\x1b"], "--expedited-reason"),
        ("fax-cover", ["--enclose", "nonsense"], "--enclose"),
        ("decision-notice", ["--decision", "approved", "--units", "100000000"], "--units"),
    ],
)
def test_a_bad_text_option_is_one_line_naming_it(
    cli: Cli, tmp_path: Path, kind: str, args: list[str], option: str
) -> None:
    out = tmp_path / "out.pdf"
    errors = cli.fails(*PREVIEW, "--kind", kind, "--out", str(out), *args)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"error: {option}: "), errors
    assert not out.exists()


@pytest.mark.parametrize(
    ("kind", "args", "option"),
    [
        ("appeal", ["--denial-reason", "Not necessary", "--denial-date", "{tomorrow}"], "--denial-date"),
        ("receipt", ["--payment", "{tomorrow}:10.00"], "--payment"),
        ("superbill", ["--service-date", "{tomorrow}"], "--service-date"),
        ("decision-notice", ["--decision", "approved", "--decided-on", "{tomorrow}"], "--decided-on"),
    ],
)
def test_a_date_in_the_future_is_refused(cli: Cli, tmp_path: Path, kind: str, args: list[str], option: str) -> None:
    out = tmp_path / "out.pdf"
    given = [a.replace("{tomorrow}", _tomorrow()) for a in args]
    errors = cli.fails(*PREVIEW, "--kind", kind, "--out", str(out), *given)
    assert errors == [f"error: {option}: {_tomorrow()} is in the future (today is {today().isoformat()})"]
    assert not out.exists()


def _intake(cli: Cli, tmp_path: Path, *args: str) -> str:
    cli("payers", "add", "Example Health Plan", "--fax", FAX)
    path = write_case(tmp_path / "cases", case_gathered("EX-01-meets", today() - dt.timedelta(days=2)))
    return str(cli("intake", str(path), *args, "--json")["request_id"])


def test_a_stored_request_refuses_bad_text_and_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    request_id = _intake(cli, tmp_path)
    cli("requests", "submit", request_id, "--channel", "fax")
    cli("requests", "record", request_id, "--denied", "--reason", "Not necessary")
    out = tmp_path / "appeal.pdf"
    errors = cli.fails(
        "letter", "--request", request_id, "--kind", "appeal", "--out", str(out),
        "--denial-reason", "\x1b[2Jgone", "--denial-reference", "R" * 500,
    )  # fmt: skip
    assert len(errors) == 1
    assert errors[0].startswith("error: --denial-reason: contains a control character")
    assert not out.exists()
    assert cli("requests", "show", request_id, "--json")["documents"] == []


def test_a_kind_the_status_does_not_allow_is_refused(cli: Cli, tmp_path: Path) -> None:
    request_id = _intake(cli, tmp_path)
    out = tmp_path / "doc.pdf"
    errors = cli.fails("letter", "--request", request_id, "--kind", "decision-notice", "--out", str(out))
    assert len(errors) == 1
    assert f"request {request_id} is ready (no answer recorded)" in errors[0]
    assert "allowed: request, continuation, fax-cover" in errors[0]
    cli("requests", "submit", request_id, "--channel", "fax")
    start, end = today(), today() + dt.timedelta(days=179)
    cli(
        "requests", "record", request_id, "--approved", "--auth-number", "PA-9", "--from", str(start),
        "--to", str(end), "--units", "448",
    )  # fmt: skip
    for args in ([], ["--denial-reason", "Not necessary"]):
        errors = cli.fails("letter", "--request", request_id, "--kind", "appeal", "--out", str(out), *args)
        assert len(errors) == 1
        assert f"request {request_id} is approved: no appeal document in that status" in errors[0]
        assert "appeal" not in errors[0].split("allowed:")[1]
    assert not out.exists()
    assert cli("requests", "show", request_id, "--json")["documents"] == []
    _letter(cli, request_id, "decision-notice", out)  # what the status allows is made


def test_a_preview_can_be_expedited_a_stored_request_only_at_intake(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "lmn.pdf"
    cli(*PREVIEW, "--kind", "request", "--out", str(out), "--expedited-reason", REASON)
    text = _text(out.read_bytes())
    assert "EXPEDITED REVIEW REQUESTED" in text
    assert "I ask for a decision within 72 hours" in text
    inputs = inputs_for(Checker.from_settings(Settings()), "EX-01-meets")
    one_hour = LetterOptions(expedited_reason=REASON, expedited_hours=1)
    html, _, _ = render_html(
        "request", case=inputs.case, determination=inputs.determination, clinic=inputs.clinic, options=one_hour
    )
    assert "within 1 hour." in html
    request_id = _intake(cli, tmp_path)
    errors = cli.fails(
        "letter", "--request", request_id, "--kind", "request", "--out", str(out), "--expedited-reason", REASON
    )
    assert len(errors) == 1
    assert errors[0].startswith("error: --expedited-reason: ")
