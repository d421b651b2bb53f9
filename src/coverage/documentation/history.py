"""The prior-treatment history for the packet, assembled from case, policy and determination.

Whether a trial counts, and why not, comes from the engine itself: each trial is put through
the engine's own trial-counting rule (``coverage.policies.engine``) on its own, so the packet
can never disagree with the determination. Nothing here decides coverage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from coverage.cases import INSTRUMENT_LABELS, INSTRUMENT_RANGES, Case, MedicationTrial
from coverage.determinations import Determination
from coverage.documentation.requirements import (
    CONDITION_LABELS,
    CRITERION_LABELS,
    diagnosis_title,
    requirement_text,
)
from coverage.drugs import DrugTable

# The engine's trial rules, reused rather than re-implemented (see the module docstring).
from coverage.policies.engine import count_trials
from coverage.policies.loader import LoadedPolicy
from coverage.policies.schema import (
    AugmentationTrialsCriterion,
    Criterion,
    FailedTrialsCriterion,
    Pathway,
    ResponseCriterion,
    SeverityCriterion,
)

OUTCOME_LABELS: dict[str, str] = {
    "inadequate_response": "Inadequate response",
    "partial_response": "Partial response",
    "response": "Response",
    "intolerance": "Stopped: intolerance",
    "unknown": "Unknown",
}

#: Severity bands per instrument, (upper bound inclusive, label) (shared/domain/README.md).
SEVERITY_BANDS: dict[str, tuple[tuple[int, str], ...]] = {
    "phq9": ((4, "minimal"), (9, "mild"), (14, "moderate"), (19, "moderately severe"), (27, "severe")),
    "madrs": ((6, "normal"), (19, "mild"), (34, "moderate"), (60, "severe")),
    "hamd17": ((7, "normal"), (13, "mild"), (18, "moderate"), (22, "severe"), (52, "very severe")),
    "bdi2": ((13, "minimal"), (19, "mild"), (28, "moderate"), (63, "severe")),
    "qids_sr16": ((5, "none"), (10, "mild"), (15, "moderate"), (20, "severe"), (27, "very severe")),
}

STATUS_LABELS = {"met": "Met", "not_met": "Not met", "missing": "Missing"}


def severity_band(instrument: str, score: int) -> str:
    """The severity band of a score on its instrument."""
    for upper, label in SEVERITY_BANDS[instrument]:
        if score <= upper:
            return label
    return SEVERITY_BANDS[instrument][-1][1]


@dataclass(frozen=True, slots=True)
class TrialRow:
    """One medication trial as the packet's table prints it."""

    number: int
    drug: str
    generic: str | None
    drug_class: str | None
    role: str
    daily_dose_mg: float
    min_adequate_mg: float | None
    dose_adequate: bool | None
    start: dt.date
    end: dt.date | None
    weeks_in_episode: float | None
    outcome: str
    improvement_pct: float | None
    counts: bool | None
    reason: str

    @property
    def dose_text(self) -> str:
        return f"{self.daily_dose_mg:g} mg"

    @property
    def minimum_text(self) -> str:
        return f"{self.min_adequate_mg:g} mg" if self.min_adequate_mg is not None else "not listed"

    @property
    def weeks_text(self) -> str:
        return f"{self.weeks_in_episode:.1f}" if self.weeks_in_episode is not None else "n/a"

    @property
    def improvement_text(self) -> str:
        return f"{self.improvement_pct:g}%" if self.improvement_pct is not None else "not recorded"

    @property
    def counts_text(self) -> str:
        if self.counts is None:
            return "Not assessed"
        return "Counts" if self.counts else "Does not count"


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """One rating-scale score with its severity band and the policy's minimum, if any."""

    instrument: str
    label: str
    score: int
    maximum: int
    date: dt.date
    band: str
    policy_minimum: int | None


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """Baseline and current score of one instrument, for continuation requests."""

    label: str
    baseline: int
    baseline_date: dt.date
    current: int
    current_date: dt.date
    improvement_pct: float | None

    @property
    def improvement_text(self) -> str:
        if self.improvement_pct is None:
            return "baseline 0"
        return f"{self.improvement_pct:.1f}".rstrip("0").rstrip(".") + "%"


