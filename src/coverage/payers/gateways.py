"""Payer gateways: how a request reaches a payer and how the payer's answer comes back.

Every gateway speaks in batches, so a scheduled status check asks about many requests in one
call. The interface is shaped after the two electronic standards that will plug in later
without changing a flow:

- HL7 Da Vinci PAS: ``Claim/$submit`` is :meth:`PayerGateway.submit`, ``Claim/$inquire`` is
  :meth:`PayerGateway.inquire`; a ClaimResponse maps onto :class:`PayerAnswer`.
- X12 278: the request (HCR) is ``submit``; the 278 response's HCR01 action codes map onto
  decisions (A1 approved, A2/A6 partially_approved, A3 denied, A4 pended).

Shipped here:

- :class:`ManualGateway` (fax, phone, portal): submitting prepares the packet and leaves a
  task for staff; the payer's answer is recorded by staff with ``priorauth requests record``,
  so ``inquire`` never answers.
- :class:`SandboxGateway`: a simulated payer for the demo and the tests. It decides with the
  request's determination, answers after a configurable delay, and can pend for information,
  deny with a coded reason or approve fewer units. It keeps no state: every answer is a pure
  function of the seed and what the inquiry carries, so it is deterministic and any worker
  process gives the same answer.

Nothing here carries PHI: requests travel by id, with the coverage facts a payer decides on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args
from zoneinfo import ZoneInfo

Decision = Literal["approved", "partially_approved", "denied", "pended"]
Channel = Literal["fax", "portal", "phone", "electronic"]

#: X12 278 HCR01 action codes for each decision.
X12_ACTION_CODES: dict[str, str] = {
    "approved": "A1",
    "partially_approved": "A2",
    "denied": "A3",
    "pended": "A4",
}


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A document sent with a request, by its control number."""

    kind: str
    control_number: str
    sha256: str
    pages: int


@dataclass(frozen=True, slots=True)
class SubmissionPacket:
    """What goes to the payer for one request: coverage facts and documents, no PHI."""

    request_id: int
    idempotency_key: str
    attempt: int
    policy_id: str | None
    treatment: str
    indication: str
    kind: str
    outcome: str
    authorization_days: int | None
    units_requested: int
    expedited: bool
    enclosures: tuple[Enclosure, ...] = ()
    appeal: bool = False


@dataclass(frozen=True, slots=True)
class SubmissionReceipt:
    """The gateway's acknowledgement of a submission."""

    request_id: int
    idempotency_key: str
    channel: Channel
    payer_reference: str
    accepted_at: dt.datetime
    needs_staff: bool


@dataclass(frozen=True, slots=True)
class StatusInquiry:
    """A question about one submitted request: has the payer decided?"""

    request_id: int
    payer_reference: str
    attempt: int
    submitted_at: dt.datetime
    outcome: str
    authorization_days: int | None
    units_requested: int
    expedited: bool
    appeal: bool = False


@dataclass(frozen=True, slots=True)
class PayerAnswer:
    """A payer's decision on one request; ``answer_id`` makes applying it idempotent."""

    request_id: int
    answer_id: str
    payer_reference: str
    decision: Decision
    decided_at: dt.datetime
    auth_number: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    units: int | None = None
    reason_code: str | None = None
    reason: str | None = None
    info_requested: str | None = None

    @property
    def x12_action_code(self) -> str:
        """The X12 278 HCR01 code for this decision."""
        return X12_ACTION_CODES[self.decision]


class PayerGateway(ABC):
    """How requests reach one kind of payer channel; batch in, batch out."""

    name: str
    channel: Channel

    @abstractmethod
    def submit(self, packets: Sequence[SubmissionPacket], *, now: dt.datetime) -> list[SubmissionReceipt]:
        """Send each packet; a packet sent again with the same idempotency key gets the same receipt."""

    @abstractmethod
    def inquire(self, inquiries: Sequence[StatusInquiry], *, now: dt.datetime) -> list[PayerAnswer]:
        """The answers the payer has given by ``now``; requests still under review are left out."""


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


class ManualGateway(PayerGateway):
    """Fax, phone or portal: staff send the packet and record the payer's answer themselves."""

    name = "manual"

    def __init__(self, channel: Channel = "fax") -> None:
        self.channel = channel

    def submit(self, packets: Sequence[SubmissionPacket], *, now: dt.datetime) -> list[SubmissionReceipt]:
        return [
            SubmissionReceipt(
                request_id=p.request_id,
                idempotency_key=p.idempotency_key,
                channel=self.channel,
                payer_reference=f"STAFF-{p.request_id}-{p.attempt}",
                accepted_at=now,
                needs_staff=True,
            )
            for p in packets
        ]

    def inquire(self, inquiries: Sequence[StatusInquiry], *, now: dt.datetime) -> list[PayerAnswer]:
        return []  # staff record answers with `priorauth requests record`


Scenario = Literal[
    "approve", "partial", "pend_then_approve", "deny_documentation", "deny_medical_necessity", "deny_not_covered"
]
SCENARIOS: tuple[Scenario, ...] = get_args(Scenario)

#: Coded denial reasons the sandbox gives, with the payer's wording.
DENIAL_REASONS: dict[str, str] = {
    "documentation": (
        "D01: Documentation does not show failure of two antidepressant trials of adequate dose "
        "and duration in the current episode."
    ),
    "medical_necessity": "D02: The requested service does not meet the plan's medical necessity criteria.",
    "not_covered": "D03: The requested service is not a covered benefit under the member's plan.",
}


