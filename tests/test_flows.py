"""The Prefect flows' happy paths, under one test harness for the whole run (see conftest)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from flows import fallback, intake, prior_authorization, renewals, status

from coverage.cli.demo import dated_samples
from coverage.payers.gateways import SandboxGateway, SubmissionPacket, SubmissionReceipt
from coverage.services import requests as services
from coverage.workflow.runtime import Runtime
from tests.conftest import today

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.usefixtures("prefect_harness"),
    # Prefect 3.9's API clients leave keep-alive sockets to the test server for the garbage
    # collector; they are Prefect's, closed at exit, and not a leak of ours.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


Run = Callable[[Coroutine[Any, Any, Any]], Any]


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    """One event loop for every flow of the module: Prefect's API clients live with their loop."""
    with asyncio.Runner() as runner:
        yield runner.run


def _statuses(rt: Runtime) -> dict[str, str]:
    return {v.case_id: v.stored_status for v in services.list_requests(uow=rt.uow(), ctx=rt.ctx)}


def _ids(rt: Runtime) -> dict[str, int]:
    return {v.case_id: v.request_id for v in services.list_requests(uow=rt.uow(), ctx=rt.ctx)}


def _kinds(rt: Runtime, request_id: int) -> list[str]:
    return [d.kind for d in services.get_request(request_id, uow=rt.uow(), ctx=rt.ctx).documents]


def test_intake_send_check_fall_back_renew(workflow_runtime: Runtime, run: Run, tmp_path: Path) -> None:
    rt = workflow_runtime
    samples = dated_samples(tmp_path / "samples", today())
    taken = run(intake.intake_batch(str(samples), batch_size=3))
    assert taken == {"cases": 8, "taken": 8, "refused": 0}  # counts only
    ids = _ids(rt)
    assert _statuses(rt)["EX-01-meets"] == "ready"
    rt.electronic = SandboxGateway(
        delay=dt.timedelta(0), scenarios={ids["EX-01-meets"]: "approve", ids["EX-07-iv-covered"]: "deny_documentation"}
    )

    for case in ("EX-01-meets", "EX-07-iv-covered"):
        sent = run(prior_authorization.prior_authorization(ids[case]))
        assert sent["state"] == "submitted"
        assert len(sent["documents"]) == 2  # type: ignore[arg-type]  # letter and packet: no fax cover
    again = run(prior_authorization.prior_authorization(ids["EX-01-meets"]))
    assert again["state"] == "not_sendable"  # already sent: nothing twice

    totals = run(status.check_status(recheck_minutes=0, batch_size=1))
    assert totals["checked"] == 2
    assert totals["approved"] == 1
    assert totals["denied"] == 1
    assert totals["appeals"] == 1
    assert _statuses(rt)["EX-01-meets"] == "approved"
    assert _statuses(rt)["EX-07-iv-covered"] == "appeal_drafted"
    assert "decision-notice" in _kinds(rt, ids["EX-01-meets"])

    fell = run(fallback.denial_fallback(ids["EX-02-iv-not-covered"]))
    assert fell["status"] == "payment_plan"
    assert fell["alternative_treatment"] == "esketamine"

    renewed = run(renewals.renewals(as_of=today() + dt.timedelta(days=170)))
    assert renewed == {"due": 1, "drafted": 1}


