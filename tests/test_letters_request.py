"""A stored request's documents: made once by ``RequestDocuments``, kept in the document store, copied by
``priorauth letter --request ID``.

The unit tests work on an in-memory unit of work; the command-line tests on SQLite and PostgreSQL.
Cases are dated relative to today: the records evaluate them on the day of the act.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from coverage.clinic import load_clinic
from coverage.errors import InvalidInput
from coverage.letters.templates import long_date
from coverage.policies.service import Checker
from coverage.requests import model as m
from coverage.services import documents as service
from coverage.services import requests as services
from coverage.services.context import Context
from coverage.settings import Settings
from coverage.store.documents import DocumentStore
from coverage.store.fake import FakeUnitOfWork
from coverage.store.tables import Payer
from tests.conftest import Cli, case_gathered, today, write_case

FAX = "(800) 555-0199"
NUMBER = re.compile(r"(\d+)-([A-Z]{3})-[0-9A-F]{8}")


def _text(pdf: bytes) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages)


# --- RequestDocuments on an in-memory unit of work ----------------------------------------------


class Desk:
    """One request taken in on a fake unit of work, and its documents as of a given moment."""

    def __init__(
        self, checker: Checker, store: DocumentStore, case: dict[str, Any], channel: str = "fax", **intake: Any
    ) -> None:
        self.checker, self.store, self.ctx = checker, store, Context()
        self.uow = FakeUnitOfWork()
        self.uow.payers.add(
            Payer(name="Example Health Plan", fax=FAX, channel=channel, turnaround_days=15, urgent_turnaround_hours=72)
        )
        self.request_id = services.intake(
            json.dumps(case), uow=self.uow, checker=checker, ctx=self.ctx, by="intake-1", **intake
        ).request_id

    def make(self, what: Callable[[service.RequestDocuments], service.Made], at: dt.datetime | None = None) -> Any:
        with self.uow as uow:
            _, request = services.load(uow, self.request_id)
            payer = uow.payers.get(request.payer_id) if request.payer_id is not None else None
            documents = service.RequestDocuments(
                request,
                checker=self.checker,
                clinic=load_clinic(Settings(clinic_file=None)),
                store=self.store,
                when=self.ctx.when(at),
                payer=payer,
            )
            made = what(documents)
            uow.commit()
        return made

    def request(self) -> m.Request:
        with self.uow as uow:
            return services.load(uow, self.request_id)[1]


@pytest.fixture
def store(document_store: DocumentStore) -> DocumentStore:
    """The unit tests run on the local default and on ``memory://`` (see conftest)."""
    return document_store


@pytest.fixture
def desk(checker: Checker, store: DocumentStore) -> Desk:
    return Desk(checker, store, case_gathered("EX-01-meets", today() - dt.timedelta(days=12)))


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kinds rendered by WeasyPrint during the test, in order."""
    import coverage.letters.render as render

    made: list[str] = []
    real = render.render_document

    def counted(kind: str, **kw: Any) -> Any:
        made.append(kind)
        return real(kind, **kw)

    monkeypatch.setattr(render, "render_document", counted)
    return made


def test_a_document_is_numbered_before_rendering_and_made_once(desk: Desk, renders: list[str]) -> None:
    first = desk.make(lambda d: d.letter())
    number = desk.make(lambda d: d.number("request", {"version": 1, "sending": 1}))
    again = desk.make(lambda d: d.letter())
    assert first.new
    assert not again.new
    assert again.document is first.document
    assert first.document.control_number == number
    assert NUMBER.fullmatch(number)
    assert number.startswith(f"{desk.request_id}-LMN-")
    assert renders == ["request"]
    assert [d.control_number for d in desk.request().documents] == [number]


def test_reused_on_a_later_day_with_its_own_date(desk: Desk, renders: list[str]) -> None:
    first = desk.make(lambda d: d.packet())
    later = desk.make(lambda d: d.packet(), at=dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    assert later.document is first.document
    assert later.document.dated == today()
    assert renders == ["packet"]


def test_the_file_is_kept_under_its_key_readable_by_the_owner_only(desk: Desk, store: DocumentStore) -> None:
    made = desk.make(lambda d: d.letter())
    document = made.document
    assert document.key == f"{desk.request_id}/{document.control_number}.pdf"  # relative: the same on every host
    assert store.exists(document.key)
    path = store.local_path(document.key)
    if "://" in store.location:
        assert path is None  # no file on this host's disk
    else:
        assert path is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    data = service.read(document, store=store)
    assert document.sha256 == "sha256:" + hashlib.sha256(data).hexdigest()
    assert document.size == len(data)
    assert document.pages == len(PdfReader(io.BytesIO(data)).pages)
    assert document.case_version == 1


def test_a_letter_made_today_for_a_case_gathered_12_days_ago(desk: Desk, store: DocumentStore) -> None:
    """Lifecycle rule 2 (scenario 11): dated today; the requested start not before today; the payer's fax."""
    made = desk.make(lambda d: d.letter())
    assert made.document.dated == today()
    text = _text(service.read(made.document, store=store))
    assert long_date(today()) in text
    # The case asked to start the day before today (11 days after its facts were gathered).
    assert f"starting {long_date(today())}" in text
    assert f"Fax: {FAX}" in text
    assert f"Sent by fax to {FAX}" in text
    assert made.document.control_number in text


