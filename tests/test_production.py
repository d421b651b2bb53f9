"""Running for a clinic: exactly one sending under concurrency (sending claims), the records' view of flow
runs (``run_failed`` on the worklist, the attempt cap). On SQLite and PostgreSQL; no Prefect here."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from coverage.payers.gateways import SandboxGateway, SubmissionPacket, SubmissionReceipt
from coverage.services import requests as services
from coverage.services import sending
from coverage.workflow import runs
from coverage.workflow.runtime import WORKFLOW_ACTOR, Runtime
from coverage.worklist import build
from tests.conftest import case_gathered, today

pytestmark = pytest.mark.postgres


def _intake(rt: Runtime, name: str) -> int:
    text = json.dumps(case_gathered(name))
    return services.intake(text, uow=rt.uow(), checker=rt.checker, ctx=rt.ctx, by="test").request_id


class SlowGateway(SandboxGateway):
    """A payer that takes its time to accept a packet (long enough for a second run to arrive)."""

    calls: list[str]
    entered: threading.Event
    leave: threading.Event

    def submit(self, packets: Sequence[SubmissionPacket], *, now: dt.datetime) -> list[SubmissionReceipt]:
        self.calls.extend(p.idempotency_key for p in packets)
        self.entered.set()
        self.leave.wait(10)
        return super().submit(packets, now=now)


def _slow() -> SlowGateway:
    gateway = SlowGateway(delay=dt.timedelta(0), expedited_delay=dt.timedelta(0))
    gateway.calls, gateway.entered, gateway.leave = [], threading.Event(), threading.Event()
    return gateway


def _prepare(rt: Runtime, request_id: int) -> sending.Prepared:
    return sending.prepare(
        request_id,
        uow=rt.uow(),
        checker=rt.checker,
        clinic=rt.clinic,
        store=rt.store,
        ctx=rt.ctx,
        by=WORKFLOW_ACTOR,
        gateway_for=rt.gateway,
    )


def _submit(rt: Runtime, prepared: sending.Prepared, gateway: SandboxGateway, claimant: str) -> sending.Prepared:
    return sending.submit_electronically(
        prepared, uow=rt.uow(), ctx=rt.ctx, by=WORKFLOW_ACTOR, gateway_for=lambda _: gateway, claimant=claimant
    )


def test_two_overlapping_runs_for_one_request_send_it_once(workflow_runtime: Runtime) -> None:
    """Both runs prepared the request; while the first is at the gateway, the second finds it claimed."""
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    first, second = _prepare(rt, request_id), _prepare(rt, request_id)
    assert first.state == second.state == "ready"
    gateway = _slow()
    results: dict[str, sending.Prepared] = {}
    thread = threading.Thread(target=lambda: results.update(a=_submit(rt, first, gateway, "flow-run:a")))
    thread.start()
    assert gateway.entered.wait(10)
    results["b"] = _submit(rt, second, gateway, "flow-run:b")  # while run a is at the gateway
    gateway.leave.set()
    thread.join(20)
    assert results["a"].state == "submitted"
    assert results["b"].state == "busy"
    assert gateway.calls == [f"submit:{request_id}:1"]
    # After run a recorded the sending, a late run finds the request moved: still nothing sent.
    late = _submit(rt, second, gateway, "flow-run:c")
    assert late.state == "not_sendable"
    assert gateway.calls == [f"submit:{request_id}:1"]
    detail = services.get_request(request_id, uow=rt.uow(), ctx=rt.ctx)
    assert len(detail.submissions) == 1


def test_many_concurrent_runs_send_once(workflow_runtime: Runtime) -> None:
    """Eight runs at once, released together at the gateway: one call, one submission."""
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    prepared = [_prepare(rt, request_id) for _ in range(8)]
    gateway = _slow()
    gateway.leave.set()
    start = threading.Barrier(len(prepared))
    states: list[str] = []

    def one(index: int) -> None:
        start.wait()
        states.append(_submit(rt, prepared[index], gateway, f"flow-run:{index}").state)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(prepared))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert gateway.calls == [f"submit:{request_id}:1"]
    assert sorted(states).count("submitted") == 1
    assert set(states) <= {"submitted", "busy", "not_sendable"}
    assert len(services.get_request(request_id, uow=rt.uow(), ctx=rt.ctx).submissions) == 1


def test_a_dead_run_s_claim_is_taken_back_by_the_same_run_and_after_a_while_by_another(
    workflow_runtime: Runtime,
) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    prepared = _prepare(rt, request_id)
    now = rt.ctx.when().now
    assert sending.claim(request_id, uow=rt.uow(), version=prepared.version, sending=1, claimant="flow-run:a", at=now)
    # The run died holding its claim: another run is refused, the same run (re-run after the crash) is not.
    assert not sending.claim(
        request_id, uow=rt.uow(), version=prepared.version, sending=1, claimant="flow-run:b", at=now
    )
    assert sending.claim(request_id, uow=rt.uow(), version=prepared.version, sending=1, claimant="flow-run:a", at=now)
    later = now + sending.CLAIM_STALE + dt.timedelta(seconds=1)
    assert sending.claim(request_id, uow=rt.uow(), version=prepared.version, sending=1, claimant="flow-run:b", at=later)
    # A claim on a version someone changed since is refused.
    assert not sending.claim(
        request_id, uow=rt.uow(), version=(prepared.version or 0) - 1, sending=1, claimant="flow-run:b", at=later
    )


def test_a_failed_or_crashed_run_of_a_request_is_on_the_worklist_until_a_run_completes(
    workflow_runtime: Runtime,
) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    runs.begin("run-1", "prior-authorization", request_id, rt=rt)
    runs.begin("batch-1", "check-status", None, rt=rt)
    assert [
        i for i in build(today(), uow=rt.uow(), zone=rt.ctx.timezone) if i.kind == "run_failed"
    ] == []  # running, not stale
    runs.end("run-1", "crashed", rt=rt, reason=runs.reason_of("Flow run encountered an exception: ConnectionError: x"))
    runs.end("batch-1", "failed", rt=rt)
    (item,) = [i for i in build(today(), uow=rt.uow(), zone=rt.ctx.timezone) if i.kind == "run_failed"]
    assert item.request_id == request_id
    assert item.due == today()
    assert item.detail.startswith("prior-authorization run crashed (ConnectionError) at ")
    ended = dt.datetime.now(ZoneInfo(rt.ctx.timezone))  # shown in the clinic's time, not UTC
    assert f"{ended:%Z}, attempt 1 (Prefect run run-1)" in item.detail
    assert rt.ctx.timezone != "UTC"
    assert "UTC" not in item.detail
    runs.begin("run-2", "prior-authorization", request_id, rt=rt)
    runs.end("run-2", "completed", rt=rt)
    assert [i for i in build(today(), uow=rt.uow(), zone=rt.ctx.timezone) if i.kind == "run_failed"] == []


def test_a_run_started_too_often_is_given_up(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    for attempt in range(1, runs.MAX_ATTEMPTS + 1):
        assert runs.begin("run-x", "prior-authorization", request_id, rt=rt) == attempt
    with pytest.raises(runs.RunGivenUp, match="given up after 3 attempts"):
        runs.begin("run-x", "prior-authorization", request_id, rt=rt)


def test_reasons_are_error_types_never_messages() -> None:
    assert runs.reason_of("Flow run encountered an exception: StorageError: the database refused") == "StorageError"
    assert runs.reason_of("Jane Doe, born 1980-01-01") is None
    assert runs.reason_of(None) is None


def test_a_batch_of_payer_answers_is_applied_in_one_unit_of_work(workflow_runtime: Runtime) -> None:
    from sqlalchemy import event

    from coverage.workflow import exchange

    rt = workflow_runtime
    ids = [_intake(rt, name) for name in ("EX-01-meets", "EX-07-iv-covered", "EX-04-missing-docs")]
    rt.electronic = SandboxGateway(delay=dt.timedelta(0), expedited_delay=dt.timedelta(0), weights={"approve": 1})
    for request_id in ids:
        prepared = _prepare(rt, request_id)
        if prepared.state == "ready":
            _submit(rt, prepared, rt.electronic, "test")  # type: ignore[arg-type]  # a sandbox gateway
    sent = [i for i in ids if services.get_request(i, uow=rt.uow(), ctx=rt.ctx).submissions]
    assert len(sent) >= 2
    commits: list[object] = []
    updates: list[str] = []

    def count(connection: object) -> None:
        commits.append(connection)

    def statement(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        if sql.lstrip().upper().startswith("UPDATE"):
            updates.append(sql.split()[1])

    event.listen(rt.database.engine, "commit", count)
    event.listen(rt.database.engine, "before_cursor_execute", statement)
    try:
        outcome = exchange.check_requests(ids, rt=rt, by=WORKFLOW_ACTOR)
    finally:
        event.remove(rt.database.engine, "commit", count)
        event.remove(rt.database.engine, "before_cursor_execute", statement)
    assert sorted(outcome.checked) == sorted(sent)
    assert sorted(outcome.decided) == sorted(sent)
    assert len(commits) == 1  # the answers, their events and work rows, and the check: one commit
    # Not one UPDATE per request: the courses, the requests (versions checked), the check's time.
    assert sorted(updates) == ["courses", "pa_requests", "pa_requests"]


# --- Status checks in batches: the same lifecycle as one answer at a time, and no half-written batch.


def _sent(rt: Runtime, suffix: str = "") -> list[int]:
    """Requests taken in from the samples (case ids ending in ``suffix``) and sent to the payer."""
    ids = []
    for name in ("EX-01-meets", "EX-07-iv-covered", "EX-05-medicare"):
        text = json.dumps(case_gathered(name, case_id=f"{name}{suffix}"))
        ids.append(services.intake(text, uow=rt.uow(), checker=rt.checker, ctx=rt.ctx, by="test").request_id)
    for request_id in ids:
        prepared = _prepare(rt, request_id)
        if prepared.state == "ready":
            _submit(rt, prepared, rt.electronic, "test")  # type: ignore[arg-type]  # a sandbox gateway
    return [i for i in ids if services.get_request(i, uow=rt.uow(), ctx=rt.ctx).submissions]


def _trail(rt: Runtime, request_id: int, since: dt.datetime) -> tuple[object, ...]:
    """A request's status, versions, and the events, answers and authorizations since ``since``; the
    payer's numbers for it (which the sandbox derives from the request's id) written as names."""
    with rt.uow() as uow:
        course = uow.courses.by_request(request_id)
        assert course is not None
        r = course.request(request_id)
        names = {a.reference: "REF" for a in r.answers if a.reference}
        names |= {a.authorization_number: "AUTH" for a in r.answers if a.authorization_number}

        def plain(value: object) -> object:
            if isinstance(value, str):
                for raw, name in names.items():
                    value = value.replace(raw, name)
            return value

        events = [
            tuple(plain(v) for v in (e.action, e.from_status, e.to_status, e.at, e.by, e.reason, e.payer_reference))
            for e in r.events
            if e.at >= since
        ]
        answers = [
            tuple(plain(v) for v in (a.decision, a.decided_on, a.reference, a.reason, a.info_requested, a.units))
            for a in r.answers
        ]
        grants = [(plain(a.number), a.valid_from, a.valid_to, a.units_authorized) for a in r.authorizations]
        return (r.stored_status, r.version, course.version, r.due_at, events, answers, grants)


def test_a_batch_of_answers_leaves_the_same_trail_as_one_answer_at_a_time(
    workflow_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coverage.errors import StaleVersion
    from coverage.workflow import exchange

    rt = workflow_runtime
    batch, single = _sent(rt), _sent(rt, "-twin")
    assert len(batch) == len(single) >= 2
    scenarios = ("approve", "pend_then_approve", "deny_documentation")
    rt.electronic = SandboxGateway(
        delay=dt.timedelta(0),
        expedited_delay=dt.timedelta(0),
        scenarios={i: s for ids in (batch, single) for i, s in zip(ids, scenarios, strict=False)},
    )
    now = rt.ctx.when().now
    first = exchange.check_requests(batch, rt=rt, by=WORKFLOW_ACTOR, now=now)

    def refused(*_: object, **__: object) -> None:
        raise StaleVersion("a clerk changed one of them meanwhile")

    with monkeypatch.context() as patch:  # the batch's own path refused: each answer in a unit of work of its own
        patch.setattr(exchange.services, "apply_answers", refused)
        second = exchange.check_requests(single, rt=rt, by=WORKFLOW_ACTOR, now=now)
    assert sorted(first.decided.values()) == sorted(second.decided.values())
    assert len(first.pended) == len(second.pended) >= 1
    for a, b in zip(batch, single, strict=True):
        assert _trail(rt, a, now) == _trail(rt, b, now)
        assert len(_trail(rt, a, now)[4]) == 1  # type: ignore[arg-type]  # the answer's own event


def test_a_batch_load_holds_every_part_of_its_courses(workflow_runtime: Runtime) -> None:
    """``by_requests`` loads what loading each course on its own loads (same parts, same order), and
    the evaluations' results and the events too: reading them afterwards sends no query."""
    from sqlalchemy import event

    from coverage.workflow import exchange

    rt = workflow_runtime
    ids = _sent(rt)
    assert len(ids) >= 2
    rt.electronic = SandboxGateway(delay=dt.timedelta(0), expedited_delay=dt.timedelta(0), weights={"approve": 1})
    exchange.check_requests(ids, rt=rt, by=WORKFLOW_ACTOR)  # answers, authorizations, events
    parts = ("case_versions", "evaluations", "submissions", "answers", "authorizations", "send_tasks", "signoffs")

    def picture(course: Any) -> tuple[object, ...]:
        requests = [
            (r.id, r.version, [[p.id for p in getattr(r, part)] for part in (*parts, "events")])
            for r in course.requests
        ]
        results = [e.result for r in course.requests for e in r.evaluations]
        return (course.id, course.version, [s.id for s in course.sessions], requests, results)

    with rt.uow() as uow:
        one_by_one = {i: picture(uow.courses.by_request(i)) for i in ids}
    queries: list[str] = []

    def statement(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        queries.append(sql)

    with rt.uow() as uow:
        courses = uow.courses.by_requests([*ids, 10**9])  # an unknown id: left out
        assert sorted(courses) == sorted(ids)
        event.listen(rt.database.engine, "before_cursor_execute", statement)
        try:
            batch = {i: picture(courses[i]) for i in ids}
        finally:
            event.remove(rt.database.engine, "before_cursor_execute", statement)
    assert queries == []  # every part was loaded with the batch
    assert batch == one_by_one
    assert all(request[2][3] for picture_ in batch.values() for request in picture_[3])  # the answers are there


class MeanwhileGateway(SandboxGateway):
    """A payer asked while a clerk records, by hand, the answer of one of the batch's requests."""

    clerk: Runtime
    target: int

    def inquire(self, inquiries: Sequence[object], *, now: dt.datetime) -> list[object]:  # type: ignore[override]
        answers = super().inquire(inquiries, now=now)  # type: ignore[arg-type]  # StatusInquiry
        by_hand = services.AnswerInput(decision="denied", reason="clerk: denied by phone", reference="PHONE-1")
        services.record_answer(self.target, by_hand, uow=self.clerk.uow(), ctx=self.clerk.ctx, by="clerk")
        return answers  # type: ignore[return-value]  # PayerAnswer


def test_a_request_changed_during_a_batch_loses_no_other_answer_and_writes_nothing_twice(
    workflow_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import func, select

    from coverage.store import tables as t
    from coverage.workflow import exchange

    rt = workflow_runtime
    ids = _sent(rt)
    assert len(ids) >= 2
    gateway = MeanwhileGateway(delay=dt.timedelta(0), expedited_delay=dt.timedelta(0), weights={"approve": 1})
    gateway.clerk, gateway.target = rt, ids[0]
    rt.electronic = gateway
    one_by_one = services.record_answers_one_by_one
    fell_back: list[int] = []

    def each(answers: Sequence[tuple[int, services.AnswerInput]], **kwargs: Any) -> list[services.BatchAnswer]:
        fell_back.extend(i for i, _ in answers)
        return one_by_one(answers, **kwargs)

    monkeypatch.setattr(exchange.services, "record_answers_one_by_one", each)
    outcome = exchange.check_requests(ids, rt=rt, by=WORKFLOW_ACTOR)
    # The batch's versioned UPDATE met the clerk's change: the batch rolled back, then each answer on its own.
    assert sorted(fell_back) == sorted(ids)
    assert ids[0] in outcome.skipped  # then each answer on its own: the clerk's answer stands
    assert sorted(outcome.decided) == sorted(ids[1:])
    assert set(outcome.decided.values()) == {"approved"}
    first = services.get_request(ids[0], uow=rt.uow(), ctx=rt.ctx)
    assert first.request.status == "denied"
    with rt.database.engine.connect() as connection:
        per_request = dict(
            connection.execute(
                select(t.answers.c.request_id, func.count())
                .where(t.answers.c.request_id.in_(ids))
                .group_by(t.answers.c.request_id)
            ).all()
        )
    assert per_request == dict.fromkeys(ids, 1)  # one answer each: none lost, none written twice