@dataclass(frozen=True, slots=True)
class SafetyItem:
    """One line of the safety screen."""

    label: str
    value: str
    concern: bool


@dataclass(frozen=True, slots=True)
class CriterionRow:
    """One criterion of the determination with the policy's own wording of the requirement."""

    id: str
    label: str
    requirement: str
    status: str
    status_label: str
    detail: str


@dataclass(frozen=True, slots=True)
class DiagnosisRow:
    """One diagnosis with its ICD-10-CM title."""

    code: str
    title: str
    recorded: dt.date | None


@dataclass(frozen=True, slots=True)
class Documentation:
    """Everything the packet and the letters print about the clinical history."""

    diagnoses: tuple[DiagnosisRow, ...]
    trials: tuple[TrialRow, ...]
    antidepressant_trials: tuple[TrialRow, ...]
    augmentation_trials: tuple[TrialRow, ...]
    counted_antidepressants: int
    counted_classes: tuple[str, ...]
    counted_augmentations: int
    trial_rule: str | None
    augmentation_rule: str | None
    scores: tuple[ScoreRow, ...]
    severity_window_days: int | None
    thresholds: dict[str, int]
    responses: tuple[ResponseRow, ...]
    response_threshold_pct: float | None
    response_strictly_greater: bool
    criteria: tuple[CriterionRow, ...]
    rems: tuple[SafetyItem, ...]
    safety: tuple[SafetyItem, ...]

    @property
    def unmet(self) -> tuple[CriterionRow, ...]:
        """Criteria that are not met or lack documentation."""
        return tuple(c for c in self.criteria if c.status != "met")


def _humanize(detail: str) -> str:
    """The engine's detail with history flag ids written as words (``aneurysmal vascular disease``)."""
    for flag in sorted((f for f in CONDITION_LABELS if "_" in f), key=len, reverse=True):
        detail = detail.replace(flag, CONDITION_LABELS[flag])
    return detail


def _pathway(case: Case, policy: LoadedPolicy | None) -> Pathway | None:
    if policy is None or case.coverage.plan_type == "self_pay":
        return None
    terms = policy.policy.for_treatment(case.request.treatment)
    return terms.pathway(case.request.indication, case.request.kind)


def _first(pathway: Pathway | None, kind: type[Criterion]) -> Criterion | None:
    if pathway is None:
        return None
    return next((c for c in pathway.criteria if isinstance(c, kind)), None)


def _weeks_in_episode(trial: MedicationTrial, case: Case) -> float | None:
    """Weeks of the trial inside the counting window (reference-policies.md, ``failed_trials``)."""
    end = trial.end if trial.end is not None and trial.end < case.as_of else case.as_of
    if case.episode_start is None:
        return None
    start = max(trial.start, case.episode_start)
    return max((end - start).days, 0) / 7


def _trial_rows(
    case: Case, drugs: DrugTable, max_improvement_pct: float, rule: FailedTrialsCriterion | None, role: str
) -> tuple[list[TrialRow], set[str]]:
    """Each trial of ``role`` through the engine's counting rule alone; the same drug counts once."""
    rows: list[TrialRow] = []
    counted: set[str] = set()
    for number, trial in enumerate(case.medication_trials or (), start=1):
        if trial.role != role:
            continue
        drug = drugs.resolve(trial.drug)
        counts: bool | None = None
        reason = ""
        if rule is None:
            reason = "not a requirement of this policy pathway"
        elif rule.current_episode and case.episode_start is None:
            reason = "start of the current episode not documented"
        else:
            single = case.model_copy(update={"medication_trials": [trial]})
            qualifying, reasons = count_trials(
                single,
                drugs,
                role=role,
                min_weeks=rule.min_weeks,
                current_episode=rule.current_episode,
                max_improvement_pct=max_improvement_pct,
            )
            if qualifying and qualifying[0].name in counted:
                counts, reason = False, f"{qualifying[0].name} already counted in an earlier trial"
            elif qualifying:
                counts = True
                counted.add(qualifying[0].name)
                reason = (
                    "failed at an adequate dose and duration"
                    if trial.outcome != "intolerance"
                    else ("stopped for intolerance")
                )
            else:
                counts, reason = False, reasons[0] if reasons else "does not count"
        minimum = drug.min_adequate_daily_mg if drug is not None else None
        rows.append(
            TrialRow(
                number=number,
                drug=trial.drug.strip(),
                generic=drug.name if drug is not None else None,
                drug_class=drug.drug_class if drug is not None else None,
                role=trial.role,
                daily_dose_mg=trial.daily_dose_mg,
                min_adequate_mg=minimum,
                dose_adequate=trial.daily_dose_mg >= minimum if minimum is not None else None,
                start=trial.start,
                end=trial.end,
                weeks_in_episode=_weeks_in_episode(trial, case),
                outcome=OUTCOME_LABELS[trial.outcome],
                improvement_pct=trial.improvement_pct,
                counts=counts,
                reason=reason,
            )
        )
    return rows, counted


