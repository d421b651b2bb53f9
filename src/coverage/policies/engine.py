"""The coverage engine: a pure function from (case, policy, drug table) to a determination.

It follows ``shared/domain/reference-policies.md`` to the letter; each criterion function
below says which rule it implements. No I/O and no infrastructure imports here: the caller
loads the policy and the drug table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from coverage.cases import INSTRUMENT_LABELS, Case, MedicationTrial
from coverage.determinations import (
    Alternative,
    BillingLine,
    CriterionResult,
    Determination,
    NextStep,
    Outcome,
    Status,
)
from coverage.drugs import Drug, DrugTable
from coverage.policies.billing import billing_lines
from coverage.policies.loader import LoadedPolicy
from coverage.policies.schema import (
    AgeCriterion,
    AugmentationTrialsCriterion,
    ConcurrentAntidepressantCriterion,
    ContinuationAllowedCriterion,
    ContraindicationsCriterion,
    DiagnosisCriterion,
    FailedTrialsCriterion,
    Pathway,
    PregnancyCriterion,
    PrescriberCriterion,
    PsychosisCriterion,
    RemsCriterion,
    ResponseCriterion,
    SeverityCriterion,
    SubstanceUseCriterion,
    SuicidalityCriterion,
    TreatmentPolicy,
    normalize_code,
)

TREATMENT_LABELS = {"esketamine": "esketamine", "iv_ketamine": "IV ketamine"}
OTHER_TREATMENT = {"esketamine": "iv_ketamine", "iv_ketamine": "esketamine"}

MET: Status = "met"
NOT_MET: Status = "not_met"
MISSING: Status = "missing"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _mg(value: float) -> str:
    return f"{value:g} mg"


def _listing(items: list[str]) -> str:
    return ", ".join(items)


class _Facts:
    """What the criteria ask of one case, worked out once and shared by every pathway evaluated."""

    __slots__ = ("_codes", "_drugs", "_trials", "as_of", "case", "max_improvement_pct", "results")

    def __init__(self, case: Case, drugs: DrugTable, max_improvement_pct: float) -> None:
        self.case = case
        self.as_of = case.as_of
        self.max_improvement_pct = max_improvement_pct
        self.results: dict[str, CriterionResult] = {}
        self._drugs = drugs
        self._trials: list[tuple[MedicationTrial, Drug | None]] | None = None
        self._codes: list[tuple[str, str]] | None = None

    @property
    def trials(self) -> list[tuple[MedicationTrial, Drug | None]]:
        """Each medication trial with its drug from the table (``None`` when unknown); resolved once."""
        if self._trials is None:
            resolve = self._drugs.resolve
            self._trials = [(trial, resolve(trial.drug)) for trial in self.case.medication_trials or ()]
        return self._trials

    @property
    def codes(self) -> list[tuple[str, str]]:
        """Each diagnosis code as written and normalized; worked out once."""
        if self._codes is None:
            self._codes = [(d.code, normalize_code(d.code)) for d in self.case.diagnoses or ()]
        return self._codes

    def failed(self, trial: MedicationTrial) -> bool:
        """The failure test: intolerance; else improvement at most the policy's maximum; else the outcome."""
        if trial.outcome == "intolerance":
            return True
        if trial.improvement_pct is not None:
            return trial.improvement_pct <= self.max_improvement_pct
        return trial.outcome == "inadequate_response"


def _trial_name(trial: MedicationTrial, drug: Drug | None) -> str:
    written = trial.drug.strip() or "an unnamed drug"
    if drug is not None and written.lower() != drug.name.lower():
        return f"{written} ({drug.name})"
    return written


def _why_not_failed(trial: MedicationTrial) -> str:
    if trial.improvement_pct is not None:
        return f"{trial.improvement_pct:g}% improvement is above the non-response limit"
    return f"outcome {trial.outcome} is not a failure"


