"""Shared inputs for the letter tests: example cases with their determinations and the sample clinic.

Previews are dated the day they are made (lifecycle rule 2); the tests that compare text or bytes
give them a fixed day, ``DATED``: after the samples' requested start (December 1, 2026), so the
letters ask to start on ``DATED``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from coverage.cases import Case
from coverage.clinic import Clinic, load_clinic
from coverage.determinations import Determination
from coverage.letters import Decision, Denial, Enclosure, LetterOptions, Payment, Sending
from coverage.payments.plans import split_evenly
from coverage.policies.loader import LoadedPolicy
from coverage.policies.service import Checker
from coverage.settings import Settings

EXAMPLES = Path(__file__).resolve().parent / "examples"
#: The day the golden and read-back documents are made.
DATED = dt.date(2026, 12, 2)


@dataclass(frozen=True)
class Inputs:
    case: Case
    determination: Determination
    policy: LoadedPolicy | None
    clinic: Clinic


def sample_clinic() -> Clinic:
    return load_clinic(Settings(clinic_file=None))


def inputs_for(checker: Checker, name: str) -> Inputs:
    if name == "mdsi":
        return mdsi_inputs(checker)
    case = checker.parse((EXAMPLES / f"{name}.json").read_bytes())
    policy = checker.registry.get(case.coverage.policy_id) if case.coverage.policy_id else None
    return Inputs(case, checker.determine(case), policy, sample_clinic())


DENIAL = Denial(
    reason="Documentation does not show two adequate antidepressant trials in the current episode.",
    denied_on=dt.date(2026, 11, 25),
    reference="DN-2026-0088",
)
APPROVAL = Decision(
    status="approved",
    decided_on=dt.date(2026, 11, 27),
    auth_number="PA-778812",
    valid_from=dt.date(2026, 12, 1),
    valid_to=dt.date(2027, 5, 29),
    units=1344,
    code="J0013",
    unit_label="1 unit = 1 mg",
    sessions=24,
    dose_mg=56,
)
PAYMENTS = (
    Payment(paid_on=dt.date(2026, 12, 1), amount=Decimal("550.00"), method="card", reference="AUTH-4242"),
    Payment(paid_on=dt.date(2026, 12, 3), amount=Decimal("275.50"), method="hsa"),
)
SERVICE_DATES = (dt.date(2026, 12, 1), dt.date(2026, 12, 3))
PLAN = split_evenly(Decimal("3300.01"), 6, dt.date(2026, 12, 1))

#: (golden name, example case or "mdsi", kind, options): one per template.
GOLDEN_CASES: list[tuple[str, str, str, LetterOptions]] = [
    ("request-esketamine-trd", "EX-01-meets", "request", LetterOptions(recipient_fax="(800) 555-0199")),
    ("request-esketamine-mdsi", "mdsi", "request", LetterOptions()),
    (
        "request-esketamine-mdsi-expedited",
        "mdsi",
        "request",
        LetterOptions(expedited_reason="Worsening ideation since the last visit", expedited_hours=24),
    ),
    ("request-iv-ketamine", "EX-07-iv-covered", "request", LetterOptions()),
    ("continuation", "EX-08-continuation", "continuation", LetterOptions()),
    ("appeal", "EX-01-meets", "appeal", LetterOptions(denial=DENIAL)),
    ("decision-notice", "EX-01-meets", "decision-notice", LetterOptions(decision=APPROVAL)),
    ("payment-plan", "EX-06-self-pay", "payment-plan", LetterOptions(plan=PLAN)),
    (
        "superbill",
        "EX-06-self-pay",
        "superbill",
        LetterOptions(service_dates=SERVICE_DATES, payments=PAYMENTS),
    ),
    (
        "fax-cover",
        "EX-01-meets",
        "fax-cover",
        LetterOptions(
            recipient_fax="(800) 555-0199",
            enclosures=(
                Enclosure("Prior authorization request and letter of medical necessity", "PREVIEW-LMN-0A1B2C3D", 3),
                Enclosure("Documentation of prior treatment", "PREVIEW-DOC-4E5F6A7B", 3),
            ),
        ),
    ),
    (
        "fax-cover-portal-response",
        "EX-01-meets",
        "fax-cover",
        LetterOptions(
            enclosures=(Enclosure("Letter of medical necessity", "PREVIEW-LMN-0A1B2C3D", 3),),
            sending=Sending(
                channel="portal",
                destination="https://provider.example-health.test",
                responds_to_pend=True,
                info_reference="RFI-31",
                info_requested="PHQ-9 within 14 days",
                info_asked_on=dt.date(2026, 11, 27),
            ),
        ),
    ),
    ("receipt", "EX-06-self-pay", "receipt", LetterOptions(payments=PAYMENTS, service_dates=SERVICE_DATES)),
    ("packet", "EX-01-meets", "packet", LetterOptions()),
]


def mdsi_inputs(checker: Checker) -> Inputs:
    """EX-01 asked as MDSI: acute ideation documented, bupropion ongoing."""
    case = checker.parse((EXAMPLES / "EX-01-meets.json").read_bytes())
    data = case.model_dump(mode="json")
    data["request"]["indication"] = "mdsi"
    data["suicidality"] = {"acute_ideation_or_behavior": True, "documented": "2026-11-18"}
    case = checker.parse(json.dumps(data))
    policy = checker.registry.get(case.coverage.policy_id) if case.coverage.policy_id else None
    return Inputs(case, checker.determine(case), policy, sample_clinic())


# --- The shared inputs are what their names say (the goldens would silently draw something else).


def test_the_mdsi_variant_meets_the_mdsi_criteria(checker: Checker) -> None:
    inputs = mdsi_inputs(checker)
    assert inputs.case.request.indication == "mdsi"
    assert inputs.determination.outcome == "meets_criteria"
    assert [c.id for c in inputs.determination.criteria if c.status != "met"] == []


def test_the_documents_are_made_after_every_sample_s_requested_start(checker: Checker) -> None:
    """So the goldens show the start asked for moved to the day the letter is made (lifecycle rule 2)."""
    starts = {inputs_for(checker, example).case.request.start_date for _, example, _, _ in GOLDEN_CASES}
    assert all(start is not None and start < DATED for start in starts)
    assert sum(i.amount for i in PLAN.installments) == PLAN.total == Decimal("3300.01")