def test_a_fax_payer_s_request_waits_for_a_person_and_a_sign_off_stops_the_run(
    workflow_runtime: Runtime, run: Run, tmp_path: Path
) -> None:
    rt = workflow_runtime
    rt.all_electronic = False  # the manual gateway: fax payers are sent by a person
    samples = dated_samples(tmp_path / "samples", today())
    run(intake.intake_batch(str(samples)))
    ids = _ids(rt)
    waiting = run(prior_authorization.prior_authorization(ids["EX-01-meets"]))
    assert (waiting["state"], waiting["status"]) == ("send_task", "ready")
    detail = services.get_request(ids["EX-01-meets"], uow=rt.uow(), ctx=rt.ctx)
    assert detail.submissions == ()
    assert detail.request.send_task is not None
    assert "STAFF-" not in repr(detail)

    paused = run(prior_authorization.prior_authorization(ids["EX-07-iv-covered"], sign_off=True))
    assert paused["state"] == "signoff_pending"
    services.signoff(ids["EX-07-iv-covered"], approve=True, uow=rt.uow(), ctx=rt.ctx, by="dr")
    resumed = run(prior_authorization.prior_authorization(ids["EX-07-iv-covered"]))
    assert resumed["state"] == "send_task"


class FlakyAfterSend(SandboxGateway):
    """Accepts the first batch, then fails before the answer reaches us; fine afterwards."""

    keys: list[str]

    def submit(self, packets: Sequence[SubmissionPacket], *, now: dt.datetime) -> list[SubmissionReceipt]:
        self.keys.extend(p.idempotency_key for p in packets)
        receipts = super().submit(packets, now=now)
        if len(self.keys) == 1:
            raise ConnectionError("connection reset")
        return receipts


def test_a_crashed_submit_task_retried_by_prefect_submits_once(
    workflow_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, run: Run, tmp_path: Path
) -> None:
    rt = workflow_runtime
    run(intake.intake_batch(str(dated_samples(tmp_path / "samples", today()))))
    request_id = _ids(rt)["EX-01-meets"]
    flaky = FlakyAfterSend(delay=dt.timedelta(0))
    flaky.keys = []
    rt.electronic = flaky
    monkeypatch.setattr(
        prior_authorization,
        "submit_to_payer",
        prior_authorization.submit_to_payer.with_options(retry_delay_seconds=0),
    )
    result = run(prior_authorization.prior_authorization(request_id))
    assert result["state"] == "submitted"
    assert flaky.keys == [f"submit:{request_id}:1"] * 2
    submissions = services.get_request(request_id, uow=rt.uow(), ctx=rt.ctx).submissions
    assert len(submissions) == 1


def test_intake_batch_fails_when_a_case_is_refused_with_counts_only(
    workflow_runtime: Runtime, run: Run, tmp_path: Path
) -> None:
    samples = dated_samples(tmp_path / "samples", today())
    (samples / "zz-broken.json").write_text('{"case_id": "X"}')
    state = run(intake.intake_batch(str(samples), return_state=True))
    assert state.is_failed()
    assert state.message == "1 of 9 cases refused; their positions are in the run's logs"
    assert len(_ids(workflow_runtime)) == 8  # the others were taken in


def test_a_failed_run_of_a_request_shows_on_the_worklist(workflow_runtime: Runtime, run: Run, tmp_path: Path) -> None:
    from coverage.worklist import build

    rt = workflow_runtime
    run(intake.intake_batch(str(dated_samples(tmp_path / "samples", today()))))
    request_id = _ids(rt)["EX-01-meets"]

    class Down(SandboxGateway):
        def submit(self, packets: Sequence[SubmissionPacket], *, now: dt.datetime) -> list[SubmissionReceipt]:
            raise ConnectionError("the payer's gateway is down")

    rt.electronic = Down(delay=dt.timedelta(0))
    state = run(
        prior_authorization.prior_authorization.with_options(retries=0)(request_id, return_state=True)  # type: ignore[call-overload]
    )
    assert state.is_failed()
    (item,) = [i for i in build(today(), uow=rt.uow(), zone=rt.ctx.timezone) if i.kind == "run_failed"]
    assert item.request_id == request_id
    assert item.detail.startswith("prior-authorization run failed (ConnectionError) at ")
    # Nothing pickled to Prefect's local result storage: not the result, not the exception.
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

    storage = Path(PREFECT_LOCAL_STORAGE_PATH.value())
    assert not storage.exists() or not any(p.is_file() for p in storage.rglob("*"))