def _count_trials(facts: _Facts, role: str, min_weeks: int, current_episode: bool) -> tuple[list[Drug], list[str]]:
    """The distinct drugs whose trials count under the trial rules, and why each other trial does not.

    A trial of ``role`` (in the case and in the drug table) counts when it failed, its end date
    (the earlier of its end and ``as_of``) reaches the episode when ``current_episode``, and,
    unless it failed by intolerance, its dose reaches the drug's minimum adequate dose and it
    lasted ``min_weeks`` (from the later of its start and the episode start when
    ``current_episode``). The same drug counts once.
    """
    as_of = facts.as_of
    episode_start = facts.case.episode_start
    needed_days = min_weeks * 7
    counted: dict[str, Drug] = {}
    reasons: list[str] = []
    for trial, drug in facts.trials:
        if trial.role != role:
            continue
        if drug is None:
            reasons.append(f"{_trial_name(trial, drug)} is not in the drug table")
            continue
        if drug.role != role:
            reasons.append(f"{_trial_name(trial, drug)} is listed as an {drug.role} agent")
            continue
        if not facts.failed(trial):
            reasons.append(f"{_trial_name(trial, drug)} did not fail ({_why_not_failed(trial)})")
            continue
        end = trial.end if trial.end is not None and trial.end < as_of else as_of
        start = trial.start
        if current_episode:
            assert episode_start is not None  # the caller reports missing first
            if end < episode_start:
                began = episode_start.isoformat()
                reasons.append(
                    f"{_trial_name(trial, drug)} ended {end.isoformat()}, before the current episode ({began})"
                )
                continue
            start = max(start, episode_start)
        if trial.outcome != "intolerance":
            if trial.daily_dose_mg < drug.min_adequate_daily_mg:
                dose, floor = _mg(trial.daily_dose_mg), _mg(drug.min_adequate_daily_mg)
                reasons.append(f"{_trial_name(trial, drug)} {dose}/day is below the {floor} minimum")
                continue
            days = (end - start).days
            if days < needed_days:
                where = " in the current episode" if current_episode else ""
                reasons.append(f"{_trial_name(trial, drug)} lasted {_plural(days, 'day')}{where}, {needed_days} needed")
                continue
        if drug.name in counted:
            reasons.append(f"{_trial_name(trial, drug)} already counted")
            continue
        counted[drug.name] = drug
    return list(counted.values()), reasons


def count_trials(
    case: Case,
    drugs: DrugTable,
    *,
    role: str,
    min_weeks: int,
    current_episode: bool,
    max_improvement_pct: float = 25.0,
) -> tuple[list[Drug], list[str]]:
    """The trial-counting rule on its own, for documents that explain each trial.

    The distinct drugs that count, and one reason for each trial of ``role`` that does not;
    ``current_episode`` needs the case's ``episode_start``.
    """
    return _count_trials(_Facts(case, drugs, max_improvement_pct), role, min_weeks, current_episode)


def _trials_missing(facts: _Facts, current_episode: bool) -> str | None:
    if not facts.case.medication_trials:
        return "no medication trials documented"
    if current_episode and facts.case.episode_start is None:
        return "start of the current episode not documented"
    return None


def _with_reasons(text: str, reasons: list[str]) -> str:
    return f"{text}; not counted: {'; '.join(reasons)}" if reasons else text


def check_age(c: AgeCriterion, facts: _Facts) -> CriterionResult:
    """Whole years at ``as_of``; born on 29 February turns a year older on 1 March in common years."""
    birth = facts.case.patient.birth_date
    if birth is None:
        return CriterionResult("age", MISSING, "no birth date")
    as_of = facts.as_of
    years = as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))
    text = f"{years} years on {as_of.isoformat()}"
    if years < c.min_age or (c.max_age is not None and years > c.max_age):
        needed = f"{c.min_age} to {c.max_age}" if c.max_age is not None else f"{c.min_age} or older"
        return CriterionResult("age", NOT_MET, f"{text}; {needed} required")
    return CriterionResult("age", MET, text)


