"""Workflow services on a real database (SQLite, and PostgreSQL when configured): no Prefect here."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from coverage.payers.gateways import SandboxGateway, Scenario, SubmissionPacket, SubmissionReceipt
from coverage.requests import service as requests
from coverage.requests.answers import Approval, Denial
from coverage.workflow import denials, exchange, intake, prepare, renewals, selfpay
from coverage.workflow.runtime import WORKFLOW_ACTOR, Runtime
from tests.conftest import SAMPLE_CASES, load_case_dict

pytestmark = pytest.mark.postgres


def _intake(rt: Runtime, name: str, **changes: object) -> int:
    data = load_case_dict(name)
    data.update(changes)
    return requests.intake(json.dumps(data), uow=rt.uow(), checker=rt.checker, by="test").request_id


def _sandbox(scenarios: dict[int, Scenario]) -> SandboxGateway:
    return SandboxGateway(delay=dt.timedelta(0), expedited_delay=dt.timedelta(0), scenarios=scenarios)


class CrashAfterSend(SandboxGateway):
    """The payer accepts the packets, then the connection drops before we hear back."""

    sent: list[str]

    def submit(self, packets: Sequence[SubmissionPacket], *, now: dt.datetime) -> list[SubmissionReceipt]:
        self.sent.extend(p.idempotency_key for p in packets)
        super().submit(packets, now=now)
        raise ConnectionError("connection reset after the payer accepted the batch")


def test_crash_between_submit_and_record_then_retry_submits_once(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    crashing = CrashAfterSend(delay=dt.timedelta(0))
    crashing.sent = []
    with pytest.raises(ConnectionError):
        exchange.submit_requests([request_id], uow=rt.uow(), gateway_for=lambda _: crashing, by=WORKFLOW_ACTOR)
    assert requests.get_request(request_id, uow=rt.uow()).submissions == ()

    retried = exchange.submit_requests([request_id], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)
    again = exchange.submit_requests([request_id], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)

    detail = requests.get_request(request_id, uow=rt.uow())
    assert [s.idempotency_key for s in detail.submissions] == [f"submit:{request_id}:1"] == crashing.sent
    assert retried[0].idempotency_key == crashing.sent[0]
    assert again == []
    assert detail.request.stored_status == "submitted"


def test_the_same_answer_is_applied_once(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    rt.electronic = _sandbox({request_id: "pend_then_approve"})
    exchange.submit_requests([request_id], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)
    first = exchange.check_requests([request_id], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)
    second = exchange.check_requests([request_id], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)
    assert first.pended == second.pended == [request_id]
    events = requests.request_history(request_id, uow=rt.uow())
    assert [e.to_status for e in events].count("pended") == 1

    exchange.submit_requests([request_id], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)  # information sent
    third = exchange.check_requests([request_id], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)
    assert third.decided == {request_id: "approved"}
    view = requests.get_request(request_id, uow=rt.uow()).request
    assert view.authorization is not None
    assert view.authorization.units_authorized > 0


def test_documents_are_never_made_twice_for_the_same_inputs(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    first = prepare.prepare_submission(
        request_id, uow=rt.uow(), checker=rt.checker, clinic=rt.clinic, documents_dir=rt.documents_dir
    )
    second = prepare.prepare_submission(
        request_id, uow=rt.uow(), checker=rt.checker, clinic=rt.clinic, documents_dir=rt.documents_dir
    )
    assert [d.kind for d in first.documents] == ["request", "packet", "fax-cover"]
    assert not any(d.reused for d in first.documents)
    assert all(d.reused for d in second.documents)
    assert first.control_numbers == second.control_numbers
    assert len(requests.get_request(request_id, uow=rt.uow()).documents) == 3
    assert all(Path(d.path or "").read_bytes().startswith(b"%PDF-") for d in first.documents)
    summary = prepare.sign_off_summary(first)
    for phi in ("Dana", "Whitaker", "1983", "XEH123456789"):
        assert phi not in summary
    assert first.control_numbers[0] in summary


def test_denials_appeal_when_documentation_answers_else_fall_back(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    meets = _intake(rt, "EX-01-meets")
    covered_iv = _intake(rt, "EX-07-iv-covered")
    not_covered = _intake(rt, "EX-02-iv-not-covered")
    rt.electronic = _sandbox({meets: "deny_documentation", covered_iv: "deny_not_covered"})
    exchange.submit_requests([meets, covered_iv], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)
    outcome = exchange.check_requests([meets, covered_iv], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)
    assert sorted(outcome.denied) == sorted([meets, covered_iv])

    args = {"uow": rt.uow(), "checker": rt.checker, "clinic": rt.clinic, "documents_dir": rt.documents_dir}
    results = {r.request_id: r for r in denials.handle_denials([meets, covered_iv, not_covered], by="test", **args)}
    assert results[meets].action == "appeal"
    assert results[meets].status == "appeal_drafted"
    assert results[meets].appeal_letter is not None
    assert results[covered_iv].action == "fall_back"
    assert results[covered_iv].status == "payment_plan"
    assert results[covered_iv].alternative_treatment == "esketamine"
    assert results[not_covered].status == "payment_plan"
    again = denials.handle_denials([meets, covered_iv], by="test", **args)
    assert [r.action for r in again] == ["skipped", "skipped"]

    # The appeal goes out and the sandbox decides it on the determination: approved.
    exchange.submit_requests([meets], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)
    decided = exchange.check_requests([meets], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR)
    assert decided.decided == {meets: "appeal_approved"}

    plan = selfpay.accept_offer(
        covered_iv,
        uow=rt.uow(),
        clinic=rt.clinic,
        documents_dir=rt.documents_dir,
        by="test",
        start=dt.date(2026, 12, 1),
        first_payment=True,
    )
    assert plan.balance < plan.total
    assert len(plan.documents) == 2


def test_renewals_draft_one_continuation_per_authorization(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    requests.submit(request_id, uow=rt.uow(), channel="fax", by="test")
    requests.record_answer(
        request_id,
        uow=rt.uow(),
        answer=Approval("PA-1", dt.date(2026, 12, 1), dt.date(2027, 5, 31), 20),
        by="test",
    )
    assert renewals.due_for_renewal(dt.date(2027, 1, 1), uow=rt.uow()) == []
    due = renewals.due_for_renewal(dt.date(2027, 5, 15), uow=rt.uow())
    assert due == [request_id]
    drafted = renewals.draft_continuations(due, uow=rt.uow(), checker=rt.checker, by="test", as_of=dt.date(2027, 5, 15))
    assert len(drafted) == 1
    assert drafted[0].continuation_id != request_id
    assert requests.get_request(drafted[0].continuation_id, uow=rt.uow()).request.kind == "continuation"
    assert (
        renewals.draft_continuations(due, uow=rt.uow(), checker=rt.checker, by="test", as_of=dt.date(2027, 5, 16)) == []
    )


def test_intake_slices_report_bad_cases_by_position_without_values(workflow_runtime: Runtime, tmp_path: Path) -> None:
    rt = workflow_runtime
    good = (SAMPLE_CASES / "EX-01-meets.json").read_text()
    bad = json.loads(good)
    bad["patient"]["birth_date"] = "05/14/1983"
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(json.loads(good)) + "\n" + json.dumps(bad) + "\n")
    assert intake.count_cases(str(path)) == 2
    result = intake.intake_slice(str(path), 0, 2, uow=rt.uow(), checker=rt.checker, by="test")
    assert len(result.request_ids) == 1
    assert [position for position, _ in result.invalid] == [1]
    assert "1983" not in repr(result.invalid)


def test_a_denial_without_a_known_code_is_read_by_its_words(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    requests.submit(request_id, uow=rt.uow(), channel="fax", by="test")
    requests.record_answer(
        request_id, uow=rt.uow(), answer=Denial("Experimental and investigational service"), by="test"
    )
    args = {"uow": rt.uow(), "checker": rt.checker, "clinic": rt.clinic, "documents_dir": rt.documents_dir}
    [result] = denials.handle_denials([request_id], by="test", **args)
    assert result.action == "fall_back"
    assert denials.reason_code("D01: trials") == "D01"


def test_intake_slices_refuse_a_case_id_of_another_patient(workflow_runtime: Runtime, tmp_path: Path) -> None:
    rt = workflow_runtime
    first = json.loads((SAMPLE_CASES / "EX-01-meets.json").read_text())
    other = json.loads(json.dumps(first))
    other["patient"].update(id="P-7777", given_name="Robin", family_name="Other")
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(first) + "\n" + json.dumps(other) + "\n")
    result = intake.intake_slice(str(path), 0, 2, uow=rt.uow(), checker=rt.checker, by="test")
    assert len(result.request_ids) == 1
    assert result.invalid == [(1, ("case_id",))]
    assert "Robin" not in repr(result.invalid)


def test_intake_slices_report_database_errors_without_values(
    workflow_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    rt = workflow_runtime

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise sa.exc.DataError("INSERT ...", {"given_name": "Dana"}, Exception("value too long: Dana"))

    monkeypatch.setattr(requests, "_check_case_owner", refuse)
    path = tmp_path / "cases.jsonl"
    path.write_text((SAMPLE_CASES / "EX-01-meets.json").read_text().replace("\n", "") + "\n")
    result = intake.intake_slice(str(path), 0, 1, uow=rt.uow(), checker=rt.checker, by="test")
    assert result.request_ids == []
    assert result.invalid == [(0, ("the database refused the operation (DataError)",))]
    assert "Dana" not in repr(result.invalid)