def test_a_letter_to_a_payer_reached_electronically_names_no_fax(checker: Checker, store: DocumentStore) -> None:
    desk = Desk(checker, store, case_gathered("EX-01-meets", today() - dt.timedelta(days=2)), channel="electronic")
    text = _text(service.read(desk.make(lambda d: d.letter()).document, store=store))
    assert "Sent by fax" not in text
    assert FAX not in text
    assert "Control No." in text


def test_a_new_case_version_gets_new_documents(desk: Desk, checker: Checker) -> None:
    first = desk.make(lambda d: d.letter())
    amended = case_gathered("EX-01-meets", today() - dt.timedelta(days=12))
    services.amend(desk.request_id, json.dumps(amended), uow=desk.uow, checker=checker, ctx=desk.ctx, by="b-1")
    second = desk.make(lambda d: d.letter())
    assert second.new
    assert second.document.case_version == 2
    assert second.document.control_number != first.document.control_number


def test_a_copy_asked_for_after_the_sending_is_what_was_sent(desk: Desk) -> None:
    sent = desk.make(lambda d: [d.letter().document, d.packet().document])
    services.submit(desk.request_id, uow=desk.uow, ctx=desk.ctx, channel="fax", by="b-1")
    copies = desk.make(lambda d: [d.letter(), d.packet(), d.request_letter("request")])
    assert [c.new for c in copies] == [False, False, False]
    assert [c.document for c in copies] == [*sent, sent[0]]
    answer = services.AnswerInput(decision="pended", info_requested="PHQ-9 within 14 days")
    services.record_answer(desk.request_id, answer, uow=desk.uow, ctx=desk.ctx, by="b-1")
    resent = desk.make(lambda d: d.letter())  # pended: the letter of the next sending
    assert resent.new
    assert resent.document.control_number != sent[0].control_number


def test_the_fax_cover_lists_the_enclosures_with_their_pages(desk: Desk, store: DocumentStore) -> None:
    def cover(d: service.RequestDocuments) -> tuple[list[m.Document], service.Made]:
        enclosed = d.enclosures()
        return enclosed, d.cover(enclosed, FAX)

    enclosed, made = desk.make(cover)
    assert made.document.control_number.startswith(f"{desk.request_id}-FAX-")
    text = _text(service.read(made.document, store=store))
    total = sum(d.pages or 0 for d in enclosed) + (made.document.pages or 0)
    assert f"{total} including this cover sheet" in text
    for document in enclosed:
        assert document.control_number in text
    attention = desk.make(lambda d: d.cover(d.enclosures(), FAX, attention="Attn: Appeals Unit"))
    assert attention.new
    assert "Attn: Appeals Unit" in _text(service.read(attention.document, store=store))


def test_the_notice_of_an_answer_states_units_and_sessions(desk: Desk, store: DocumentStore) -> None:
    """Lifecycle rule 9: the notice says both the units of the code and the sessions they pay for."""
    services.submit(desk.request_id, uow=desk.uow, ctx=desk.ctx, channel="fax", by="b-1")
    approval = services.AnswerInput(
        decision="approved",
        auth_number="A-77",
        valid_from=today(),
        valid_to=today() + dt.timedelta(days=179),
        units=448,
    )
    services.record_answer(desk.request_id, approval, uow=desk.uow, ctx=desk.ctx, by="b-1")
    answer = desk.request().latest_answer
    assert answer is not None
    notice = desk.make(lambda d: d.notice(answer))
    assert notice is not None
    assert notice.document.control_number.startswith(f"{desk.request_id}-DEC-")
    text = _text(service.read(notice.document, store=store))
    assert "448 units of J0013 (1 unit = 1 mg), 8 sessions at 56 mg" in text
    assert "A-77" in text
    assert not desk.make(lambda d: d.notice(answer)).new  # once per answer