def check_diagnosis(c: DiagnosisCriterion, facts: _Facts) -> CriterionResult:
    """Allowed codes match exactly, excluded ones by prefix, after normalizing the code."""
    codes = facts.codes
    if not codes:
        return CriterionResult("diagnosis", MISSING, "no diagnosis recorded")
    accepted: list[str] = []
    for written, code in codes:
        for prefix in c.excluded:
            if code.startswith(prefix):
                return CriterionResult("diagnosis", NOT_MET, f"{written} is excluded")
        if code in c.allowed:
            accepted.append(written)
    if accepted:
        return CriterionResult(
            "diagnosis", MET, f"{_listing(accepted)} {'is' if len(accepted) == 1 else 'are'} accepted"
        )
    return CriterionResult("diagnosis", NOT_MET, f"no accepted code among {_listing([w for w, _ in codes])}")


def check_failed_trials(c: FailedTrialsCriterion, facts: _Facts) -> CriterionResult:
    """Distinct failed antidepressants at an adequate dose and duration, in enough classes."""
    missing = _trials_missing(facts, c.current_episode)
    if missing:
        return CriterionResult("failed_trials", MISSING, missing)
    drugs, reasons = _count_trials(facts, "antidepressant", c.min_weeks, c.current_episode)
    classes = {drug.drug_class for drug in drugs}
    named = f" ({_listing([f'{d.name} {d.drug_class}' for d in drugs])})" if drugs else ""
    text = (
        f"{_plural(len(drugs), 'qualifying trial')} in {_plural(len(classes), 'class', 'classes')}{named}; "
        f"{c.min_trials} in {_plural(c.min_classes, 'class', 'classes')} needed"
    )
    status = MET if len(drugs) >= c.min_trials and len(classes) >= c.min_classes else NOT_MET
    return CriterionResult("failed_trials", status, _with_reasons(text, reasons))


def check_augmentation_trials(c: AugmentationTrialsCriterion, facts: _Facts) -> CriterionResult:
    """The trial rules over augmentation agents; classes are not counted."""
    missing = _trials_missing(facts, c.current_episode)
    if missing:
        return CriterionResult("augmentation_trials", MISSING, missing)
    drugs, reasons = _count_trials(facts, "augmentation", c.min_weeks, c.current_episode)
    named = f" ({_listing([d.name for d in drugs])})" if drugs else ""
    text = f"{_plural(len(drugs), 'qualifying augmentation trial')}{named}; {c.min_trials} needed"
    status = MET if len(drugs) >= c.min_trials else NOT_MET
    return CriterionResult("augmentation_trials", status, _with_reasons(text, reasons))


def check_concurrent_antidepressant(c: ConcurrentAntidepressantCriterion, facts: _Facts) -> CriterionResult:
    """An antidepressant ongoing at ``as_of``, started long enough ago and not failed before."""
    as_of = facts.as_of
    reasons: list[str] = []
    ongoing_any = False
    for trial, drug in facts.trials:
        if trial.role != "antidepressant" or drug is None or drug.role != "antidepressant":
            continue
        if trial.end is not None and trial.end <= as_of:
            continue
        ongoing_any = True
        name = _trial_name(trial, drug)
        days = (as_of - trial.start).days
        if c.min_days is not None and days < c.min_days:
            reasons.append(f"{name} started {_plural(days, 'day')} ago, {c.min_days} needed")
            continue
        if c.not_previously_failed and any(
            other is not trial
            and other_drug is drug
            and other.end is not None
            and other.end < as_of
            and facts.failed(other)
            for other, other_drug in facts.trials
        ):
            reasons.append(f"{name} already failed in an earlier trial")
            continue
        return CriterionResult("concurrent_antidepressant", MET, f"{name} ongoing since {trial.start.isoformat()}")
    if not ongoing_any:
        return CriterionResult(
            "concurrent_antidepressant", NOT_MET, f"no antidepressant ongoing on {as_of.isoformat()}"
        )
    return CriterionResult("concurrent_antidepressant", NOT_MET, "; ".join(reasons))


