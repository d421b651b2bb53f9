"""What the engine decides: the determination and its parts, as plain immutable records.

The JSON form (``to_dict``) is the one of ``shared/spec/case-format.md``; ``from_dict`` reads
it back (for stored determinations). The parts are named tuples: the engine makes a score of
them per case, and a tuple is several times cheaper to build than a frozen dataclass.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

Status = Literal["met", "not_met", "missing"]
Outcome = Literal["not_covered", "does_not_meet_criteria", "missing_documentation", "no_pa_required", "meets_criteria"]
NextStep = Literal[
    "submit_prior_auth", "collect_documentation", "schedule_treatment", "consider_alternative", "offer_payment_plan"
]

OUTCOMES: tuple[Outcome, ...] = (
    "not_covered",
    "does_not_meet_criteria",
    "missing_documentation",
    "no_pa_required",
    "meets_criteria",
)


class CriterionResult(NamedTuple):
    """One criterion's status with one plain sentence saying why."""

    id: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "detail": self.detail}


class BillingLine(NamedTuple):
    """A code to bill, with its units and modifier."""

    code: str
    units: int
    modifier: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "units": self.units, "modifier": self.modifier}


class Alternative(NamedTuple):
    """The other treatment, evaluated for the same patient as TRD, initial."""

    treatment: str
    indication: str
    outcome: Outcome

    def to_dict(self) -> dict[str, Any]:
        return {"treatment": self.treatment, "indication": self.indication, "outcome": self.outcome}


class Determination(NamedTuple):
    """What the payer's policy says about the requested treatment, and what to do next."""

    case_id: str
    policy_id: str | None
    policy_version: str | None
    policy_hash: str | None
    treatment: str
    indication: str
    kind: str
    outcome: Outcome
    next_step: NextStep
    criteria: tuple[CriterionResult, ...]
    authorization_days: int | None
    billing: tuple[BillingLine, ...]
    alternatives: tuple[Alternative, ...]

    def criterion(self, criterion_id: str) -> CriterionResult | None:
        """The result of one criterion, by id."""
        for result in self.criteria:
            if result.id == criterion_id:
                return result
        return None

    def to_dict(self) -> dict[str, Any]:
        """The spec's JSON form."""
        return {
            "case_id": self.case_id,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "policy_hash": self.policy_hash,
            "treatment": self.treatment,
            "indication": self.indication,
            "kind": self.kind,
            "outcome": self.outcome,
            "next_step": self.next_step,
            "criteria": [c.to_dict() for c in self.criteria],
            "authorization_days": self.authorization_days,
            "billing": [b.to_dict() for b in self.billing],
            "alternatives": [a.to_dict() for a in self.alternatives],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Determination:
        """Read back the JSON form."""
        return cls(
            case_id=data["case_id"],
            policy_id=data["policy_id"],
            policy_version=data["policy_version"],
            policy_hash=data["policy_hash"],
            treatment=data["treatment"],
            indication=data["indication"],
            kind=data["kind"],
            outcome=data["outcome"],
            next_step=data["next_step"],
            criteria=tuple(CriterionResult(**c) for c in data["criteria"]),
            authorization_days=data["authorization_days"],
            billing=tuple(BillingLine(**b) for b in data["billing"]),
            alternatives=tuple(Alternative(**a) for a in data["alternatives"]),
        )
