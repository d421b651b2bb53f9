"""The request services: the lifecycle's rules on the in-memory unit of work, and what only a database
does (a failure mid-intake, two clerks at once) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from coverage.errors import IllegalTransition, InvalidInput, NotFound, PriorAuthError, StaleVersion
from coverage.policies.service import Checker
from coverage.requests import model as m
from coverage.requests.clocks import external_review_deadline
from coverage.services import payers
from coverage.services import requests as service
from coverage.services.context import Context
from coverage.store import tables as t
from coverage.store.db import Database
from coverage.store.fake import FakeUnitOfWork
from coverage.store.uow import SqlUnitOfWork, UnitOfWork
from tests.conftest import case_gathered, today

BY = "clerk-a"
CTX = Context()


def text(name: str = "EX-01-meets", **changes: Any) -> str:
    return json.dumps(case_gathered(name, **changes))


def take_in(uow: UnitOfWork, checker: Checker, case: str | None = None, **kwargs: Any) -> int:
    return service.intake(case or text(), uow=uow, checker=checker, ctx=CTX, by=BY, **kwargs).request_id


def show(uow: UnitOfWork, request_id: int) -> dict[str, Any]:
    detail: dict[str, Any] = service.get_request(request_id, uow=uow, ctx=CTX).to_dict()
    return detail


@pytest.fixture
def fake() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def approve(uow: UnitOfWork, request_id: int, *, number: str = "A-1", units: int = 448, **changes: Any) -> Any:
    fields: dict[str, Any] = {"valid_from": today(), "valid_to": today() + dt.timedelta(days=179), **changes}
    answer = service.AnswerInput(decision="approved", auth_number=number, units=units, **fields)
    return service.record_answer(request_id, answer, uow=uow, ctx=CTX, by=BY)


def submit(uow: UnitOfWork, request_id: int, **kwargs: Any) -> service.SubmitResult:
    return service.submit(request_id, uow=uow, ctx=CTX, channel="fax", by=BY, **kwargs)


# --- intake (rules 1 and 6) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [("EX-01-meets", "ready"), ("EX-05-medicare", "not_required"), ("EX-02-iv-not-covered", "draft")],
)
def test_intake_status_follows_today_s_evaluation(
    fake: FakeUnitOfWork, checker: Checker, name: str, status: str
) -> None:
    request_id = take_in(fake, checker, text(name))
    shown = show(fake, request_id)
    assert shown["stored_status"] == status
    assert shown["events"][0]["from"] is None
    criteria = {c["id"]: c["detail"] for c in shown["determination"]["criteria"]}
    assert criteria.get("age", str(today())).endswith(str(today()))  # the age is as of today
    assert shown["course_id"] == 1
    assert shown["kind"] == "initial"


def test_a_case_from_the_future_is_refused(fake: FakeUnitOfWork, checker: Checker) -> None:
    with pytest.raises(InvalidInput, match=r"as_of: .* is after today"):
        take_in(fake, checker, text(gathered=today() + dt.timedelta(days=1)))
    assert fake.courses.rows == []


def test_a_known_case_id_lands_by_rule_6(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker)
    assert take_in(fake, checker) == request_id  # open: amended
    assert show(fake, request_id)["case_versions"] == [1, 2]
    submit(fake, request_id)
    with pytest.raises(IllegalTransition, match=f"request {request_id} is with the payer \\(submitted\\)"):
        take_in(fake, checker)
    approve(fake, request_id)
    with pytest.raises(IllegalTransition, match=f"`priorauth requests continue {request_id}`"):
        take_in(fake, checker)
    continuation = text(request__kind="continuation", request__therapy_start=str(today()))
    later = take_in(fake, checker, continuation)
    assert later != request_id
    shown = show(fake, later)
    assert (shown["kind"], shown["previous_request_id"], shown["course_id"]) == ("continuation", request_id, 1)


def test_a_case_id_taken_by_another_patient_is_refused(fake: FakeUnitOfWork, checker: Checker) -> None:
    take_in(fake, checker)
    other = text(patient={**case_gathered("EX-01-meets")["patient"], "id": "P-2002", "given_name": "Robin"})
    with pytest.raises(InvalidInput) as refused:
        take_in(fake, checker, other)
    assert refused.value.lines() == ["case_id: already the course of another patient"]
    assert "Robin" not in str(refused.value)


def test_an_amend_keeps_the_patient_the_treatment_and_the_payer(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker)
    changed = text(coverage={**case_gathered("EX-01-meets")["coverage"], "policy_id": "strict-commercial"})
    with pytest.raises(InvalidInput, match=r"coverage.policy_id: differs from request"):
        service.amend(request_id, changed, uow=fake, checker=checker, ctx=CTX, by=BY)
    other_course = text(case_id="EX-OTHER")
    with pytest.raises(InvalidInput, match="case_id: differs"):
        service.amend(request_id, other_course, uow=fake, checker=checker, ctx=CTX, by=BY)
    assert show(fake, request_id)["case_versions"] == [1]


def test_an_expedited_reason_is_kept_and_defaults(fake: FakeUnitOfWork, checker: Checker) -> None:
    plain = take_in(fake, checker, expedited=True)
    assert show(fake, plain)["expedited_reason"] == m.DEFAULT_EXPEDITED_REASON
    given = take_in(fake, checker, text("EX-07-iv-covered"), expedited=True, expedited_reason="risk of relapse")
    assert show(fake, given)["expedited_reason"] == "risk of relapse"
    with pytest.raises(InvalidInput, match="--expedited-reason: give it with --expedited"):
        take_in(fake, checker, text("EX-03-subtherapeutic-dose"), expedited_reason="why")


# --- sendings and answers (rules 3 and 7) --------------------------------------------------------


def test_the_sent_on_date_is_checked(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker, json.dumps(case_gathered("EX-01-meets", today() - dt.timedelta(days=3))))
    with pytest.raises(InvalidInput, match=r"--sent-on: .* is in the future"):
        submit(fake, request_id, sent_on=today() + dt.timedelta(days=1))
    with pytest.raises(InvalidInput, match=r"--sent-on: .* is before the case's facts were gathered"):
        submit(fake, request_id, sent_on=today() - dt.timedelta(days=4))
    submit(fake, request_id, sent_on=today() - dt.timedelta(days=3))
    service.record_answer(
        request_id,
        service.AnswerInput(decision="pended", info_requested="PHQ-9", decided_on=today() - dt.timedelta(days=1)),
        uow=fake,
        ctx=CTX,
        by=BY,
    )
    with pytest.raises(InvalidInput, match=r"--sent-on: .* is before the latest sending or answer"):
        submit(fake, request_id, sent_on=today() - dt.timedelta(days=2))


def test_the_decision_date_is_checked(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker, json.dumps(case_gathered("EX-01-meets", today() - dt.timedelta(days=5))))
    submit(fake, request_id, sent_on=today() - dt.timedelta(days=5))
    for decided_on, message in (
        (today() + dt.timedelta(days=1), "is in the future"),
        (today() - dt.timedelta(days=6), "is before the latest sending"),
    ):
        with pytest.raises(InvalidInput, match=rf"--decided-on: .* {message}"):
            service.record_answer(
                request_id,
                service.AnswerInput(decision="denied", reason="no", decided_on=decided_on),
                uow=fake,
                ctx=CTX,
                by=BY,
            )
    with pytest.raises(InvalidInput, match=r"--respond-by: .* is before the decision"):
        service.record_answer(
            request_id,
            service.AnswerInput(decision="pended", info_requested="x", respond_by=today() - dt.timedelta(days=1)),
            uow=fake,
            ctx=CTX,
            by=BY,
        )
    assert show(fake, request_id)["answers"] == []


def test_answers_name_what_they_lack(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker)
    submit(fake, request_id)
    with pytest.raises(InvalidInput) as refused:
        service.record_answer(request_id, service.AnswerInput(decision="approved"), uow=fake, ctx=CTX, by=BY)
    assert refused.value.lines() == [
        "--auth-number: required with --approved",
        "--from: required with --approved",
        "--to: required with --approved",
        "--units: give the authorized units or --sessions (one of the two)",
    ]


def test_sessions_instead_of_units_are_the_code_s_units(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker)
    submit(fake, request_id)
    approve(fake, request_id, units=None, sessions=8)
    assert show(fake, request_id)["authorizations"][0]["units"] == 8 * 56
    iv = take_in(fake, checker, text("EX-07-iv-covered"))
    submit(fake, iv)
    approve(fake, iv, units=None, sessions=6)
    auth = show(fake, iv)["authorizations"][0]
    assert (auth["code"], auth["units"]) == ("96365", 6)


def test_a_modified_answer_changes_the_authorization_and_undo_restores_it(
    fake: FakeUnitOfWork, checker: Checker
) -> None:
    request_id = take_in(fake, checker)
    submit(fake, request_id)
    approve(fake, request_id, number="A-7")
    longer = today() + dt.timedelta(days=269)
    service.record_answer(
        request_id,
        service.AnswerInput(decision="modified", auth_number="A-7", valid_to=longer, units=672),
        uow=fake,
        ctx=CTX,
        by=BY,
    )
    shown = show(fake, request_id)
    assert shown["status"] == "approved"
    assert [(a["number"], a["valid_to"], a["units"]) for a in shown["authorizations"]] == [("A-7", str(longer), 672)]
    assert [a["decision"] for a in shown["answers"]] == ["approved", "modified"]
    with pytest.raises(InvalidInput, match=r"--auth-number: request .*'s authorization is A-7"):
        service.record_answer(
            request_id, service.AnswerInput(decision="modified", auth_number="B-1", units=1), uow=fake, ctx=CTX, by=BY
        )
    service.undo(request_id, "the payer sent it for another patient", uow=fake, ctx=CTX, by=BY)
    auth = show(fake, request_id)["authorizations"][0]
    assert (auth["valid_to"], auth["units"], auth["voided"]) == (str(today() + dt.timedelta(days=179)), 448, False)


def test_an_answer_key_is_applied_once_even_after_an_undo(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker)
    submit(fake, request_id)
    keyed = {"idempotency_key": "answer:SBX-1"}
    assert approve(fake, request_id, **keyed).recorded
    assert not approve(fake, request_id, **keyed).recorded
    service.undo(request_id, "wrong", uow=fake, ctx=CTX, by=BY)
    assert not approve(fake, request_id, **keyed).recorded  # a status check never applies it again
    assert show(fake, request_id)["status"] == "submitted"
    other = take_in(fake, checker, text("EX-07-iv-covered"))
    submit(fake, other)
    with pytest.raises(InvalidInput, match=f"idempotency_key: already applied to request {request_id}"):
        approve(fake, other, **keyed)


def test_a_denial_opens_the_payer_s_appeal_window(fake: FakeUnitOfWork, checker: Checker) -> None:
    payers.add_payer(
        "Example Health Plan", uow=fake, turnaround_days=10, urgent_turnaround_hours=48, appeal_window_days=60,
        fax="555-0100",
    )  # fmt: skip
    request_id = take_in(fake, checker)
    submit(fake, request_id)
    service.record_answer(request_id, service.AnswerInput(decision="denied", reason="no"), uow=fake, ctx=CTX, by=BY)
    assert show(fake, request_id)["appeal_deadline"] == str(today() + dt.timedelta(days=60))
    service.transition(request_id, "appeal_drafted", uow=fake, ctx=CTX, by=BY)
    submit(fake, request_id)
    service.record_answer(request_id, service.AnswerInput(decision="denied", reason="upheld"), uow=fake, ctx=CTX, by=BY)
    shown = show(fake, request_id)
    assert shown["status"] == "appeal_denied"
    assert shown["appeal_deadline"] == str(external_review_deadline(today()))


# --- moves, undo, continue (rules 8 and 11) ------------------------------------------------------


def test_transition_refuses_what_has_its_own_command(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker)
    for status, command in (("submitted", "requests submit"), ("approved", "requests record --approved")):
        with pytest.raises(InvalidInput, match=rf"status: {status} is reached with its own command .*{command}"):
            service.transition(request_id, status, uow=fake, ctx=CTX, by=BY)
    with pytest.raises(InvalidInput, match="status: 'renewed' is not one of"):
        service.transition(request_id, "renewed", uow=fake, ctx=CTX, by=BY)
    with pytest.raises(IllegalTransition, match="is at version"):
        service.transition(request_id, "cancelled", uow=fake, ctx=CTX, by=BY, expected_version=99)


def test_undo_goes_back_to_intake_and_not_past_it(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker)
    submit(fake, request_id)
    service.record_answer(request_id, service.AnswerInput(decision="denied", reason="no"), uow=fake, ctx=CTX, by=BY)
    service.transition(request_id, "appeal_drafted", uow=fake, ctx=CTX, by=BY)
    for expected in ("denied", "submitted", "ready"):
        assert service.undo(request_id, "mistake", uow=fake, ctx=CTX, by=BY).stored_status == expected
    with pytest.raises(IllegalTransition, match="nothing to undo"):
        service.undo(request_id, "mistake", uow=fake, ctx=CTX, by=BY)
    shown = show(fake, request_id)
    assert [e["action"] for e in shown["events"]] == ["intake", "submit", "answer", "move", "undo", "undo", "undo"]
    assert [s["voided"] for s in shown["submissions"]] == [True]
    assert [a["voided"] for a in shown["answers"]] == [True]


def test_an_answer_a_continuation_builds_on_cannot_be_undone(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker)
    submit(fake, request_id)
    approve(fake, request_id)
    later = service.continue_request(request_id, uow=fake, checker=checker, ctx=CTX, by=BY).request_id
    with pytest.raises(IllegalTransition, match="a continuation builds on this answer"):
        service.undo(request_id, "mistake", uow=fake, ctx=CTX, by=BY)
    with pytest.raises(IllegalTransition, match=f"already continued by request {later}"):
        service.continue_request(request_id, uow=fake, checker=checker, ctx=CTX, by=BY)
    service.transition(later, "cancelled", uow=fake, ctx=CTX, by=BY, reason="not needed")
    assert service.undo(request_id, "mistake", uow=fake, ctx=CTX, by=BY).stored_status == "submitted"


def test_a_continuation_starts_after_the_authorization_and_from_its_first_day(
    fake: FakeUnitOfWork, checker: Checker
) -> None:
    request_id = take_in(fake, checker)
    submit(fake, request_id)
    approve(fake, request_id)
    later = service.continue_request(request_id, uow=fake, checker=checker, ctx=CTX, by=BY).request_id
    document = service.case_document(later, uow=fake)
    assert document["request"]["kind"] == "continuation"
    assert document["request"]["therapy_start"] == str(today())
    assert document["request"]["start_date"] == str(today() + dt.timedelta(days=180))
    assert show(fake, later)["documents"] == []
    with pytest.raises(IllegalTransition, match="a continuation follows an approved request"):
        service.continue_request(later, uow=fake, checker=checker, ctx=CTX, by=BY)


def test_a_continuation_waits_for_treatment_to_begin(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker)
    submit(fake, request_id)
    later_start = today() + dt.timedelta(days=14)
    approve(fake, request_id, valid_from=later_start, valid_to=later_start + dt.timedelta(days=89))
    with pytest.raises(IllegalTransition, match=f"authorization starts {later_start} and no session is recorded yet"):
        service.continue_request(request_id, uow=fake, checker=checker, ctx=CTX, by=BY)
    assert [e["action"] for e in show(fake, request_id)["events"]] == ["intake", "submit", "answer"]


def test_a_continuation_whose_units_are_used_up_starts_today(fake: FakeUnitOfWork, checker: Checker) -> None:
    from coverage.services import sessions

    request_id = take_in(fake, checker)
    submit(fake, request_id)
    approve(fake, request_id, units=56)
    sessions.add(request_id, day=today(), uow=fake, ctx=CTX, by=BY, dose_mg=56)
    later = service.continue_request(request_id, uow=fake, checker=checker, ctx=CTX, by=BY).request_id
    document = service.case_document(later, uow=fake)
    assert document["request"]["start_date"] == str(today())
    assert document["request"]["therapy_start"] == str(today())


# --- reading ----------------------------------------------------------------------------------------


def test_unknown_ids(fake: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound, match="request 424242: no such request"):
        service.get_request(424242, uow=fake, ctx=CTX)


def test_list_by_read_status_and_payer(fake: FakeUnitOfWork, checker: Checker) -> None:
    payers.add_payer(
        "Example Health Plan", uow=fake, turnaround_days=10, urgent_turnaround_hours=48, channel="electronic"
    )
    request_id = take_in(fake, checker)
    take_in(fake, checker, text("EX-07-iv-covered"))
    submit(fake, request_id)
    approve(fake, request_id)
    soon = today() + dt.timedelta(days=170)
    assert [v.request_id for v in service.list_requests(uow=fake, ctx=CTX, status="expiring", as_of=soon)] == [
        request_id
    ]
    assert service.list_requests(uow=fake, ctx=CTX, status="approved", as_of=soon) == []
    assert [v.request_id for v in service.list_requests(uow=fake, ctx=CTX, payer="example  HEALTH plan")] == [
        request_id
    ]


def test_no_phi_in_logs_or_errors(fake: FakeUnitOfWork, checker: Checker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    request_id = take_in(fake, checker)
    messages: list[str] = []
    for attempt in (
        lambda: service.transition(request_id, "approved", uow=fake, ctx=CTX, by=BY),
        lambda: service.submit(request_id, uow=fake, ctx=CTX, channel="carrier pigeon", by=BY),
        lambda: take_in(fake, checker, text(patient={**case_gathered("EX-01-meets")["patient"], "id": "P-9"})),
        lambda: service.undo(request_id, "x", uow=fake, ctx=CTX, by=BY),
    ):
        with pytest.raises(PriorAuthError) as caught:
            attempt()
        messages.extend(caught.value.lines())
    submit(fake, request_id)
    logged = caplog.text + "\n".join(messages)
    assert f"request {request_id}" in logged
    for phi in ("Dana", "Whitaker", "1983-05-14", "XEH123456789", "EX-01-meets"):
        assert phi not in logged


def test_text_typed_by_staff_is_bounded_and_clean(fake: FakeUnitOfWork, checker: Checker) -> None:
    request_id = take_in(fake, checker)
    with pytest.raises(InvalidInput, match="--reference: at most 40 characters"):
        submit(fake, request_id, reference="R" * 41)
    with pytest.raises(InvalidInput, match="--by: contains a control character"):
        service.submit(request_id, uow=fake, ctx=CTX, channel="fax", by="clerk\x00")
    with pytest.raises(InvalidInput, match="--reason: contains a control character"):
        service.transition(request_id, "cancelled", uow=fake, ctx=CTX, by=BY, reason="oops\u202e")


# --- what only a database does ---------------------------------------------------------------------


def counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as connection:
        return {
            name: connection.execute(sa.select(sa.func.count()).select_from(t.Base.metadata.tables[name])).scalar_one()
            for name in ("patients", "coverages", "courses", "cases", "pa_requests", "determinations", "status_events")
        }


@pytest.mark.postgres
def test_a_failure_in_the_middle_of_intake_writes_nothing(
    database: Database, uow: UnitOfWork, checker: Checker, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(database)

    def exploding(*args: Any, **kwargs: Any) -> m.Request:
        raise RuntimeError("disk full")  # after patient and coverage are flushed

    monkeypatch.setattr(m.Request, "taken_in", exploding)
    with pytest.raises(RuntimeError, match="disk full"):
        take_in(uow, checker)
    assert counts(database) == before
    monkeypatch.undo()
    assert show(uow, take_in(uow, checker))["case_version"] == 1


@pytest.mark.postgres
def test_two_clerks_at_once_exactly_one_wins_and_no_event_is_lost(
    database: Database, uow: UnitOfWork, checker: Checker
) -> None:
    request_id = take_in(uow, checker)
    barrier = threading.Barrier(2, timeout=20)
    outcomes: list[object] = [None, None]

    class ReadThenWait(SqlUnitOfWork):
        def __enter__(self) -> ReadThenWait:
            super().__enter__()
            load = self.courses.by_request

            def by_request(rid: int) -> m.Course | None:
                course = load(rid)
                barrier.wait()  # both have read version N before either writes
                return course

            self.courses.by_request = by_request  # type: ignore[method-assign]
            return self

    def clerk(index: int, move: str) -> None:
        try:
            uow = ReadThenWait(database.sessions)
            if move == "submit":
                outcomes[index] = service.submit(request_id, uow=uow, ctx=CTX, channel="fax", by="clerk-0").status
            else:
                outcomes[index] = service.transition(request_id, move, uow=uow, ctx=CTX, by="clerk-1").stored_status
        except PriorAuthError as error:
            outcomes[index] = error

    threads = [
        threading.Thread(target=clerk, args=(0, "submit")),
        threading.Thread(target=clerk, args=(1, "cancelled")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [o for o in outcomes if isinstance(o, str)]
    losers = [o for o in outcomes if isinstance(o, StaleVersion)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    shown = show(uow, request_id)
    assert shown["stored_status"] == winners[0]
    assert [(e["from"], e["to"]) for e in shown["events"]] == [(None, "ready"), ("ready", winners[0])]


Rows = dict[int, list[tuple[object, ...]]]


def _work_rows(uow: UnitOfWork) -> tuple[Rows, Rows]:
    """The work rows stored per course, and those the courses give now."""
    from coverage.requests.work import Projection

    def key(r: Any) -> tuple[object, ...]:
        return (r.request_id, r.kind, r.due, r.visible_from, r.visible_until, r.detail)

    w = t.work_items
    stored: Rows = {}
    with uow:
        for row in uow._open.execute(sa.select(w).order_by(w.c.id)):  # type: ignore[attr-defined]
            stored.setdefault(row.course_id, []).append(key(row))
        fresh = {c.id or 0: [key(r) for r in Projection().rows(c)] for c in uow.courses.open_courses()}
    return {k: sorted(v, key=repr) for k, v in stored.items()}, {k: sorted(v, key=repr) for k, v in fresh.items() if v}


@pytest.mark.postgres
def test_the_stored_work_rows_follow_every_change(uow: UnitOfWork, checker: Checker) -> None:
    from coverage.services import sessions
    from coverage.worklist import build

    def check() -> None:
        stored, fresh = _work_rows(uow)
        assert stored == fresh

    request_id = take_in(uow, checker, json.dumps(case_gathered("EX-01-meets", today() - dt.timedelta(days=20))))
    check()
    submit(uow, request_id, sent_on=today() - dt.timedelta(days=20))
    check()
    approve(uow, request_id, units=112)
    check()
    sessions.add(request_id, day=today(), uow=uow, ctx=CTX, by=BY)
    check()  # 56 of 112 units: not yet 80 %
    assert ("expiring", request_id) not in [(i.kind, i.request_id) for i in build(today(), uow=uow, zone="UTC")]
    sessions.add(request_id, day=today(), uow=uow, ctx=CTX, by=BY)
    check()  # all used: expiring, due today
    assert ("expiring", request_id, today()) in [
        (i.kind, i.request_id, i.due) for i in build(today(), uow=uow, zone="UTC")
    ]
    later = service.continue_request(request_id, uow=uow, checker=checker, ctx=CTX, by=BY).request_id
    check()  # the earlier request no longer shows
    assert ("expiring", request_id) not in [(i.kind, i.request_id) for i in build(today(), uow=uow, zone="UTC")]
    service.transition(later, "cancelled", uow=uow, ctx=CTX, by=BY)
    check()
    assert ("expiring", request_id) in [(i.kind, i.request_id) for i in build(today(), uow=uow, zone="UTC")]


@pytest.mark.postgres
def test_other_clock_settings_rebuild_the_work_rows(database: Database, checker: Checker) -> None:
    from coverage.requests.clocks import ClockSettings
    from coverage.requests.work import Projection
    from coverage.worklist import build

    uow = SqlUnitOfWork(database.sessions)
    request_id = take_in(uow, checker)
    submit(uow, request_id)
    approve(uow, request_id)  # ends in 179 days
    assert [i.kind for i in build(today(), uow=uow, zone="UTC")] == []
    warned = SqlUnitOfWork(database.sessions, Projection(ClockSettings(expiry_warning_days=200)))
    assert [i.kind for i in build(today(), uow=warned, zone="UTC")] == ["expiring"]