def test_an_expedited_request_says_so_on_the_letter_and_the_cover(checker: Checker, store: DocumentStore) -> None:
    """Lifecycle rule 12, with the default reason."""
    desk = Desk(checker, store, case_gathered("EX-01-meets", today() - dt.timedelta(days=2)), expedited=True)
    letter, cover = desk.make(lambda d: (d.letter(), d.cover(d.enclosures(), FAX)))
    for made in (letter, cover):
        text = _text(service.read(made.document, store=store))
        assert "EXPEDITED REVIEW REQUESTED" in text
        assert "could seriously jeopardize the patient's life, health or ability to regain maximum function" in text


def test_the_continuation_letter_needs_a_continuation_case(desk: Desk) -> None:
    with pytest.raises(InvalidInput, match="continuation case"):
        desk.make(lambda d: d.request_letter("continuation"))
    assert desk.request().documents == []


# --- priorauth letter --request ID --------------------------------------------------------------


def _stored(cli: Cli, tmp_path: Path, **changes: Any) -> str:
    """EX-01 (gathered 2 days ago, a fax payer in the directory) taken in: the request id."""
    cli("payers", "add", "Example Health Plan", "--fax", FAX)
    path = write_case(tmp_path / "cases", case_gathered("EX-01-meets", today() - dt.timedelta(days=2), **changes))
    return str(cli("intake", str(path), "--json")["request_id"])


@pytest.fixture
def stored_denial(cli: Cli, tmp_path: Path) -> str:
    """EX-01 taken in, submitted and denied (reference DN-5), on the test database; the request id."""
    request_id = _stored(cli, tmp_path)
    cli("requests", "submit", request_id, "--channel", "fax")
    cli(
        "requests", "record", request_id, "--denied", "--reason", "Second trial shorter than six weeks",
        "--reference", "DN-5",
    )  # fmt: skip
    return request_id


def _letter(cli: Cli, request_id: str, kind: str, out: Path, *args: str) -> str:
    """``letter --request``: the sha256 it printed (after checking the line and the file)."""
    printed = cli("letter", "--request", request_id, "--kind", kind, "--out", str(out), *args)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert printed.strip() == f"sha256 {digest} {out}"
    return digest


def _documents(cli: Cli, request_id: str) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = cli("requests", "show", request_id, "--json")["documents"]
    return shown


def test_appeal_and_notice_take_the_recorded_denial(cli: Cli, stored_denial: str, tmp_path: Path) -> None:
    appeal, notice = tmp_path / "appeal.pdf", tmp_path / "notice.pdf"
    _letter(cli, stored_denial, "appeal", appeal)
    _letter(cli, stored_denial, "decision-notice", notice)
    appeal_text = _text(appeal.read_bytes())
    assert "Second trial shorter than six weeks" in appeal_text
    assert "DN-5" in appeal_text
    assert long_date(today()) in appeal_text
    assert "Whitaker" in appeal_text  # the letter is where PHI belongs
    notice_text = _text(notice.read_bytes())
    assert "Not approved" in notice_text
    assert "Second trial shorter than six weeks" in notice_text


def test_the_command_copies_the_stored_document_and_makes_it_once(
    cli: Cli, stored_denial: str, tmp_path: Path, data_dir: Path
) -> None:
    first = _letter(cli, stored_denial, "appeal", tmp_path / "a.pdf")
    second = _letter(cli, stored_denial, "appeal", tmp_path / "b.pdf")
    assert first == second
    [document] = _documents(cli, stored_denial)
    assert document["kind"] == "appeal"
    assert document["sha256"].removeprefix("sha256:") == first
    number = document["control_number"]
    assert NUMBER.fullmatch(number)
    assert number.startswith(f"{stored_denial}-APL-")
    kept = data_dir / "documents" / stored_denial / f"{number}.pdf"
    assert kept.read_bytes() == (tmp_path / "a.pdf").read_bytes()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert number in _text(kept.read_bytes())