def check_severity(c: SeverityCriterion, facts: _Facts) -> CriterionResult:
    """A score of an accepted instrument within the window that reaches its minimum."""
    minimum = c.minimum
    as_of = facts.as_of
    window = c.window_days
    counted = [a for a in facts.case.assessments or () if a.instrument in minimum and (as_of - a.date).days <= window]
    if not counted:
        return CriterionResult("severity", MISSING, f"no {c.accepted} score within {c.window_days} days")
    for a in counted:
        floor = minimum[a.instrument]
        if floor is None or a.score >= floor:
            return CriterionResult(
                "severity", MET, f"{INSTRUMENT_LABELS[a.instrument]} {a.score} on {a.date.isoformat()}"
            )
    seen = _listing([f"{INSTRUMENT_LABELS[a.instrument]} {a.score} on {a.date.isoformat()}" for a in counted])
    return CriterionResult("severity", NOT_MET, f"{seen}; {c.accepted} needed")


def check_prescriber(c: PrescriberCriterion, facts: _Facts) -> CriterionResult:
    """The prescriber's specialty is one the policy accepts."""
    prescriber = facts.case.request.prescriber
    specialty = prescriber.specialty if prescriber is not None else None
    if specialty is None:
        return CriterionResult("prescriber", MISSING, "prescriber specialty not documented")
    if specialty in c.specialties:
        return CriterionResult("prescriber", MET, f"{specialty} is accepted")
    return CriterionResult("prescriber", NOT_MET, f"{specialty} is not {' or '.join(c.specialties)}")


def check_rems(_: RemsCriterion, facts: _Facts) -> CriterionResult:
    """The setting is REMS-certified and the patient enrolled."""
    request = facts.case.request
    certified = request.setting.rems_certified if request.setting is not None else None
    enrolled = request.patient_rems_enrolled
    if certified is True and enrolled is True:
        return CriterionResult("rems", MET, "setting REMS-certified and patient enrolled")
    if certified is False or enrolled is False:
        problems = []
        if certified is False:
            problems.append("setting not REMS-certified")
        if enrolled is False:
            problems.append("patient not enrolled in the REMS")
        return CriterionResult("rems", NOT_MET, "; ".join(problems))
    unknown = []
    if certified is None:
        unknown.append("setting certification")
    if enrolled is None:
        unknown.append("patient enrollment")
    return CriterionResult("rems", MISSING, f"REMS {' and '.join(unknown)} not documented")


def check_contraindications(c: ContraindicationsCriterion, facts: _Facts) -> CriterionResult:
    """None of the listed history flags is true; every one is known."""
    history = facts.case.history
    if history is None:
        return CriterionResult("contraindications", MISSING, f"not documented: {c.listed}")
    present = [name for name in c.conditions if getattr(history, name) is True]
    if present:
        return CriterionResult("contraindications", NOT_MET, f"documented: {_listing(present)}")
    unknown = [name for name in c.conditions if getattr(history, name) is None]
    if unknown:
        return CriterionResult("contraindications", MISSING, f"not documented: {_listing(unknown)}")
    return CriterionResult("contraindications", MET, f"none of {c.listed}")


def check_psychosis(c: PsychosisCriterion, facts: _Facts) -> CriterionResult:
    """No history of psychosis, or (where allowed) an attestation that benefit outweighs risk."""
    history = facts.case.history
    psychotic_code = next((written for written, code in facts.codes if code in c.psychotic_codes), None)
    psychosis = True if psychotic_code is not None else (history.psychosis if history is not None else None)
    if psychosis is None:
        return CriterionResult("psychosis", MISSING, "history of psychosis not documented")
    if not psychosis:
        return CriterionResult("psychosis", MET, "no history of psychosis")
    source = f"diagnosis {psychotic_code}" if psychotic_code is not None else "history of psychosis"
    attested = history is not None and history.psychosis_benefit_outweighs_risk is True
    if c.attestation_allowed and attested:
        return CriterionResult("psychosis", MET, f"{source}; prescriber attests benefit outweighs risk")
    if c.attestation_allowed:
        return CriterionResult("psychosis", NOT_MET, f"{source} without an attestation that benefit outweighs risk")
    return CriterionResult("psychosis", NOT_MET, f"{source}; the policy accepts no attestation")


