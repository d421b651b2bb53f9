"""Running for a clinic: exactly one sending under concurrency (sending claims), the records' view of flow
runs (``run_failed`` on the worklist, the attempt cap). On SQLite and PostgreSQL; no Prefect here."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence

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
    assert [i for i in build(today(), uow=rt.uow()) if i.kind == "run_failed"] == []  # running, not stale
    runs.end("run-1", "crashed", rt=rt, reason=runs.reason_of("Flow run encountered an exception: ConnectionError: x"))
    runs.end("batch-1", "failed", rt=rt)
    (item,) = [i for i in build(today(), uow=rt.uow()) if i.kind == "run_failed"]
    assert item.request_id == request_id
    assert item.due == today()
    assert item.detail.startswith("prior-authorization run crashed (ConnectionError) at ")
    assert "UTC, attempt 1 (Prefect run run-1)" in item.detail
    runs.begin("run-2", "prior-authorization", request_id, rt=rt)
    runs.end("run-2", "completed", rt=rt)
    assert [i for i in build(today(), uow=rt.uow()) if i.kind == "run_failed"] == []


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

    def count(connection: object) -> None:
        commits.append(connection)

    event.listen(rt.database.engine, "commit", count)
    try:
        outcome = exchange.check_requests(ids, rt=rt, by=WORKFLOW_ACTOR)
    finally:
        event.remove(rt.database.engine, "commit", count)
    assert sorted(outcome.checked) == sorted(sent)
    assert sorted(outcome.decided) == sorted(sent)
    assert len(commits) == 1  # the answers, their events and work rows, and the check: one commit
