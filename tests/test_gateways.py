"""The payer gateways: the sandbox is deterministic, decides appeals on the determination, speaks in batches."""

from __future__ import annotations

import datetime as dt

from coverage.payers.gateways import ManualGateway, SandboxGateway, StatusInquiry, SubmissionPacket

NOW = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)


def _inquiry(
    request_id: int, *, attempt: int = 1, outcome: str = "meets_criteria", appeal: bool = False
) -> StatusInquiry:
    return StatusInquiry(
        request_id=request_id,
        payer_reference=f"REF-{request_id}-{attempt}",
        attempt=attempt,
        submitted_at=NOW - dt.timedelta(days=3),
        outcome=outcome,
        authorization_days=180,
        units_requested=30,
        expedited=False,
        appeal=appeal,
    )


def test_the_sandbox_is_deterministic_for_a_seed() -> None:
    inquiries = [_inquiry(i) for i in range(1, 60)]
    first = SandboxGateway(seed=7).inquire(inquiries, now=NOW)
    second = SandboxGateway(seed=7).inquire(inquiries, now=NOW)
    assert first == second
    assert {a.decision for a in first} >= {"approved", "pended", "denied"}


def test_the_sandbox_answers_after_its_delay() -> None:
    gateway = SandboxGateway(delay=dt.timedelta(days=5))
    assert gateway.inquire([_inquiry(1)], now=NOW) == []


def test_scenarios_and_appeals() -> None:
    gateway = SandboxGateway(scenarios={1: "deny_not_covered", 2: "partial", 3: "deny_documentation"})
    answers = {a.request_id: a for a in gateway.inquire([_inquiry(1), _inquiry(2), _inquiry(3)], now=NOW)}
    assert answers[1].decision == "denied"
    assert answers[1].reason_code == "D03"
    assert answers[2].decision == "partially_approved"
    assert answers[2].units == 15
    assert answers[3].reason_code == "D01"
    [appeal] = gateway.inquire([_inquiry(3, attempt=2, appeal=True)], now=NOW)
    assert appeal.decision == "approved"
    [lost] = gateway.inquire([_inquiry(4, attempt=2, appeal=True, outcome="does_not_meet_criteria")], now=NOW)
    assert lost.decision == "denied"


def test_a_packet_sent_again_gets_the_same_receipt_and_manual_never_answers() -> None:
    packet = SubmissionPacket(
        request_id=1,
        idempotency_key="submit:1:1",
        attempt=1,
        policy_id="standard-commercial",
        treatment="esketamine",
        indication="trd",
        kind="initial",
        outcome="meets_criteria",
        authorization_days=180,
        units_requested=30,
        expedited=False,
    )
    gateway = SandboxGateway()
    assert gateway.submit([packet], now=NOW) == gateway.submit([packet], now=NOW)
    manual = ManualGateway("fax")
    assert manual.submit([packet], now=NOW)[0].needs_staff
    assert manual.inquire([_inquiry(1)], now=NOW) == []
