"""Request services on both databases: intake, submissions, answers, locking, clocks, worklist."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from coverage.errors import IllegalTransition, InvalidInput, NotFound, PriorAuthError, StaleVersion
from coverage.payers.directory import add_payer, get_payer
from coverage.policies.service import Checker
from coverage.requests import service
from coverage.requests.answers import Approval, Denial, Pending
from coverage.store import tables as t
from coverage.store.db import Database
from coverage.store.uow import UnitOfWork
from tests.conftest import load_case_dict

AT = dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.UTC)
BY = "clerk-a"


def case_text(name: str = "EX-01-meets", **changes: Any) -> str:
    data = copy.deepcopy(load_case_dict(name))
    data.update(changes)
    return json.dumps(data)


def counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as connection:
        return {
            name: connection.execute(sa.select(sa.func.count()).select_from(t.Base.metadata.tables[name])).scalar_one()
            for name in ("patients", "coverages", "cases", "pa_requests", "determinations", "status_events")
        }


def take_in(uow: UnitOfWork, checker: Checker, text: str | None = None, **kwargs: Any) -> int:
    return service.intake(text or case_text(), uow=uow, checker=checker, by=BY, at=AT, **kwargs).request_id


def test_intake_stores_the_case_and_the_first_event(uow: UnitOfWork, checker: Checker) -> None:
    result = service.intake(case_text(), uow=uow, checker=checker, by=BY, at=AT)
    assert result.status == "ready"
    assert result.new_request
    assert result.case_version == 1
    detail = service.get_request(result.request_id, uow=uow, as_of=AT.date())
    assert detail.request.status == "ready"
    assert detail.request.patient_id == "P-1001"
    assert [(e.from_status, e.to_status, e.by) for e in detail.events] == [(None, "ready", BY)]
    assert detail.events[0].at == AT
    assert detail.determination is not None
    assert detail.determination.policy_hash is not None
    assert detail.determination.policy_hash.startswith("sha256:")
    assert detail.determination.to_dict() == result.determination.to_dict()


@pytest.mark.parametrize(
    ("name", "status"),
    [("EX-05-medicare", "not_required"), ("EX-02-iv-not-covered", "draft"), ("EX-04-missing-docs", "draft")],
)
def test_intake_status_follows_the_outcome(uow: UnitOfWork, checker: Checker, name: str, status: str) -> None:
    assert service.intake(case_text(name), uow=uow, checker=checker, by=BY).status == status


def test_reintake_with_new_documentation_moves_draft_to_ready(uow: UnitOfWork, checker: Checker) -> None:
    first = service.intake(case_text(assessments=None), uow=uow, checker=checker, by=BY, at=AT)
    assert first.status == "draft"
    second = service.intake(case_text(), uow=uow, checker=checker, by="clerk-b", at=AT + dt.timedelta(days=1))
    assert second.request_id == first.request_id
    assert not second.new_request
    assert second.case_version == 2
    events = service.request_history(first.request_id, uow=uow)
    assert [(e.from_status, e.to_status) for e in events] == [(None, "draft"), ("draft", "ready")]
    assert events[1].by == "clerk-b"
    assert events[1].reason is not None
    assert "case version 2" in events[1].reason


def test_a_failure_in_the_middle_of_intake_writes_nothing(
    database: Database, uow: UnitOfWork, checker: Checker, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(database)
    original = service.t.Determination

    def exploding_determination(**kwargs: Any) -> t.Determination:
        raise RuntimeError("disk full")  # after patient, coverage, case, request and event are flushed

    monkeypatch.setattr(service.t, "Determination", exploding_determination)
    with pytest.raises(RuntimeError, match="disk full"):
        service.intake(case_text(), uow=uow, checker=checker, by=BY)
    assert counts(database) == before
    monkeypatch.setattr(service.t, "Determination", original)
    assert service.intake(case_text(), uow=uow, checker=checker, by=BY).case_version == 1


def test_an_invalid_case_is_refused_before_anything_is_stored(
    database: Database, uow: UnitOfWork, checker: Checker
) -> None:
    with pytest.raises(InvalidInput, match=r"request\.dose_mg"):
        service.intake(
            case_text(request={**load_case_dict("EX-01-meets")["request"], "dose_mg": 30}),
            uow=uow,
            checker=checker,
            by=BY,
        )  # type: ignore[dict-item]
    assert set(counts(database).values()) == {0}


def _race(database: Database, request_id: int, targets: tuple[str, str]) -> list[object]:
    """Two clerks read the same version, then both move the request; returns what each got."""
    barrier = threading.Barrier(2, timeout=20)
    outcomes: list[object] = [None, None]

    class ReadThenWait(UnitOfWork):
        def __enter__(self) -> ReadThenWait:
            super().__enter__()
            load = self.requests.get

            def get(rid: int) -> t.PARequest | None:
                row = load(rid)
                barrier.wait()  # both have read version N before either writes
                return row

            self.requests.get = get  # type: ignore[method-assign]
            return self

    def clerk(index: int) -> None:
        try:
            outcomes[index] = service.transition(
                request_id, targets[index], uow=ReadThenWait(database.sessions), by=f"clerk-{index}"
            ).status
        except PriorAuthError as error:
            outcomes[index] = error

    threads = [threading.Thread(target=clerk, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_clerks_at_once_exactly_one_wins_and_no_event_is_lost(
    database: Database, uow: UnitOfWork, checker: Checker
) -> None:
    request_id = take_in(uow, checker)
    outcomes = _race(database, request_id, ("submitted", "cancelled"))
    winners = [o for o in outcomes if isinstance(o, str)]
    losers = [o for o in outcomes if isinstance(o, StaleVersion)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    detail = service.get_request(request_id, uow=uow)
    assert detail.request.status == winners[0]
    assert detail.request.version == 2
    assert [(e.from_status, e.to_status) for e in detail.events] == [(None, "ready"), ("ready", winners[0])]


def test_a_stale_expected_version_is_refused(uow: UnitOfWork, checker: Checker) -> None:
    request_id = take_in(uow, checker)
    version = service.get_request(request_id, uow=uow).request.version
    service.submit(request_id, uow=uow, channel="fax", by=BY)
    with pytest.raises(StaleVersion, match=f"request {request_id}: version {version} is stale"):
        service.transition(request_id, "cancelled", uow=uow, by=BY, expected_version=version)
    assert service.get_request(request_id, uow=uow).request.status == "submitted"


def test_unknown_ids_and_illegal_moves(uow: UnitOfWork, checker: Checker) -> None:
    with pytest.raises(NotFound, match="request 424242"):
        service.get_request(424242, uow=uow)
    request_id = take_in(uow, checker)
    with pytest.raises(IllegalTransition, match="cannot go from ready to approved"):
        service.transition(request_id, "approved", uow=uow, by=BY)
    with pytest.raises(IllegalTransition):
        service.record_answer(request_id, uow=uow, answer=Denial("no"), by=BY)
    assert len(service.request_history(request_id, uow=uow)) == 1


def test_submit_uses_the_payer_turnaround_and_is_idempotent(uow: UnitOfWork, checker: Checker) -> None:
    add_payer("Example Health Plan", uow=uow, turnaround_days=10, urgent_turnaround_hours=48)
    request_id = take_in(uow, checker)
    first = service.submit(request_id, uow=uow, channel="portal", reference="P-77", by=BY, idempotency_key="k1", at=AT)
    again = service.submit(request_id, uow=uow, channel="portal", reference="P-77", by=BY, idempotency_key="k1")
    assert again == first
    detail = service.get_request(request_id, uow=uow, as_of=AT.date())
    assert len(detail.submissions) == 1
    assert detail.request.status == "submitted"
    assert detail.request.payer_name == "Example Health Plan"
    assert detail.request.due_at == AT + dt.timedelta(days=10)
    assert [e.to_status for e in detail.events] == ["ready", "submitted"]
    with pytest.raises(IllegalTransition):  # without the key, a second submission is a real one: refused
        service.submit(request_id, uow=uow, channel="fax", by=BY)


def test_unknown_payer_gets_the_default_turnaround_and_expedited_the_urgent_one(
    uow: UnitOfWork, checker: Checker
) -> None:
    standard = take_in(uow, checker)
    urgent = take_in(uow, checker, case_text("EX-07-iv-covered"), expedited=True)
    service.submit(standard, uow=uow, channel="fax", by=BY, at=AT)
    service.submit(urgent, uow=uow, channel="fax", by=BY, at=AT)
    assert service.get_request(standard, uow=uow).request.due_at == AT + dt.timedelta(days=14)
    assert service.get_request(urgent, uow=uow).request.due_at == AT + dt.timedelta(hours=72)


def test_an_answer_applied_twice_with_one_key_is_written_once(uow: UnitOfWork, checker: Checker) -> None:
    request_id = take_in(uow, checker)
    service.submit(request_id, uow=uow, channel="fax", by=BY, at=AT)
    approval = Approval("AUTH-1", dt.date(2026, 12, 1), dt.date(2027, 5, 31), 1400, payer_reference="X-1")
    first = service.record_answer(request_id, uow=uow, answer=approval, by="worker", idempotency_key="ans-1", at=AT)
    second = service.record_answer(request_id, uow=uow, answer=approval, by="worker", idempotency_key="ans-1", at=AT)
    assert first.status == second.status == "approved"
    detail = service.get_request(request_id, uow=uow, as_of=AT.date())
    assert len(detail.authorizations) == 1
    assert [e.to_status for e in detail.events] == ["ready", "submitted", "approved"]
    assert detail.events[-1].payer_reference == "X-1"


def test_pended_then_information_sent_restarts_the_clock(uow: UnitOfWork, checker: Checker) -> None:
    request_id = take_in(uow, checker)
    service.submit(request_id, uow=uow, channel="fax", by=BY, at=AT)
    service.record_answer(request_id, uow=uow, answer=Pending("chart notes"), by=BY, at=AT + dt.timedelta(days=3))
    view = service.get_request(request_id, uow=uow).request
    assert view.status == "pended"
    assert view.info_requested == "chart notes"
    later = AT + dt.timedelta(days=5)
    service.submit(request_id, uow=uow, channel="fax", by=BY, at=later)
    view = service.get_request(request_id, uow=uow).request
    assert view.status == "submitted"
    assert view.due_at == later + dt.timedelta(days=14)


def test_units_are_counted_and_capped(uow: UnitOfWork, checker: Checker) -> None:
    request_id = take_in(uow, checker)
    service.submit(request_id, uow=uow, channel="fax", by=BY, at=AT)
    service.record_answer(
        request_id, uow=uow, answer=Approval("A-9", dt.date(2026, 12, 1), dt.date(2027, 11, 30), 100), by=BY, at=AT
    )
    auth = service.use_units(request_id, 79, uow=uow, by=BY, at=AT)
    assert auth.units_used == 79
    assert service.get_request(request_id, uow=uow, as_of=dt.date(2027, 1, 1)).request.status == "approved"
    service.use_units(request_id, 1, uow=uow, by=BY, at=AT)
    assert service.get_request(request_id, uow=uow, as_of=dt.date(2027, 1, 1)).request.status == "expiring"
    with pytest.raises(InvalidInput, match="exceed the 100 authorized"):
        service.use_units(request_id, 21, uow=uow, by=BY, at=AT)
    assert service.get_request(request_id, uow=uow).request.authorization.units_used == 80  # type: ignore[union-attr]


def test_renewal_and_derived_expiry(uow: UnitOfWork, checker: Checker) -> None:
    request_id = take_in(uow, checker)
    service.submit(request_id, uow=uow, channel="fax", by=BY, at=AT)
    first = Approval("A-1", dt.date(2026, 12, 1), dt.date(2027, 2, 28), 500)
    service.record_answer(request_id, uow=uow, answer=first, by=BY, at=AT)
    assert service.list_requests(uow=uow, status="expired", as_of=dt.date(2027, 3, 1))[0].request_id == request_id
    assert service.list_requests(uow=uow, status="approved", as_of=dt.date(2027, 3, 1)) == []
    renewal = Approval("A-2", dt.date(2027, 3, 1), dt.date(2027, 8, 31), 500)
    view = service.record_answer(request_id, uow=uow, answer=renewal, by=BY, at=AT + dt.timedelta(days=100))
    assert view.status == "renewed"
    assert view.authorization is not None
    assert view.authorization.number == "A-2"


def test_a_move_legal_only_from_the_derived_status_records_it_first(uow: UnitOfWork, checker: Checker) -> None:
    request_id = take_in(uow, checker)
    service.submit(request_id, uow=uow, channel="fax", by=BY, at=AT)
    approval = Approval("A-1", dt.date(2026, 12, 1), dt.date(2027, 2, 28), 500)
    service.record_answer(request_id, uow=uow, answer=approval, by=BY, at=AT)
    after_expiry = dt.datetime(2027, 3, 10, tzinfo=dt.UTC)
    service.transition(request_id, "payment_plan", uow=uow, by=BY, reason="patient pays", at=after_expiry)
    events = service.request_history(request_id, uow=uow)
    assert [(e.from_status, e.to_status) for e in events][-2:] == [("approved", "expired"), ("expired", "payment_plan")]


def test_denial_carries_the_appeal_deadline(uow: UnitOfWork, checker: Checker) -> None:
    request_id = take_in(uow, checker)
    service.submit(request_id, uow=uow, channel="fax", by=BY, at=AT)
    view = service.record_answer(request_id, uow=uow, answer=Denial("trial too short"), by=BY, at=AT)
    assert view.status == "denied"
    assert view.denied_on == AT.date()
    assert view.appeal_deadline == AT.date() + dt.timedelta(days=180)
    service.transition(request_id, "appeal_drafted", uow=uow, by=BY)
    service.submit(request_id, uow=uow, channel="fax", by=BY, at=AT)  # sending the appeal
    view = service.get_request(request_id, uow=uow).request
    assert view.status == "appeal_submitted"
    assert view.due_at == AT + dt.timedelta(days=30)


def test_worklist_most_urgent_first(uow: UnitOfWork, checker: Checker) -> None:
    as_of = dt.date(2027, 1, 20)
    ready = take_in(uow, checker)  # ready since AT (2026-11-21)
    overdue = take_in(uow, checker, case_text(case_id="W-overdue"))
    service.submit(overdue, uow=uow, channel="fax", by=BY, at=AT)  # due 2026-12-05
    denied = take_in(uow, checker, case_text(case_id="W-denied"))
    service.submit(denied, uow=uow, channel="fax", by=BY, at=AT)
    service.record_answer(denied, uow=uow, answer=Denial("dose"), by=BY, at=AT)  # appeal by 2027-05-20
    expiring = take_in(uow, checker, case_text(case_id="W-expiring"))
    service.submit(expiring, uow=uow, channel="fax", by=BY, at=AT)
    service.record_answer(
        expiring, uow=uow, answer=Approval("E-1", dt.date(2026, 12, 1), dt.date(2027, 2, 1), 50), by=BY, at=AT
    )
    quiet = take_in(uow, checker, case_text(case_id="W-quiet"))
    service.submit(quiet, uow=uow, channel="fax", by=BY, at=dt.datetime(2027, 1, 19, tzinfo=dt.UTC))  # not yet due

    items = service.worklist(as_of, uow=uow)
    assert [(i.request_id, i.kind) for i in items] == [
        (ready, "ready_to_submit"),
        (overdue, "overdue_answer"),
        (expiring, "expiring"),
        (denied, "appeal_decision"),
    ]
    assert items[3].due == dt.date(2027, 5, 20)


def test_requests_due_for_check_rotate_with_mark_checked(uow: UnitOfWork, checker: Checker) -> None:
    ids = [take_in(uow, checker, case_text(case_id=f"C-{n}")) for n in range(3)]
    for n, request_id in enumerate(ids):
        service.submit(request_id, uow=uow, channel="electronic", by="flow", at=AT - dt.timedelta(days=n))
    due = service.requests_due_for_check(AT, uow=uow, limit=2)
    assert due == [ids[2], ids[1]]  # soonest due first
    service.mark_checked(due, uow=uow, at=AT)
    assert service.requests_due_for_check(AT, uow=uow, limit=10) == [ids[0]]
    assert service.get_request(ids[2], uow=uow).request.version == 2  # a check is not a change


def test_documents_are_stored_with_their_hash(uow: UnitOfWork, checker: Checker) -> None:
    request_id = take_in(uow, checker)
    with pytest.raises(InvalidInput, match="sha256"):
        service.attach_document(request_id, uow=uow, kind="letter", content=b"%PDF", sha256="sha256:" + "0" * 64)
    doc = service.attach_document(request_id, uow=uow, kind="letter", content=b"%PDF-1.7", control_number="ACN-1")
    assert doc.size == 8
    with uow:
        assert uow.requests.document_content(doc.id) == b"%PDF-1.7"
    assert service.get_request(request_id, uow=uow).documents[0].control_number == "ACN-1"


def test_payer_directory(uow: UnitOfWork) -> None:
    payer = add_payer("Acme  Health", uow=uow, turnaround_days=7, urgent_turnaround_hours=24, channel="portal")
    assert get_payer("acme health", uow=uow) == payer
    assert get_payer(str(payer.id), uow=uow) == payer
    with pytest.raises(InvalidInput, match="already in the directory"):
        add_payer("ACME HEALTH", uow=uow, turnaround_days=7, urgent_turnaround_hours=24)
    with pytest.raises(InvalidInput, match="channel"):
        add_payer("Other", uow=uow, turnaround_days=7, urgent_turnaround_hours=24, channel="pigeon")
    with pytest.raises(NotFound):
        get_payer("nobody", uow=uow)


def test_no_phi_in_logs_or_errors(uow: UnitOfWork, checker: Checker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    request_id = take_in(uow, checker)
    messages: list[str] = []
    for attempt in (
        lambda: service.transition(request_id, "approved", uow=uow, by=BY),
        lambda: service.use_units(request_id, 5, uow=uow, by=BY),
        lambda: service.submit(request_id, uow=uow, channel="carrier pigeon", by=BY),
    ):
        with pytest.raises(PriorAuthError) as caught:
            attempt()
        messages.extend(caught.value.lines())
    service.submit(request_id, uow=uow, channel="fax", by=BY)
    text = caplog.text + "\n".join(messages)
    assert "request 1" in text or f"request {request_id}" in text
    for phi in ("Dana", "Whitaker", "1983-05-14", "XEH123456789"):
        assert phi not in text


# --- Review findings: case ids owned by one patient, free text of any length, appeals won,
# the clinic's "today".


def test_a_case_id_taken_by_another_patient_is_refused(database: Database, uow: UnitOfWork, checker: Checker) -> None:
    first = take_in(uow, checker)
    before = counts(database)
    other = copy.deepcopy(load_case_dict("EX-01-meets"))
    other["patient"] = {**other["patient"], "id": "P-2002", "given_name": "Robin", "family_name": "Other"}  # type: ignore[dict-item]
    with pytest.raises(InvalidInput) as refused:
        service.intake(json.dumps(other), uow=uow, checker=checker, by=BY, at=AT)
    assert refused.value.lines() == ["case_id: EX-01-meets is already the case of another patient"]
    for phi in ("Robin", "Other", "Dana", "Whitaker", "P-2002", "P-1001"):
        assert phi not in str(refused.value)
    assert counts(database) == before
    detail = service.get_request(first, uow=uow, as_of=AT.date())
    assert detail.request.patient_id == "P-1001"
    assert len(detail.events) == 1
    # The same patient's next version is still taken in.
    assert service.intake(case_text(), uow=uow, checker=checker, by=BY, at=AT).case_version == 2


def test_free_text_of_any_length_is_stored(uow: UnitOfWork, checker: Checker) -> None:
    data = copy.deepcopy(load_case_dict("EX-01-meets"))
    data["patient"] = {**data["patient"], "id": "P-" + "9" * 100, "given_name": "G" * 300, "family_name": "F" * 300}  # type: ignore[dict-item]
    data["coverage"] = {  # type: ignore[dict-item]
        **data["coverage"],  # type: ignore[dict-item]
        "payer_name": "Payer " * 60,
        "member_id": "M" * 150,
        "group_number": "G" * 150,
    }
    result = service.intake(json.dumps(data), uow=uow, checker=checker, by=BY, at=AT)
    assert service.get_request(result.request_id, uow=uow, as_of=AT.date()).request.patient_id == "P-" + "9" * 100
    with uow:
        patient = uow.patients.by_external_id("P-" + "9" * 100)
        assert patient is not None
        assert patient.given_name == "G" * 300


def _appealed(uow: UnitOfWork, checker: Checker) -> int:
    request_id = take_in(uow, checker)
    service.submit(request_id, uow=uow, channel="fax", by=BY, at=AT)
    service.record_answer(request_id, uow=uow, answer=Denial("trial too short"), by=BY, at=AT)
    service.transition(request_id, "appeal_drafted", uow=uow, by=BY, at=AT)
    service.submit(request_id, uow=uow, channel="fax", by=BY, at=AT)
    return request_id


def test_the_authorization_of_an_appeal_won_is_not_a_renewal(uow: UnitOfWork, checker: Checker) -> None:
    request_id = _appealed(uow, checker)
    service.transition(request_id, "appeal_approved", uow=uow, by=BY, reason="appeal letter", at=AT)
    approval = Approval("AP-1", dt.date(2026, 12, 1), dt.date(2027, 5, 31), 30)
    view = service.record_answer(request_id, uow=uow, answer=approval, by=BY, at=AT)
    assert view.status == view.stored_status == "appeal_approved"
    assert view.authorization is not None
    assert view.authorization.number == "AP-1"
    events = service.request_history(request_id, uow=uow)
    assert "renewed" not in [e.to_status for e in events]
    assert (events[-1].from_status, events[-1].to_status) == ("appeal_approved", "appeal_approved")
    assert events[-1].reason is not None
    assert events[-1].reason.startswith("authorization AP-1")
    # A later approval is the renewal.
    renewal = Approval("AP-2", dt.date(2027, 6, 1), dt.date(2027, 11, 30), 30)
    assert service.record_answer(request_id, uow=uow, answer=renewal, by=BY, at=AT).status == "renewed"


def test_an_approval_recorded_on_the_appeal_lands_on_appeal_approved(uow: UnitOfWork, checker: Checker) -> None:
    request_id = _appealed(uow, checker)
    approval = Approval("AP-1", dt.date(2026, 12, 1), dt.date(2027, 5, 31), 30)
    view = service.record_answer(request_id, uow=uow, answer=approval, by=BY, at=AT)
    assert view.status == "appeal_approved"
    assert view.authorization is not None
    assert view.authorization.number == "AP-1"
    events = service.request_history(request_id, uow=uow)
    assert (events[-1].from_status, events[-1].to_status) == ("appeal_submitted", "appeal_approved")


def test_today_is_the_clinic_s_date(uow: UnitOfWork, checker: Checker, monkeypatch: pytest.MonkeyPatch) -> None:
    from coverage.requests import clocks

    request_id = take_in(uow, checker)
    # 03:00 UTC on 2 December is still 1 December in New York (the default time zone).
    monkeypatch.setattr(clocks, "_now_utc", lambda: dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC))
    assert service.get_request(request_id, uow=uow).request.as_of == dt.date(2026, 12, 1)
    assert service.list_requests(uow=uow)[0].as_of == dt.date(2026, 12, 1)
    monkeypatch.setenv("PRIORAUTH_TIMEZONE", "Asia/Tokyo")
    assert service.get_request(request_id, uow=uow).request.as_of == dt.date(2026, 12, 2)
    # An explicit as_of is kept.
    assert service.get_request(request_id, uow=uow, as_of=dt.date(2027, 1, 1)).request.as_of == dt.date(2027, 1, 1)