def _responses(case: Case, rule: ResponseCriterion | None) -> list[ResponseRow]:
    """Baseline (latest on or before therapy start) and current score (latest after it, in the window)."""
    therapy_start = case.request.therapy_start
    if therapy_start is None:
        return []
    window = rule.current_window_days if rule is not None else 30
    instruments = list(rule.instruments) if rule is not None else list(INSTRUMENT_LABELS)
    since = case.as_of - dt.timedelta(days=window)
    rows = []
    for instrument in instruments:
        baseline = current = None
        for a in case.assessments or ():
            if a.instrument != instrument:
                continue
            if a.date <= therapy_start:
                if baseline is None or a.date >= baseline.date:
                    baseline = a
            elif a.date >= since and (current is None or a.date >= current.date):
                current = a
        if baseline is None or current is None:
            continue
        improvement = float(Fraction(baseline.score - current.score, baseline.score) * 100) if baseline.score else None
        rows.append(
            ResponseRow(
                label=INSTRUMENT_LABELS[instrument],
                baseline=baseline.score,
                baseline_date=baseline.date,
                current=current.score,
                current_date=current.date,
                improvement_pct=improvement,
            )
        )
    return rows


def _yes_no(value: bool | None, yes: str = "Yes", no: str = "No") -> str:
    return "Not documented" if value is None else (yes if value else no)


def _safety(case: Case) -> list[SafetyItem]:
    history = case.history
    items = []
    for flag in (
        "aneurysmal_vascular_disease",
        "arteriovenous_malformation",
        "intracerebral_hemorrhage",
        "ketamine_hypersensitivity",
        "uncontrolled_hypertension",
        "psychosis",
    ):
        value = history.flag(flag) if history is not None else None
        items.append(SafetyItem(CONDITION_LABELS[flag].capitalize(), _yes_no(value), value is not False))
    if history is not None and history.psychosis:
        attested = history.psychosis_benefit_outweighs_risk
        items.append(SafetyItem("Prescriber attests benefit outweighs risk", _yes_no(attested), attested is not True))
    substance = history.substance_use_disorder if history is not None else None
    items.append(
        SafetyItem(
            "Substance use disorder",
            substance.replace("_", " ").capitalize() if substance else "Not documented",
            substance in (None, "active"),
        )
    )
    patient = case.patient
    if patient.sex == "male":
        items.append(SafetyItem("Pregnancy", "Not applicable (male)", concern=False))
    else:
        items.append(SafetyItem("Pregnant", _yes_no(patient.pregnant), patient.pregnant is not False))
    s = case.suicidality
    acute = s.acute_ideation_or_behavior if s is not None else None
    when = f" (documented {s.documented.isoformat()})" if s is not None and s.documented is not None else ""
    items.append(SafetyItem("Acute suicidal ideation or behavior", _yes_no(acute) + when, bool(acute)))
    return items


def _rems(case: Case) -> list[SafetyItem]:
    setting = case.request.setting
    certified = setting.rems_certified if setting is not None else None
    rems_id = setting.rems_id if setting is not None and setting.rems_id else None
    name = setting.name if setting is not None and setting.name else "Treatment setting"
    return [
        SafetyItem(
            f"{name} certified in the SPRAVATO® REMS",
            _yes_no(certified) + (f" (REMS ID {rems_id})" if rems_id and certified else ""),
            certified is not True,
        ),
        SafetyItem(
            "Patient enrolled in the REMS",
            _yes_no(case.request.patient_rems_enrolled),
            case.request.patient_rems_enrolled is not True,
        ),
        SafetyItem("Post-dose monitoring", "At least 2 hours on site after each dose", concern=False),
    ]


