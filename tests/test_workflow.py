"""Workflow services on a real database (SQLite, and PostgreSQL when configured): no Prefect here."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from coverage.payers.gateways import PayerGateway, SandboxGateway, Scenario, SubmissionPacket, SubmissionReceipt
from coverage.requests.model import When
from coverage.services import requests as services
from coverage.services import sending
from coverage.services.context import Context
from coverage.workflow import denials, exchange, intake, renewals, selfpay
from coverage.workflow.runtime import WORKFLOW_ACTOR, Runtime
from tests.conftest import case_gathered, today

pytestmark = pytest.mark.postgres


def _intake(rt: Runtime, name: str, **changes: object) -> int:
    text = json.dumps(case_gathered(name, **changes))
    return services.intake(text, uow=rt.uow(), checker=rt.checker, ctx=rt.ctx, by="test").request_id


def _sandbox(scenarios: dict[int, Scenario]) -> SandboxGateway:
    return SandboxGateway(delay=dt.timedelta(0), expedited_delay=dt.timedelta(0), scenarios=scenarios)


def _send(rt: Runtime, request_id: int, gateway_for: sending.GatewayFor | None = None) -> sending.Prepared:
    return sending.send(
        request_id,
        uow=rt.uow(),
        checker=rt.checker,
        clinic=rt.clinic,
        store=rt.store,
        ctx=rt.ctx,
        by=WORKFLOW_ACTOR,
        gateway_for=gateway_for or rt.gateway,
    )


def _detail(rt: Runtime, request_id: int) -> dict[str, object]:
    detail: dict[str, object] = services.get_request(request_id, uow=rt.uow(), ctx=rt.ctx).to_dict()
    return detail


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
        _send(rt, request_id, lambda _: crashing)
    assert _detail(rt, request_id)["submissions"] == []

    retried = _send(rt, request_id)
    again = _send(rt, request_id)
    detail = _detail(rt, request_id)
    assert [s["reference"] for s in detail["submissions"]] != []  # type: ignore[attr-defined]
    assert len(detail["submissions"]) == 1  # type: ignore[arg-type]
    assert crashing.sent == [f"submit:{request_id}:1"]
    assert retried.state == "submitted"
    assert again.state == "not_sendable"
    assert detail["stored_status"] == "submitted"


def test_a_person_s_channel_gets_a_send_task_and_nothing_is_marked_sent(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    rt.all_electronic = False
    request_id = _intake(rt, "EX-01-meets")
    prepared = _send(rt, request_id)
    assert prepared.state == "send_task"
    assert prepared.status == "ready"
    detail = _detail(rt, request_id)
    assert detail["submissions"] == []
    assert detail["send_task"] is not None
    assert [d["kind"] for d in detail["documents"]] == ["request", "packet", "fax-cover"]  # type: ignore[attr-defined]
    # Nothing answers a fax: a status check asks no one and applies nothing.
    outcome = exchange.check_requests([request_id], rt=rt, by=WORKFLOW_ACTOR)
    assert outcome.checked == []


def test_the_same_answer_is_applied_once(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    rt.electronic = _sandbox({request_id: "pend_then_approve"})
    _send(rt, request_id)
    first = exchange.check_requests([request_id], rt=rt, by=WORKFLOW_ACTOR)
    second = exchange.check_requests([request_id], rt=rt, by=WORKFLOW_ACTOR)
    assert first.pended == [request_id]
    assert second.pended == []  # the same pended answer, already recorded
    actions = [e["action"] for e in _detail(rt, request_id)["events"]]  # type: ignore[attr-defined]
    assert actions.count("answer") == 1

    _send(rt, request_id)  # the information goes out: the second sending
    third = exchange.check_requests([request_id], rt=rt, by=WORKFLOW_ACTOR)
    assert third.decided == {request_id: "approved"}
    auth = _detail(rt, request_id)["authorization"]
    assert auth is not None
    assert auth["code"] == "J0013"  # type: ignore[index]
    assert auth["units"] % 56 == 0  # type: ignore[index]  # whole sessions of the case's dose, in mg


def test_documents_are_never_made_twice(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    rt.all_electronic = False
    request_id = _intake(rt, "EX-01-meets")
    first = _send(rt, request_id)
    second = _send(rt, request_id)
    assert first.documents == second.documents
    documents = _detail(rt, request_id)["documents"]
    assert len(documents) == 3  # type: ignore[arg-type]
    for document in documents:  # type: ignore[attr-defined]
        assert document["key"] == f"{request_id}/{document['control_number']}.pdf"
        assert document["control_number"].startswith(f"{request_id}-")
        assert "EX-01" not in document["control_number"]
        assert rt.store.get(document["key"]).startswith(b"%PDF-")


class _Later(Context):
    """The clinic's clock, two months on."""

    def when(self, at: dt.datetime | None = None) -> When:
        moment = super().when(at)
        later = moment.now + dt.timedelta(days=60)
        return When(now=later, today=moment.today + dt.timedelta(days=60), timezone=moment.timezone)


