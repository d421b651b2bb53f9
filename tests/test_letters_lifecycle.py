"""The documents of a stored request say what the records say (issue 9, billing-clerk walk-through).

Expedited wording exactly when the request is expedited (lifecycle rule 12), the appeal's clock,
the notice's start and units, the cover sheet's wording, and what ``letter`` options accept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from coverage.letters import Denial, LetterOptions, render_html
from coverage.policies.service import Checker
from coverage.services import documents as service
from coverage.services import requests as services
from coverage.store.documents import DocumentStore
from tests.conftest import case_gathered, today
from tests.test_letters_request import FAX, Desk, _text
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