def check_substance_use(_: SubstanceUseCriterion, facts: _Facts) -> CriterionResult:
    """No active substance use disorder."""
    history = facts.case.history
    value = history.substance_use_disorder if history is not None else None
    if value is None:
        return CriterionResult("substance_use", MISSING, "substance use history not documented")
    if value == "active":
        return CriterionResult("substance_use", NOT_MET, "active substance use disorder")
    return CriterionResult("substance_use", MET, f"substance use disorder: {value.replace('_', ' ')}")


def check_pregnancy(_: PregnancyCriterion, facts: _Facts) -> CriterionResult:
    """Not pregnant (known, or male)."""
    patient = facts.case.patient
    if patient.pregnant is True:
        return CriterionResult("pregnancy", NOT_MET, "patient is pregnant")
    if patient.pregnant is False:
        return CriterionResult("pregnancy", MET, "not pregnant")
    if patient.sex == "male":
        return CriterionResult("pregnancy", MET, "male patient")
    return CriterionResult("pregnancy", MISSING, "pregnancy status not documented")


def check_suicidality(c: SuicidalityCriterion, facts: _Facts) -> CriterionResult:
    """Acute suicidal ideation or behavior documented within the window (MDSI)."""
    s = facts.case.suicidality
    acute = s.acute_ideation_or_behavior if s is not None else None
    if acute is None:
        return CriterionResult("suicidality", MISSING, "acute suicidal ideation or behavior not documented")
    if not acute:
        return CriterionResult("suicidality", NOT_MET, "no acute suicidal ideation or behavior")
    assert s is not None
    if s.documented is None:
        return CriterionResult("suicidality", MISSING, "acute suicidal ideation documented without a date")
    if (facts.as_of - s.documented).days > c.window_days:
        return CriterionResult(
            "suicidality", NOT_MET, f"documented {s.documented.isoformat()}, more than {c.window_days} days ago"
        )
    return CriterionResult(
        "suicidality", MET, f"acute suicidal ideation or behavior documented {s.documented.isoformat()}"
    )


def _percent(value: Fraction) -> str:
    return f"{float(value):.1f}".rstrip("0").rstrip(".") + "%"


def check_response(c: ResponseCriterion, facts: _Facts) -> CriterionResult:
    """Improvement from the baseline (on or before therapy start) to a current score, exactly."""
    therapy_start = facts.case.request.therapy_start
    if therapy_start is None:
        return CriterionResult("response", MISSING, "start of the current course (therapy_start) not documented")
    as_of = facts.as_of
    window = c.current_window_days
    threshold = Fraction(c.min_improvement_pct)
    comparison = ">" if c.strictly_greater else ">="
    seen: list[str] = []
    for instrument in c.instruments:
        baseline = current = None
        for a in facts.case.assessments or ():
            if a.instrument != instrument:
                continue
            if a.date <= therapy_start:
                if baseline is None or a.date >= baseline.date:
                    baseline = a
            elif (as_of - a.date).days <= window and (current is None or a.date >= current.date):
                current = a
        if baseline is None or current is None:
            continue
        label = INSTRUMENT_LABELS[instrument]
        if baseline.score == 0:
            seen.append(f"{label} baseline is 0")
            continue
        improvement = Fraction(baseline.score - current.score, baseline.score) * 100
        text = (
            f"{label} {baseline.score} on {baseline.date.isoformat()} to {current.score} on "
            f"{current.date.isoformat()}: {_percent(improvement)} improvement"
        )
        if improvement > threshold or (not c.strictly_greater and improvement == threshold):
            return CriterionResult("response", MET, f"{text}; {comparison} {c.min_improvement_pct:g}% needed")
        seen.append(text)
    if not seen:
        names = " or ".join(INSTRUMENT_LABELS[i] for i in c.instruments)
        return CriterionResult(
            "response",
            MISSING,
            f"no {names} baseline on or before {therapy_start.isoformat()} with a score "
            f"within {c.current_window_days} days",
        )
    return CriterionResult("response", NOT_MET, f"{'; '.join(seen)}; {comparison} {c.min_improvement_pct:g}% needed")