def assemble_documentation(
    *, case: Case, determination: Determination, policy: LoadedPolicy | None, drugs: DrugTable
) -> Documentation:
    """The packet's content: trials judged by the engine's rules, scores, safety and every criterion."""
    pathway = _pathway(case, policy)
    max_improvement = policy.policy.max_improvement_pct if policy is not None else 25.0
    trial_rule = _first(pathway, FailedTrialsCriterion)
    aug_rule = _first(pathway, AugmentationTrialsCriterion)
    assert trial_rule is None or isinstance(trial_rule, FailedTrialsCriterion)
    assert aug_rule is None or isinstance(aug_rule, AugmentationTrialsCriterion)
    # Augmentation trials follow the same rules with their own parameters (classes not counted).
    aug_as_trials = (
        FailedTrialsCriterion(
            id="failed_trials",
            min_trials=aug_rule.min_trials,
            min_weeks=aug_rule.min_weeks,
            current_episode=aug_rule.current_episode,
        )
        if aug_rule is not None
        else None
    )
    antidepressants, counted = _trial_rows(case, drugs, max_improvement, trial_rule, "antidepressant")
    augmentations, counted_aug = _trial_rows(case, drugs, max_improvement, aug_as_trials, "augmentation")
    all_trials = sorted(antidepressants + augmentations, key=lambda row: row.number)
    classes = sorted({row.drug_class for row in antidepressants if row.counts and row.drug_class})

    severity = _first(pathway, SeverityCriterion)
    assert severity is None or isinstance(severity, SeverityCriterion)
    thresholds: dict[str, int] = (
        {m.instrument: m.min_score for m in severity.instruments if m.min_score is not None}
        if severity is not None
        else {}
    )
    scores = tuple(
        ScoreRow(
            instrument=a.instrument,
            label=INSTRUMENT_LABELS[a.instrument],
            score=a.score,
            maximum=INSTRUMENT_RANGES[a.instrument][1],
            date=a.date,
            band=severity_band(a.instrument, a.score),
            policy_minimum=thresholds.get(a.instrument),
        )
        for a in sorted(case.assessments or (), key=lambda a: (a.date, a.instrument))
    )
    response = _first(pathway, ResponseCriterion)
    assert response is None or isinstance(response, ResponseCriterion)

    policy_criteria: dict[str, Criterion] = {c.id: c for c in pathway.criteria} if pathway is not None else {}
    criteria = []
    for result in determination.criteria:
        criterion = policy_criteria.get(result.id)
        if criterion is not None:
            requirement = requirement_text(criterion)
        elif result.id == "coverage":
            requirement = "The plan covers the requested treatment for this indication."
        else:
            requirement = ""
        criteria.append(
            CriterionRow(
                id=result.id,
                label=CRITERION_LABELS.get(result.id, result.id.replace("_", " ").capitalize()),
                requirement=requirement,
                status=result.status,
                status_label=STATUS_LABELS[result.status],
                detail=_humanize(result.detail),
            )
        )
    return Documentation(
        diagnoses=tuple(
            DiagnosisRow(code=d.code, title=diagnosis_title(d.code), recorded=d.recorded) for d in case.diagnoses or ()
        ),
        trials=tuple(all_trials),
        antidepressant_trials=tuple(antidepressants),
        augmentation_trials=tuple(augmentations),
        counted_antidepressants=len(counted),
        counted_classes=tuple(classes),
        counted_augmentations=len(counted_aug),
        trial_rule=requirement_text(trial_rule) if trial_rule is not None else None,
        augmentation_rule=requirement_text(aug_rule) if aug_rule is not None else None,
        scores=scores,
        severity_window_days=severity.window_days if severity is not None else None,
        thresholds=thresholds,
        responses=tuple(_responses(case, response)),
        response_threshold_pct=float(response.min_improvement_pct) if response is not None else None,
        response_strictly_greater=response.strictly_greater if response is not None else False,
        criteria=tuple(criteria),
        rems=tuple(_rems(case)),
        safety=tuple(_safety(case)),
    )
