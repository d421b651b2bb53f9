"""The policy file schema: a payer policy as validated data (``shared/domain/reference-policies.md``).

A policy has an id, a version with its effective date (and optional end date: an id may have
several versions, see :class:`coverage.policies.loader.PolicyRegistry`), the published policy it is modeled on,
a billing scheme, and per treatment whether it is covered, whether prior authorization is
required, and its pathways. A pathway is (indication, kind) with an authorization period and
an ordered list of criteria; each criterion is one of the vocabulary below, tagged by ``id``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from coverage.cases import HISTORY_FLAGS, INSTRUMENT_LABELS, Indication, Instrument, Kind, Specialty, Treatment
from coverage.fields import text_problem


def _date_as_text(value: Any) -> Any:
    # YAML reads an unquoted 2025-06-01 as a date; the version is kept as text.
    return value.isoformat() if isinstance(value, dt.date) else value


def _clean(kind: str) -> AfterValidator:
    """Text of ``kind`` (``coverage.fields.BOUNDS``): stripped, not blank, no control or invisible characters."""

    def check(value: str) -> str:
        text = value.strip()
        problem = text_problem(text, kind=kind) or (None if text else "required (blank)")
        if problem is not None:
            raise ValueError(problem)
        return text

    return AfterValidator(check)


def _normalize_code(value: Any) -> Any:
    return normalize_code(value) if isinstance(value, str) else value


def normalize_code(code: str) -> str:
    """ICD-10 codes compare case-insensitively with dots and spaces removed (``f332`` == ``F33.2``)."""
    return code.replace(".", "").replace(" ", "").upper()


Code = Annotated[str, BeforeValidator(_normalize_code), Field(min_length=1)]
NonNegative = Annotated[int, Field(ge=0)]


class _PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgeCriterion(_PolicyModel):
    id: Literal["age"]
    min_age: NonNegative
    max_age: NonNegative | None = None


class DiagnosisCriterion(_PolicyModel):
    id: Literal["diagnosis"]
    allowed: list[Code]
    excluded: list[Code] = []


class FailedTrialsCriterion(_PolicyModel):
    id: Literal["failed_trials"]
    min_trials: NonNegative
    min_classes: NonNegative = 0
    min_weeks: NonNegative
    current_episode: bool


class AugmentationTrialsCriterion(_PolicyModel):
    id: Literal["augmentation_trials"]
    min_trials: NonNegative
    min_weeks: NonNegative
    current_episode: bool


class ConcurrentAntidepressantCriterion(_PolicyModel):
    id: Literal["concurrent_antidepressant"]
    min_days: NonNegative | None = None
    not_previously_failed: bool = False


class InstrumentMinimum(_PolicyModel):
    instrument: Instrument
    min_score: NonNegative | None = None


class SeverityCriterion(_PolicyModel):
    id: Literal["severity"]
    window_days: NonNegative
    instruments: Annotated[list[InstrumentMinimum], Field(min_length=1)]

    @cached_property
    def minimum(self) -> dict[str, int | None]:
        """Each accepted instrument's minimum score (``None``: any score counts)."""
        return {m.instrument: m.min_score for m in self.instruments}

    @cached_property
    def accepted(self) -> str:
        """The accepted instruments and minimums, as a detail sentence names them."""
        return " or ".join(
            INSTRUMENT_LABELS[m.instrument] + (f" >= {m.min_score}" if m.min_score is not None else "")
            for m in self.instruments
        )


class PrescriberCriterion(_PolicyModel):
    id: Literal["prescriber"]
    specialties: Annotated[list[Specialty], Field(min_length=1)]


class RemsCriterion(_PolicyModel):
    id: Literal["rems"]


HistoryFlag = Literal[HISTORY_FLAGS]  # type: ignore[valid-type]  # built from the case model's flags


class ContraindicationsCriterion(_PolicyModel):
    id: Literal["contraindications"]
    conditions: Annotated[list[HistoryFlag], Field(min_length=1)]

    @cached_property
    def listed(self) -> str:
        """The conditions, comma-separated."""
        return ", ".join(self.conditions)


class PsychosisCriterion(_PolicyModel):
    id: Literal["psychosis"]
    attestation_allowed: bool
    psychotic_codes: list[Code] = ["F323", "F333"]