def test_coverage_log_lines_reach_the_run_s_logs_in_prefect(
    workflow_runtime: Runtime, run: Run, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    rt = workflow_runtime
    run(intake.intake_batch(str(dated_samples(tmp_path / "samples", today()))))
    request_id = _ids(rt)["EX-01-meets"]
    state = run(prior_authorization.prior_authorization(request_id, return_state=True))  # type: ignore[call-overload]
    assert state.is_completed()
    APILogWorker.drain_all()

    async def messages() -> list[str]:
        async with get_client() as client:
            found = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))
            )
        return [f"{log.name}: {log.message}" for log in found]

    lines = run(messages())
    assert f"coverage.services.sending: request {request_id}: submitted electronically (sending 1)" in lines


def _read_only_memory() -> str:
    """An fsspec protocol that reads but refuses every write (a store mounted read-only, a bucket without
    write permission): registered for the test, its URL returned."""
    import fsspec
    from fsspec.implementations.memory import MemoryFileSystem

    class ReadOnlyMemory(MemoryFileSystem):  # type: ignore[misc]  # fsspec ships no type information
        protocol = "readonly-test"

        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            if "r" not in mode:
                raise PermissionError(path)
            return super()._open(path, mode, **kwargs)

    fsspec.register_implementation("readonly-test", ReadOnlyMemory, clobber=True)
    return "readonly-test://documents"


@pytest.mark.parametrize("where", ["local", "fsspec"])
def test_a_run_on_a_host_whose_document_store_is_not_writable_fails_with_one_line(
    database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch, run: Run, tmp_path: Path, where: str
) -> None:
    """The worker-side start check (every flow's first step): nothing is worked on, one line names the store."""
    from coverage.workflow.runtime import use_runtime

    if where == "local":
        (tmp_path / "a-file").write_text("")
        location, error = str(tmp_path / "a-file" / "documents"), "NotADirectoryError"
    else:
        location, error = _read_only_memory(), "PermissionError"
    monkeypatch.setenv("PRIORAUTH_DATABASE_URL", database_url)
    monkeypatch.setenv("PRIORAUTH_DOCUMENTS_URL", location)
    use_runtime(None)
    try:
        state = run(status.check_status(return_state=True))  # type: ignore[call-overload]
    finally:
        use_runtime(None)
    assert state.is_failed()
    assert state.message == (
        f"StorageError: PRIORAUTH_DOCUMENTS_URL: the document store at {location} is not writable ({error})"
    )


def test_a_run_that_fails_before_its_runtime_is_built_still_shows_on_the_worklist(
    workflow_runtime: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch, run: Run, tmp_path: Path
) -> None:
    """A document store that is not writable stops the run at its start; the start and the failure are
    still noted with the records database alone, so the request shows as run_failed."""
    from coverage.workflow.runtime import use_runtime
    from coverage.worklist import build

    rt = workflow_runtime
    run(intake.intake_batch(str(dated_samples(tmp_path / "samples", today()))))
    request_id = _ids(rt)["EX-01-meets"]
    monkeypatch.setenv("PRIORAUTH_DATABASE_URL", database_url)
    monkeypatch.setenv("PRIORAUTH_DOCUMENTS_URL", "/proc/nope/documents")
    use_runtime(None)
    try:
        state = run(prior_authorization.prior_authorization(request_id, return_state=True))  # type: ignore[call-overload]
    finally:
        use_runtime(rt)
    assert state.is_failed()
    assert state.message.startswith("StorageError: PRIORAUTH_DOCUMENTS_URL: the document store at /proc/nope/documents")
    (item,) = [i for i in build(today(), uow=rt.uow(), zone=rt.ctx.timezone) if i.kind == "run_failed"]
    assert item.request_id == request_id
    assert item.detail.startswith("prior-authorization run failed (StorageError) at ")
    assert "attempt 1 " in item.detail
    assert _statuses(rt)["EX-01-meets"] == "ready"  # nothing worked on