def check_continuation_allowed(_: ContinuationAllowedCriterion, facts: _Facts) -> CriterionResult:
    """The policy does not re-authorize this pathway."""
    return CriterionResult("continuation_allowed", NOT_MET, "the policy allows no continuation for this indication")


_CHECKS: dict[type, Callable[[Any, _Facts], CriterionResult]] = {
    AgeCriterion: check_age,
    DiagnosisCriterion: check_diagnosis,
    FailedTrialsCriterion: check_failed_trials,
    AugmentationTrialsCriterion: check_augmentation_trials,
    ConcurrentAntidepressantCriterion: check_concurrent_antidepressant,
    SeverityCriterion: check_severity,
    PrescriberCriterion: check_prescriber,
    RemsCriterion: check_rems,
    ContraindicationsCriterion: check_contraindications,
    PsychosisCriterion: check_psychosis,
    SubstanceUseCriterion: check_substance_use,
    PregnancyCriterion: check_pregnancy,
    SuicidalityCriterion: check_suicidality,
    ResponseCriterion: check_response,
    ContinuationAllowedCriterion: check_continuation_allowed,
}


SELF_PAY = CriterionResult("coverage", NOT_MET, "self-pay: no insurance policy applies")


def _coverage_gap(policy: LoadedPolicy, treatment: str, indication: str, kind: str) -> CriterionResult | None:
    """The ``coverage`` criterion not met, saying why no pathway applies; ``None`` when one does."""
    label = TREATMENT_LABELS[treatment]
    terms = policy.policy.for_treatment(treatment)
    if not terms.covered:
        note = f" ({terms.note})" if terms.note else ""
        return CriterionResult("coverage", NOT_MET, f"{policy.policy.id} does not cover {label}{note}")
    if terms.pathway(indication, kind) is None:
        text = f"{policy.policy.id} has no {indication.upper()} {kind} pathway for {label}"
        return CriterionResult("coverage", NOT_MET, text)
    return None


@dataclass(frozen=True, slots=True)
class _CompiledPathway:
    """A pathway ready to run: each criterion with its check and its content key."""

    terms: TreatmentPolicy
    pathway: Pathway
    coverage: CriterionResult
    steps: tuple[tuple[str, Callable[[Any, _Facts], CriterionResult], Any], ...]


def _compiled(policy: LoadedPolicy, treatment: str, indication: str, kind: str) -> _CompiledPathway | CriterionResult:
    """The pathway ready to run, or the unmet ``coverage`` criterion; worked out once per policy."""
    key = (treatment, indication, kind)
    compiled: _CompiledPathway | CriterionResult | None = policy.compiled.get(key)
    if compiled is None:
        compiled = _coverage_gap(policy, treatment, indication, kind) or _compile(policy, treatment, indication, kind)
        policy.compiled[key] = compiled
    return compiled


def _compile(policy: LoadedPolicy, treatment: str, indication: str, kind: str) -> _CompiledPathway:
    terms = policy.policy.for_treatment(treatment)
    pathway = terms.pathway(indication, kind)
    assert pathway is not None
    pa = "prior authorization required" if terms.prior_authorization else "no prior authorization required"
    return _CompiledPathway(
        terms=terms,
        pathway=pathway,
        coverage=CriterionResult("coverage", MET, f"{TREATMENT_LABELS[treatment]} is covered; {pa}"),
        steps=tuple((c.model_dump_json(), _CHECKS[type(c)], c) for c in pathway.criteria),
    )