def test_a_copy_after_a_fax_sending_is_the_document_sent(cli: Cli, tmp_path: Path) -> None:
    request_id = _stored(cli, tmp_path)
    cli("requests", "send", request_id, "--json")
    cli("requests", "submit", request_id, "--channel", "fax", "--reference", "F-1")
    sent = {d["kind"]: d for d in _documents(cli, request_id)}
    assert set(sent) == {"request", "packet", "fax-cover"}
    for kind in ("request", "packet", "fax-cover"):
        digest = _letter(cli, request_id, kind, tmp_path / f"{kind}.pdf")
        assert digest == sent[kind]["sha256"].removeprefix("sha256:")
    assert len(_documents(cli, request_id)) == 3
    assert FAX in _text((tmp_path / "fax-cover.pdf").read_bytes())


def test_documents_after_the_request_is_approved(cli: Cli, stored_denial: str, tmp_path: Path) -> None:
    """An approval after the appeal: every document still comes from the request; the notice states the units."""
    start, end = today(), today() + dt.timedelta(days=179)
    cli("requests", "appeal", stored_denial)
    cli("requests", "submit", stored_denial, "--channel", "fax")
    cli(
        "requests", "record", stored_denial, "--approved", "--auth-number", "PA-9", "--from", str(start),
        "--to", str(end), "--units", "448",
    )  # fmt: skip
    for kind in ("request", "fax-cover", "decision-notice"):
        _letter(cli, stored_denial, kind, tmp_path / f"{kind}.pdf")
    notice = _text((tmp_path / "decision-notice.pdf").read_bytes())
    assert "Approved." in notice
    assert "PA-9" in notice
    assert "448 units of J0013 (1 unit = 1 mg), 8 sessions at 56 mg" in notice


def test_an_option_overrides_the_recorded_answer(cli: Cli, stored_denial: str, tmp_path: Path) -> None:
    out = tmp_path / "appeal.pdf"
    _letter(cli, stored_denial, "appeal", out, "--denial-reason", "Severity score not documented")
    text = _text(out.read_bytes())
    assert "Severity score not documented" in text
    assert "Second trial shorter than six weeks" not in text


def test_an_expedited_request_s_letter_says_so(cli: Cli, tmp_path: Path) -> None:
    cli("payers", "add", "Example Health Plan", "--fax", FAX)
    path = write_case(tmp_path / "cases", case_gathered("EX-01-meets", today() - dt.timedelta(days=2)))
    reason = "Worsening ideation since the last visit."
    request_id = str(cli("intake", str(path), "--expedited", "--expedited-reason", reason, "--json")["request_id"])
    for kind in ("request", "fax-cover"):
        _letter(cli, request_id, kind, tmp_path / f"{kind}.pdf")
        text = _text((tmp_path / f"{kind}.pdf").read_bytes())
        assert "EXPEDITED REVIEW REQUESTED" in text
        assert reason in text


def test_pdfa_is_refused_for_a_stored_request(cli: Cli, stored_denial: str, tmp_path: Path) -> None:
    out = tmp_path / "appeal.pdf"
    errors = cli.fails("letter", "--request", stored_denial, "--kind", "appeal", "--out", str(out), "--pdfa")
    assert errors == ["error: --pdfa: only for previews from a case file; stored documents are kept as made"]
    assert not out.exists()
    assert _documents(cli, stored_denial) == []


def test_a_continuation_letter_for_an_initial_request_is_refused(cli: Cli, stored_denial: str, tmp_path: Path) -> None:
    errors = cli.fails("letter", "--request", stored_denial, "--kind", "continuation", "--out", str(tmp_path / "c.pdf"))
    assert len(errors) == 1
    assert "continuation case" in errors[0]


@pytest.mark.parametrize(("request_id", "message"), [("x", "is not an id"), ("999", "no such request")])
def test_unknown_request_is_one_line(
    cli: Cli, stored_denial: str, request_id: str, message: str, tmp_path: Path
) -> None:
    errors = cli.fails("letter", "--request", request_id, "--kind", "appeal", "--out", str(tmp_path / "a.pdf"))
    assert len(errors) == 1
    assert "--request" in errors[0] or request_id in errors[0]
    assert message in errors[0]
    assert "Whitaker" not in errors[0]