@dataclass
class SandboxGateway(PayerGateway):
    """A simulated payer: deterministic for a seed, answering after ``delay``.

    The payer follows the determination: a request that does not meet the policy's criteria
    is denied for medical necessity, one that meets them is approved, partially approved,
    pended once for information, or denied for documentation, chosen by the seed and the
    request id unless ``scenarios`` fixes it for that request id (``deny_not_covered`` is
    only ever chosen that way). An appeal is decided on the determination alone: approved
    when it meets the criteria, denied for medical necessity otherwise.
    """

    seed: int = 0
    delay: dt.timedelta = dt.timedelta(days=2)
    expedited_delay: dt.timedelta = dt.timedelta(hours=24)
    scenarios: Mapping[int, Scenario] = field(default_factory=dict)
    weights: Mapping[Scenario, int] = field(
        default_factory=lambda: {
            "approve": 5,
            "partial": 1,
            "pend_then_approve": 2,
            "deny_documentation": 1,
            "deny_medical_necessity": 1,
        }
    )
    name: str = "sandbox"
    channel: Channel = "electronic"
    #: The clinic's time zone: an authorization runs from the day of the decision at the clinic.
    timezone: str = "America/New_York"
    #: Seconds the simulated payer takes to accept a batch (a slow gateway, for crash drills).
    latency_seconds: float = 0.0

    def scenario(self, request_id: int, outcome: str) -> Scenario:
        """What this payer will do with a request."""
        if request_id in self.scenarios:
            return self.scenarios[request_id]
        if outcome not in ("meets_criteria", "no_pa_required"):
            return "deny_medical_necessity"
        pick = int(_digest("scenario", self.seed, request_id)[:8], 16) % sum(self.weights.values())
        for scenario, weight in self.weights.items():
            if pick < weight:
                return scenario
            pick -= weight
        raise AssertionError("weights exhausted")  # pragma: no cover - pick < sum(weights)

    def submit(self, packets: Sequence[SubmissionPacket], *, now: dt.datetime) -> list[SubmissionReceipt]:
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        return [
            SubmissionReceipt(
                request_id=p.request_id,
                idempotency_key=p.idempotency_key,
                channel=self.channel,
                payer_reference="SBX-" + _digest("ref", self.seed, p.idempotency_key)[:10].upper(),
                accepted_at=now,
                needs_staff=False,
            )
            for p in packets
        ]

    def inquire(self, inquiries: Sequence[StatusInquiry], *, now: dt.datetime) -> list[PayerAnswer]:
        return [answer for inquiry in inquiries if (answer := self._answer(inquiry, now)) is not None]

    def _answer(self, inquiry: StatusInquiry, now: dt.datetime) -> PayerAnswer | None:
        decided_at = inquiry.submitted_at + (self.expedited_delay if inquiry.expedited else self.delay)
        if now < decided_at:
            return None
        scenario = self.scenario(inquiry.request_id, inquiry.outcome)
        answer_id = "SBX-ANS-" + _digest("answer", self.seed, inquiry.payer_reference, inquiry.attempt)[:12].upper()
        common = {
            "request_id": inquiry.request_id,
            "answer_id": answer_id,
            "payer_reference": inquiry.payer_reference,
            "decided_at": decided_at,
        }
        if inquiry.appeal:
            if inquiry.outcome in ("meets_criteria", "no_pa_required"):
                scenario = "approve"
            else:
                scenario = "deny_medical_necessity"
        if scenario == "pend_then_approve" and inquiry.attempt == 1:
            return PayerAnswer(
                **common,  # type: ignore[arg-type]  # keys and types as the fields above
                decision="pended",
                info_requested="Please send the most recent rating-scale scores and the REMS enrollment form.",
            )
        if scenario in ("deny_documentation", "deny_medical_necessity", "deny_not_covered"):
            code = scenario.removeprefix("deny_")
            return PayerAnswer(
                **common,  # type: ignore[arg-type]
                decision="denied",
                reason_code=DENIAL_REASONS[code][:3],
                reason=DENIAL_REASONS[code],
            )
        days = inquiry.authorization_days or 180
        units = inquiry.units_requested
        decision: Decision = "approved"
        if scenario == "partial":
            decision, units, days = "partially_approved", max(1, units // 2), max(1, days // 2)
        valid_from = decided_at.astimezone(ZoneInfo(self.timezone)).date()  # the clinic's day, never UTC's
        return PayerAnswer(
            **common,  # type: ignore[arg-type]
            decision=decision,
            auth_number="PA" + _digest("auth", self.seed, inquiry.payer_reference)[:8].upper(),
            valid_from=valid_from,
            valid_to=valid_from + dt.timedelta(days=days - 1),
            units=units,
        )


def sessions_requested(treatment: str, authorization_days: int | None) -> int:
    """Sessions to ask for over an authorization period, from the usual schedules.

    Esketamine (Spravato label): twice weekly in weeks 1-4, weekly in weeks 5-8, then weekly
    (the most a maintenance schedule allows). IV ketamine: six infusions in the first four
    weeks, then one booster every four weeks.
    """
    days = authorization_days or 180
    weeks = -(-days // 7)
    if treatment == "esketamine":
        return 2 * min(weeks, 4) + max(0, weeks - 4)
    return 6 + max(0, weeks - 4) // 4
