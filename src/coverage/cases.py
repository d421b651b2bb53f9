"""The case document: one patient's request for one treatment (``shared/spec/case-format.md``).

:func:`parse_case` is the only way in: pydantic checks the shape and types strictly (unknown
fields rejected, no string turned into a number, dates only ``YYYY-MM-DD``), then
:func:`case_rule_problems` checks the rules that span fields. Every problem is reported as
``path: problem`` with the path written like ``medication_trials[1].end``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Container, Iterable
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coverage.errors import InvalidCase
from coverage.fields import BOUNDS, CASE_ID_PATTERN, CLEAN_TEXT_PATTERN, LIST_BOUNDS, MAX_CASE_BYTES

Sex = Literal["female", "male", "other", "unknown"]
PlanType = Literal["commercial", "medicare", "medicaid", "self_pay"]
AccountType = Literal["hsa", "fsa"]
Treatment = Literal["esketamine", "iv_ketamine"]
Indication = Literal["trd", "mdsi"]
Kind = Literal["initial", "continuation"]
Specialty = Literal["psychiatry", "psychiatric_nurse_practitioner", "primary_care", "other"]
TrialOutcome = Literal["inadequate_response", "partial_response", "response", "intolerance", "unknown"]
TrialRole = Literal["antidepressant", "augmentation"]
Instrument = Literal["phq9", "madrs", "hamd17", "bdi2", "qids_sr16"]
SubstanceUse = Literal["none", "active", "in_remission", "in_treatment"]

#: Score ranges per instrument, inclusive.
INSTRUMENT_RANGES: dict[str, tuple[int, int]] = {
    "phq9": (0, 27),
    "madrs": (0, 60),
    "hamd17": (0, 52),
    "bdi2": (0, 63),
    "qids_sr16": (0, 27),
}
INSTRUMENT_LABELS: dict[str, str] = {
    "phq9": "PHQ-9",
    "madrs": "MADRS",
    "hamd17": "HAM-D17",
    "bdi2": "BDI-II",
    "qids_sr16": "QIDS-SR16",
}
ESKETAMINE_DOSES = (28, 56, 84)
#: What a ``case_id`` may be (case-format.md); it names files nowhere, but it must never hold a path.
CASE_ID_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (no spaces or slashes)"


#: Strings bounded by :data:`coverage.fields.BOUNDS`, with no control characters.
IdText = Annotated[str, Field(min_length=1, max_length=BOUNDS["id"], pattern=CLEAN_TEXT_PATTERN)]
CodeText = Annotated[str, Field(min_length=1, max_length=BOUNDS["code"], pattern=CLEAN_TEXT_PATTERN)]
ShortText = Annotated[str, Field(max_length=BOUNDS["short"], pattern=CLEAN_TEXT_PATTERN)]
NameText = Annotated[str, Field(max_length=BOUNDS["name"], pattern=CLEAN_TEXT_PATTERN)]
TitleText = Annotated[str, Field(max_length=BOUNDS["title"], pattern=CLEAN_TEXT_PATTERN)]
DrugName = Annotated[str, Field(min_length=1, max_length=BOUNDS["name"], pattern=CLEAN_TEXT_PATTERN)]
CaseId = Annotated[str, Field(pattern=CASE_ID_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Patient(_Strict):
    id: IdText
    given_name: NameText | None = None
    family_name: NameText | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    pregnant: bool | None = None

    @property
    def full_name(self) -> str:
        """Given and family name, or the patient id when the case carries no name."""
        parts = [p for p in (self.given_name, self.family_name) if p]
        return " ".join(parts) if parts else self.id


class Coverage(_Strict):
    plan_type: PlanType
    policy_id: IdText | None = None
    payer_name: TitleText | None = None
    member_id: ShortText | None = None
    group_number: ShortText | None = None
    out_of_network_benefits: bool | None = None
    account_type: AccountType | None = None


class Prescriber(_Strict):
    npi: ShortText | None = None
    name: TitleText | None = None
    specialty: Specialty | None = None


class Setting(_Strict):
    name: TitleText | None = None
    rems_certified: bool | None = None
    rems_id: ShortText | None = None


class Request(_Strict):
    treatment: Treatment
    indication: Indication
    kind: Kind
    dose_mg: int | None = None
    start_date: dt.date | None = None
    therapy_start: dt.date | None = None
    prescriber: Prescriber | None = None
    setting: Setting | None = None
    patient_rems_enrolled: bool | None = None


class Diagnosis(_Strict):
    code: CodeText
    recorded: dt.date | None = None


class MedicationTrial(_Strict):
    drug: DrugName
    daily_dose_mg: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    start: dt.date
    end: dt.date | None = None
    outcome: TrialOutcome
    improvement_pct: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = None
    role: TrialRole


class Assessment(_Strict):
    instrument: Instrument
    score: int
    date: dt.date


class History(_Strict):
    aneurysmal_vascular_disease: bool | None = None
    arteriovenous_malformation: bool | None = None
    intracerebral_hemorrhage: bool | None = None
    ketamine_hypersensitivity: bool | None = None
    uncontrolled_hypertension: bool | None = None
    psychosis: bool | None = None
    psychosis_benefit_outweighs_risk: bool | None = None
    substance_use_disorder: SubstanceUse | None = None

    def flag(self, name: str) -> bool | None:
        """A history flag by its name in the case format."""
        value = getattr(self, name)
        return value if isinstance(value, bool) else None


class Suicidality(_Strict):
    acute_ideation_or_behavior: bool | None = None
    documented: dt.date | None = None


class Case(_Strict):
    """One patient's request for one treatment, validated."""

    case_id: CaseId
    as_of: dt.date
    patient: Patient
    coverage: Coverage
    request: Request
    diagnoses: Annotated[list[Diagnosis], Field(max_length=LIST_BOUNDS["diagnoses"])] | None = None
    episode_start: dt.date | None = None
    medication_trials: Annotated[list[MedicationTrial], Field(max_length=LIST_BOUNDS["medication_trials"])] | None = (
        None
    )
    assessments: Annotated[list[Assessment], Field(max_length=LIST_BOUNDS["assessments"])] | None = None
    history: History | None = None
    suicidality: Suicidality | None = None