def _evaluate_pathway(
    facts: _Facts,
    policy: LoadedPolicy | None,
    treatment: str,
    indication: str,
    kind: str,
    *,
    outcome_only: bool = False,
) -> tuple[Outcome, tuple[CriterionResult, ...], Pathway | None, TreatmentPolicy | None]:
    """The outcome of one pathway with its criteria.

    ``outcome_only`` (the alternative, reported by its outcome alone) stops at the first
    ``not_met``: by the precedence of outcomes nothing after it can change the answer.
    """
    if facts.case.coverage.plan_type == "self_pay":
        return "not_covered", (SELF_PAY,), None, None
    assert policy is not None  # parse_case requires a policy unless self-pay
    compiled = _compiled(policy, treatment, indication, kind)
    if isinstance(compiled, CriterionResult):
        return "not_covered", (compiled,), None, None
    results = [compiled.coverage]
    # Results by criterion content: the alternative pathway usually repeats most criteria of
    # the requested one (age, diagnosis, trials, ...), which are then decided once per case.
    known = facts.results
    not_met = missing = False
    for key, check, criterion in compiled.steps:
        result = known.get(key)
        if result is None:
            result = known[key] = check(criterion, facts)
        results.append(result)
        if result.status != MET:
            if result.status == NOT_MET:
                not_met = True
                if outcome_only:
                    break
            else:
                missing = True
    outcome: Outcome
    if not_met:
        outcome = "does_not_meet_criteria"
    elif missing:
        outcome = "missing_documentation"
    elif not compiled.terms.prior_authorization:
        outcome = "no_pa_required"
    else:
        outcome = "meets_criteria"
    return outcome, tuple(results), compiled.pathway, compiled.terms


_NEXT_STEPS: dict[str, NextStep] = {
    "meets_criteria": "submit_prior_auth",
    "missing_documentation": "collect_documentation",
    "no_pa_required": "schedule_treatment",
}


def evaluate(case: Case, policy: LoadedPolicy | None, drugs: DrugTable) -> Determination:
    """Decide what ``policy`` says about the case's requested treatment, and what to do next.

    ``policy`` is the case's policy (``None`` only for a self-pay case that names none).
    ``alternatives`` reports the other treatment evaluated as TRD, initial; no criterion reads
    the dose, so the reference's "esketamine at 56 mg" for an IV request changes nothing here.
    """
    max_improvement = policy.policy.max_improvement_pct if policy is not None else 25.0
    facts = _Facts(case, drugs, max_improvement)
    request = case.request
    outcome, criteria, pathway, terms = _evaluate_pathway(
        facts, policy, request.treatment, request.indication, request.kind
    )
    alternative_treatment = OTHER_TREATMENT[request.treatment]
    alternative_outcome = _evaluate_pathway(facts, policy, alternative_treatment, "trd", "initial", outcome_only=True)[
        0
    ]

    next_step = _NEXT_STEPS.get(outcome)
    if next_step is None:
        next_step = (
            "consider_alternative"
            if alternative_outcome in ("meets_criteria", "no_pa_required")
            else "offer_payment_plan"
        )
    authorization_days = None
    billing: tuple[BillingLine, ...] = ()
    if pathway is not None and terms is not None and policy is not None:
        if terms.prior_authorization:
            authorization_days = pathway.authorization_days
        billing = billing_lines(
            policy.policy.billing_scheme, request.treatment, request.dose_mg, request.start_date or case.as_of
        )
    return Determination(
        case_id=case.case_id,
        policy_id=policy.policy.id if policy is not None else None,
        policy_version=policy.policy.version if policy is not None else None,
        policy_hash=policy.hash if policy is not None else None,
        treatment=request.treatment,
        indication=request.indication,
        kind=request.kind,
        outcome=outcome,
        next_step=next_step,
        criteria=criteria,
        authorization_days=authorization_days,
        billing=billing,
        alternatives=(Alternative(alternative_treatment, "trd", alternative_outcome),),
    )