class SubstanceUseCriterion(_PolicyModel):
    id: Literal["substance_use"]


class PregnancyCriterion(_PolicyModel):
    id: Literal["pregnancy"]


class SuicidalityCriterion(_PolicyModel):
    id: Literal["suicidality"]
    window_days: NonNegative


class ResponseCriterion(_PolicyModel):
    id: Literal["response"]
    min_improvement_pct: Annotated[Decimal, Field(ge=0, le=100)]
    strictly_greater: bool = False
    instruments: Annotated[list[Instrument], Field(min_length=1)]
    current_window_days: NonNegative = 30

    @cached_property
    def threshold(self) -> tuple[int, int]:
        """``min_improvement_pct`` as an exact fraction: (numerator, denominator > 0)."""
        return self.min_improvement_pct.as_integer_ratio()


class ContinuationAllowedCriterion(_PolicyModel):
    id: Literal["continuation_allowed"]


Criterion = Annotated[
    AgeCriterion
    | DiagnosisCriterion
    | FailedTrialsCriterion
    | AugmentationTrialsCriterion
    | ConcurrentAntidepressantCriterion
    | SeverityCriterion
    | PrescriberCriterion
    | RemsCriterion
    | ContraindicationsCriterion
    | PsychosisCriterion
    | SubstanceUseCriterion
    | PregnancyCriterion
    | SuicidalityCriterion
    | ResponseCriterion
    | ContinuationAllowedCriterion,
    Field(discriminator="id"),
]


class Pathway(_PolicyModel):
    """(indication, kind) for one treatment: its authorization period and ordered criteria."""

    indication: Indication
    kind: Kind
    authorization_days: Annotated[int, Field(gt=0)] | None = None
    criteria: list[Criterion]

    @model_validator(mode="after")
    def _criteria_once_each(self) -> Pathway:
        seen: set[str] = set()
        for criterion in self.criteria:
            if criterion.id in seen:
                raise ValueError(f"criterion {criterion.id!r} listed twice")
            seen.add(criterion.id)
        return self


class TreatmentPolicy(_PolicyModel):
    """Whether a treatment is covered, whether it needs prior authorization, and its pathways."""

    covered: bool
    prior_authorization: bool = True
    note: Annotated[str, _clean("text")] | None = None
    pathways: list[Pathway] = []

    @model_validator(mode="after")
    def _pathways_once_each(self) -> TreatmentPolicy:
        seen: set[tuple[str, str]] = set()
        for pathway in self.pathways:
            key = (pathway.indication, pathway.kind)
            if key in seen:
                raise ValueError(f"pathway {pathway.indication} {pathway.kind} listed twice")
            seen.add(key)
        return self

    def pathway(self, indication: str, kind: str) -> Pathway | None:
        """The pathway for an indication and kind, if the policy has one."""
        for pathway in self.pathways:
            if pathway.indication == indication and pathway.kind == kind:
                return pathway
        return None


NOT_COVERED = TreatmentPolicy(covered=False, prior_authorization=False)


class Treatments(_PolicyModel):
    esketamine: TreatmentPolicy = NOT_COVERED
    iv_ketamine: TreatmentPolicy = NOT_COVERED


class Policy(_PolicyModel):
    """One payer policy."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=64)]
    name: Annotated[str, _clean("title")]
    version: Annotated[str, BeforeValidator(_date_as_text), _clean("id")]
    effective_date: dt.date
    #: The last day this version is in effect; without one, until the next version takes effect.
    end_date: dt.date | None = None
    modeled_on: Annotated[str, _clean("text")]
    billing_scheme: Literal["hcpcs", "medicare"]
    max_improvement_pct: Annotated[float, Field(ge=0, le=100)] = 25.0
    # A place for YAML anchors that pathways share; never read: what it holds is validated
    # where a pathway refers to it.
    common: list[Any] = []
    treatments: Treatments

    @model_validator(mode="after")
    def _end_after_start(self) -> Policy:
        if self.end_date is not None and self.end_date < self.effective_date:
            raise ValueError(f"end_date {self.end_date} is before effective_date {self.effective_date}")
        return self

    def for_treatment(self, treatment: Treatment | str) -> TreatmentPolicy:
        """The policy's terms for one treatment."""
        terms: TreatmentPolicy = getattr(self.treatments, treatment)
        return terms