def test_a_case_gone_stale_since_intake_is_not_sent(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    rt.ctx = _Later()
    prepared = _send(rt, request_id)
    assert prepared.state == "draft"
    assert prepared.status == "draft"
    assert "severity" in (prepared.reason or "")
    detail = _detail(rt, request_id)
    assert detail["documents"] == []
    assert detail["submissions"] == []


def test_denials_appeal_when_documentation_answers_else_fall_back(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    meets = _intake(rt, "EX-01-meets")
    covered_iv = _intake(rt, "EX-07-iv-covered")
    not_covered = _intake(rt, "EX-02-iv-not-covered")
    rt.electronic = _sandbox({meets: "deny_documentation", covered_iv: "deny_not_covered"})
    _send(rt, meets)
    _send(rt, covered_iv)
    outcome = exchange.check_requests([meets, covered_iv], rt=rt, by=WORKFLOW_ACTOR)
    assert sorted(outcome.denied) == sorted([meets, covered_iv])

    results = {r.request_id: r for r in denials.handle_denials([meets, covered_iv, not_covered], rt=rt, by="test")}
    assert results[meets].action == "appeal"
    assert results[meets].status == "appeal_drafted"
    assert results[meets].appeal_letter is not None
    assert results[meets].appeal_letter.startswith(f"{meets}-APL-")
    assert results[covered_iv].action == "fall_back"
    assert results[covered_iv].status == "payment_plan"
    assert results[covered_iv].alternative_treatment == "esketamine"
    assert results[not_covered].status == "payment_plan"
    again = denials.handle_denials([meets, covered_iv], rt=rt, by="test")
    assert [r.action for r in again] == ["skipped", "skipped"]

    # The appeal goes out and the sandbox decides it on the determination: approved.
    sent = _send(rt, meets)
    assert results[meets].appeal_letter in sent.documents
    decided = exchange.check_requests([meets], rt=rt, by=WORKFLOW_ACTOR)
    assert decided.decided == {meets: "appeal_approved"}

    plan = selfpay.accept_offer(covered_iv, rt=rt, by="test", start=today(), first_payment=True)
    assert plan.balance < plan.total
    assert len(plan.documents) == 2


def test_notices_are_made_once_per_answer(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    rt.electronic = _sandbox({request_id: "approve"})
    _send(rt, request_id)
    exchange.check_requests([request_id], rt=rt, by=WORKFLOW_ACTOR)
    made = exchange.decision_notices([request_id], rt=rt)
    assert len(made) == 1
    assert exchange.decision_notices([request_id], rt=rt) == made
    kinds = [d["kind"] for d in _detail(rt, request_id)["documents"]]  # type: ignore[attr-defined]
    assert kinds.count("decision-notice") == 1


def test_renewals_continue_each_authorization_once(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    services.submit(request_id, uow=rt.uow(), ctx=rt.ctx, channel="fax", by="test")
    services.record_answer(
        request_id,
        services.AnswerInput(
            decision="approved",
            auth_number="PA-1",
            valid_from=today(),
            valid_to=today() + dt.timedelta(days=179),
            units=1120,
        ),
        uow=rt.uow(),
        ctx=rt.ctx,
        by="test",
    )
    assert renewals.due_for_renewal(today() + dt.timedelta(days=30), rt=rt) == []
    due = renewals.due_for_renewal(today() + dt.timedelta(days=160), rt=rt)
    assert due == [request_id]
    drafted = renewals.draft_continuations(due, rt=rt, by="test")
    assert len(drafted) == 1
    later = drafted[0].continuation_id
    assert _detail(rt, later)["kind"] == "continuation"
    assert _detail(rt, later)["previous_request_id"] == request_id
    assert renewals.due_for_renewal(today() + dt.timedelta(days=160), rt=rt) == []
    assert renewals.draft_continuations(due, rt=rt, by="test") == []


def test_intake_slices_report_bad_cases_by_position_without_values(workflow_runtime: Runtime, tmp_path: Path) -> None:
    rt = workflow_runtime
    good = case_gathered("EX-01-meets")
    bad = case_gathered("EX-01-meets", case_id="EX-BAD")
    bad["patient"]["birth_date"] = "05/14/1983"
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    assert intake.count_cases(str(path)) == 2
    result = intake.intake_slice(str(path), 0, 2, rt=rt, by="test")
    assert len(result.request_ids) == 1
    assert [position for position, _ in result.invalid] == [1]
    assert "1983" not in repr(result.invalid)


def test_a_denial_without_a_known_code_is_read_by_its_words(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    services.submit(request_id, uow=rt.uow(), ctx=rt.ctx, channel="fax", by="test")
    services.record_answer(
        request_id,
        services.AnswerInput(decision="denied", reason="Experimental and investigational service"),
        uow=rt.uow(),
        ctx=rt.ctx,
        by="test",
    )
    [result] = denials.handle_denials([request_id], rt=rt, by="test")
    assert result.action == "fall_back"
    assert denials.reason_code("D01: trials") == "D01"


def test_intake_slices_refuse_a_case_id_of_another_patient(workflow_runtime: Runtime, tmp_path: Path) -> None:
    rt = workflow_runtime
    first = case_gathered("EX-01-meets")
    other = json.loads(json.dumps(first))
    other["patient"].update(id="P-7777", given_name="Robin", family_name="Other")
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(first) + "\n" + json.dumps(other) + "\n")
    result = intake.intake_slice(str(path), 0, 2, rt=rt, by="test")
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

    monkeypatch.setattr(services, "_patient_and_coverage", refuse)
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(case_gathered("EX-01-meets")) + "\n")
    result = intake.intake_slice(str(path), 0, 1, rt=rt, by="test")
    assert result.request_ids == []
    assert result.invalid == [(0, ("the database refused a value out of its range (DataError)",))]
    assert "Dana" not in repr(result.invalid)


def test_gateways_are_chosen_by_the_payer_s_channel(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    rt.all_electronic = False
    assert rt.gateway("fax") is None
    assert rt.gateway("portal") is None
    electronic: PayerGateway | None = rt.gateway("electronic")
    assert electronic is rt.electronic


def test_a_second_electronic_sending_carries_only_its_own_documents(workflow_runtime: Runtime) -> None:
    rt = workflow_runtime
    request_id = _intake(rt, "EX-01-meets")
    rt.electronic = _sandbox({request_id: "pend_then_approve"})
    sent: list[SubmissionPacket] = []

    class Recording(SandboxGateway):
        def submit(self, packets: Sequence[SubmissionPacket], *, now: dt.datetime) -> list[SubmissionReceipt]:
            sent.extend(packets)
            return rt.electronic.submit(packets, now=now)

    recording = Recording(delay=dt.timedelta(0))
    _send(rt, request_id, lambda _: recording)
    exchange.check_requests([request_id], rt=rt, by=WORKFLOW_ACTOR)  # pended
    _send(rt, request_id, lambda _: recording)  # the information goes out: a second sending
    first, second = ([e.control_number for e in p.enclosures] for p in sent)
    assert len(first) == len(second) == 2  # the letter and the packet of each sending
    assert set(first).isdisjoint(second)