HISTORY_FLAGS = tuple(name for name, info in History.model_fields.items() if info.annotation == bool | None)


@lru_cache(maxsize=4096)  # a clinic's cases name the same few prescribers
def npi_is_valid(npi: str) -> bool:
    """Luhn check over the prefix 80840 and the first nine digits (CMS NPI standard)."""
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit():
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return (10 - total % 10) % 10 == int(npi[9])


def format_loc(loc: Iterable[int | str]) -> str:
    """``('medication_trials', 1, 'end')`` as ``medication_trials[1].end``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "case"


def _pydantic_problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False, include_context=False):
        loc = [part for part in item["loc"] if not (isinstance(part, str) and part.startswith("function-"))]
        message = item["msg"]
        kind = item["type"]
        if kind == "extra_forbidden":
            message = "unknown field"
        elif kind == "missing":
            message = "required"
        elif kind == "string_pattern_mismatch":
            message = (
                CASE_ID_RULE if loc == ["case_id"] else "contains a control character or an invisible direction mark"
            )
        elif kind == "too_long" and isinstance(item["input"], list):
            message = f"at most {LIST_BOUNDS.get(str(loc[-1]), 0)} items"
        problems.append(f"{format_loc(loc)}: {message}")
    return problems


def _breaks_a_rule(case: Case, known_policies: Container[str] | None) -> bool:
    """Whether :func:`case_rule_problems` has anything to say: the same rules, with no text built.

    Fields are read from the models' ``__dict__`` where several are read from one model: on a
    pydantic model that is several times cheaper than attribute access, which pydantic routes
    through its ``__getattr__`` hook.
    """
    fields = case.__dict__
    as_of: dt.date = fields["as_of"]
    birth_date = fields["patient"].birth_date
    if birth_date is not None and birth_date > as_of:
        return True
    coverage = fields["coverage"].__dict__
    policy_id = coverage["policy_id"]
    if policy_id is None:
        if coverage["plan_type"] != "self_pay":
            return True
    elif known_policies is not None and policy_id not in known_policies:
        return True
    request = fields["request"].__dict__
    dose_mg = request["dose_mg"]
    if request["treatment"] == "esketamine":
        if dose_mg not in ESKETAMINE_DOSES:  # None included
            return True
    elif dose_mg is not None:
        return True
    therapy_start = request["therapy_start"]
    if therapy_start is not None and therapy_start > as_of:
        return True
    prescriber = request["prescriber"]
    if prescriber is not None:
        npi = prescriber.npi
        if npi is not None and not npi_is_valid(npi):
            return True
    for diagnosis in fields["diagnoses"] or ():
        recorded = diagnosis.recorded
        if recorded is not None and recorded > as_of:
            return True
    episode_start = fields["episode_start"]
    if episode_start is not None and episode_start > as_of:
        return True
    for trial in fields["medication_trials"] or ():
        trial_fields = trial.__dict__
        start, end = trial_fields["start"], trial_fields["end"]
        if start > as_of or (end is not None and end < start):
            return True
    for assessment in fields["assessments"] or ():
        assessment_fields = assessment.__dict__
        low, high = INSTRUMENT_RANGES[assessment_fields["instrument"]]
        if not low <= assessment_fields["score"] <= high or assessment_fields["date"] > as_of:
            return True
    suicidality = fields["suicidality"]
    if suicidality is not None:
        documented = suicidality.documented
        if documented is not None and documented > as_of:
            return True
    return False


def case_rule_problems(case: Case, known_policies: Container[str] | None) -> list[str]:
    """The format's rules that span fields; one ``path: problem`` line each.

    Every case of a batch goes through :func:`_breaks_a_rule` first: only a case it flags is
    gone through again here, field by field, to name each problem.
    """
    if not _breaks_a_rule(case, known_policies):
        return []
    problems: list[str] = []
    as_of = case.as_of

    def after_as_of(path: str, value: dt.date) -> None:
        problems.append(f"{path}: {value.isoformat()} is after as_of {as_of.isoformat()}")

    birth_date = case.patient.birth_date
    if birth_date is not None and birth_date > as_of:
        # The birth date is PHI: the message names the field, never the value.
        problems.append(f"patient.birth_date: after as_of {as_of.isoformat()}")

    coverage = case.coverage
    if coverage.policy_id is None:
        if coverage.plan_type != "self_pay":
            problems.append("coverage.policy_id: required unless plan_type is self_pay")
    elif known_policies is not None and coverage.policy_id not in known_policies:
        problems.append(f"coverage.policy_id: unknown policy {coverage.policy_id!r}")

    request = case.request
    if request.treatment == "esketamine":
        if request.dose_mg is None:
            problems.append("request.dose_mg: required for esketamine (28, 56 or 84)")
        elif request.dose_mg not in ESKETAMINE_DOSES:
            problems.append(f"request.dose_mg: {request.dose_mg} is not 28, 56 or 84")
    elif request.dose_mg is not None:
        problems.append("request.dose_mg: must be absent or null for iv_ketamine")
    if request.therapy_start is not None and request.therapy_start > as_of:
        after_as_of("request.therapy_start", request.therapy_start)
    npi = request.prescriber.npi if request.prescriber is not None else None
    if npi is not None and not npi_is_valid(npi):
        problems.append("request.prescriber.npi: not a valid NPI (10 digits with a Luhn check digit)")

    for i, diagnosis in enumerate(case.diagnoses or ()):
        if diagnosis.recorded is not None and diagnosis.recorded > as_of:
            after_as_of(f"diagnoses[{i}].recorded", diagnosis.recorded)
    if case.episode_start is not None and case.episode_start > as_of:
        after_as_of("episode_start", case.episode_start)
    for i, trial in enumerate(case.medication_trials or ()):
        if trial.start > as_of:
            after_as_of(f"medication_trials[{i}].start", trial.start)
        if trial.end is not None and trial.end < trial.start:
            problems.append(f"medication_trials[{i}].end: before start {trial.start.isoformat()}")
    for i, assessment in enumerate(case.assessments or ()):
        low, high = INSTRUMENT_RANGES[assessment.instrument]
        if not low <= assessment.score <= high:
            problems.append(
                f"assessments[{i}].score: {assessment.score} is outside {low}-{high} for {assessment.instrument}"
            )
        if assessment.date > as_of:
            after_as_of(f"assessments[{i}].date", assessment.date)
    documented = case.suicidality.documented if case.suicidality is not None else None
    if documented is not None and documented > as_of:
        after_as_of("suicidality.documented", documented)
    return problems


def parse_case(data: str | bytes, known_policies: Container[str] | None = None) -> Case:
    """Validate a case from its JSON text, or raise :class:`InvalidCase` naming every problem.

    ``known_policies`` lists the loaded policy ids; ``None`` skips that check.
    """
    if len(data) > MAX_CASE_BYTES:
        raise InvalidCase([f"case: larger than {MAX_CASE_BYTES // 1024} KB; a case is a few KB"])
    try:
        # The compiled validator itself: what model_validate_json calls, minus its wrapper.
        case: Case = Case.__pydantic_validator__.validate_json(data)
    except ValidationError as error:
        raise InvalidCase(_pydantic_problems(error)) from None
    problems = case_rule_problems(case, known_policies)
    if problems:
        raise InvalidCase(problems)
    return case


def parse_case_object(data: dict[str, Any], known_policies: Container[str] | None = None) -> Case:
    """Validate a case given as a decoded JSON object (same rules as :func:`parse_case`)."""
    return parse_case(json.dumps(data), known_policies)
