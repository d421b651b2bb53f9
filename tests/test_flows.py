"""The Prefect flows' happy paths, under one test harness for the whole run (see conftest)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

import pytest
from flows import fallback, intake, prior_authorization, renewals, status

from coverage.payers.gateways import SandboxGateway, SubmissionPacket, SubmissionReceipt
from coverage.requests import service as requests
from coverage.workflow.runtime import Runtime
from tests.conftest import SAMPLE_CASES

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
    return {v.case_id: v.stored_status for v in requests.list_requests(uow=rt.uow())}


def _ids(rt: Runtime) -> dict[str, int]:
    return {v.case_id: v.request_id for v in requests.list_requests(uow=rt.uow())}


def test_intake_send_check_fall_back_renew(workflow_runtime: Runtime, run: Run) -> None:
    rt = workflow_runtime
    taken = run(intake.intake_batch(str(SAMPLE_CASES), batch_size=3))
    assert taken["cases"] == 8
    assert taken["invalid_positions"] == []
    ids = _ids(rt)
    assert _statuses(rt)["EX-01-meets"] == "ready"
    rt.electronic = SandboxGateway(
        delay=dt.timedelta(0), scenarios={ids["EX-01-meets"]: "approve", ids["EX-07-iv-covered"]: "deny_documentation"}
    )

    for case in ("EX-01-meets", "EX-07-iv-covered"):
        sent = run(prior_authorization.prior_authorization(ids[case]))
        assert sent["submitted"] is True
        assert len(sent["documents"]) == 3  # type: ignore[arg-type]
    again = run(prior_authorization.prior_authorization(ids["EX-01-meets"]))
    assert again["submitted"] is False  # already sent: nothing twice

    totals = run(status.check_status(recheck_minutes=0, batch_size=1))
    assert totals["checked"] == 2
    assert totals["approved"] == 1
    assert totals["denied"] == 1
    assert totals["appeals"] == 1
    assert _statuses(rt)["EX-01-meets"] == "approved"
    assert _statuses(rt)["EX-07-iv-covered"] == "appeal_drafted"
    kinds = [d.kind for d in requests.get_request(ids["EX-01-meets"], uow=rt.uow()).documents]
    assert "decision-notice" in kinds

    fell = run(fallback.denial_fallback(ids["EX-02-iv-not-covered"]))
    assert fell["status"] == "payment_plan"
    assert fell["alternative_treatment"] == "esketamine"

    renewed = run(renewals.renewals(as_of=dt.datetime.now(dt.UTC).date() + dt.timedelta(days=170)))
    assert renewed == {"due": 1, "drafted": 1}


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
    workflow_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    rt = workflow_runtime
    run(intake.intake_batch(str(SAMPLE_CASES)))
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
    assert result["submitted"] is True
    assert flaky.keys == [f"submit:{request_id}:1"] * 2
    submissions = requests.get_request(request_id, uow=rt.uow()).submissions
    assert [s.idempotency_key for s in submissions] == [f"submit:{request_id}:1"]
