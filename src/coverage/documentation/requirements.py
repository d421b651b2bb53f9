"""A payer's criteria in the words of a letter: each policy criterion as one plain sentence.

The sentences are built from the policy's own parameters, so a letter quotes exactly what the
payer's policy file requires (``shared/domain/reference-policies.md``, criteria vocabulary).
"""

from __future__ import annotations

from coverage.cases import INSTRUMENT_LABELS
from coverage.policies.schema import (
    AgeCriterion,
    AugmentationTrialsCriterion,
    ConcurrentAntidepressantCriterion,
    ContinuationAllowedCriterion,
    ContraindicationsCriterion,
    Criterion,
    DiagnosisCriterion,
    FailedTrialsCriterion,
    PregnancyCriterion,
    PrescriberCriterion,
    PsychosisCriterion,
    RemsCriterion,
    ResponseCriterion,
    SeverityCriterion,
    SubstanceUseCriterion,
    SuicidalityCriterion,
)

CRITERION_LABELS: dict[str, str] = {
    "coverage": "Covered benefit",
    "age": "Age",
    "diagnosis": "Diagnosis",
    "failed_trials": "Failed antidepressant trials",
    "augmentation_trials": "Augmentation trials",
    "concurrent_antidepressant": "Concurrent oral antidepressant",
    "severity": "Baseline severity",
    "prescriber": "Prescriber",
    "rems": "REMS",
    "contraindications": "Contraindications",
    "psychosis": "Psychosis",
    "substance_use": "Substance use",
    "pregnancy": "Pregnancy",
    "suicidality": "Acute suicidal ideation or behavior",
    "response": "Response to treatment",
    "continuation_allowed": "Continuation",
}

SPECIALTY_LABELS: dict[str, str] = {
    "psychiatry": "a psychiatrist",
    "psychiatric_nurse_practitioner": "a psychiatric nurse practitioner",
    "primary_care": "a primary care clinician",
    "other": "another specialty",
}

CONDITION_LABELS: dict[str, str] = {
    "aneurysmal_vascular_disease": "aneurysmal vascular disease",
    "arteriovenous_malformation": "arteriovenous malformation",
    "intracerebral_hemorrhage": "history of intracerebral hemorrhage",
    "ketamine_hypersensitivity": "hypersensitivity to esketamine or ketamine",
    "uncontrolled_hypertension": "uncontrolled hypertension",
    "psychosis": "history of psychosis",
    "psychosis_benefit_outweighs_risk": "prescriber attests benefit outweighs risk",
}

#: ICD-10-CM titles of the depression codes payers name (CMS ICD-10-CM tabular list).
ICD10_TITLES: dict[str, str] = {
    "F320": "Major depressive disorder, single episode, mild",
    "F321": "Major depressive disorder, single episode, moderate",
    "F322": "Major depressive disorder, single episode, severe without psychotic features",
    "F323": "Major depressive disorder, single episode, severe with psychotic features",
    "F324": "Major depressive disorder, single episode, in partial remission",
    "F325": "Major depressive disorder, single episode, in full remission",
    "F328": "Other depressive episodes",
    "F329": "Major depressive disorder, single episode, unspecified",
    "F330": "Major depressive disorder, recurrent, mild",
    "F331": "Major depressive disorder, recurrent, moderate",
    "F332": "Major depressive disorder, recurrent severe without psychotic features",
    "F333": "Major depressive disorder, recurrent, severe with psychotic symptoms",
    "F3340": "Major depressive disorder, recurrent, in remission, unspecified",
    "F3341": "Major depressive disorder, recurrent, in partial remission",
    "F3342": "Major depressive disorder, recurrent, in full remission",
    "F338": "Other recurrent depressive disorders",
    "F339": "Major depressive disorder, recurrent, unspecified",
}


def _or(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _dotted(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def diagnosis_title(code: str) -> str:
    """The ICD-10-CM title of a code, or an empty string when the table lacks it."""
    return ICD10_TITLES.get(code.replace(".", "").replace(" ", "").upper(), "")


def requirement_text(criterion: Criterion) -> str:
    """What the policy requires for one criterion, as one sentence built from its parameters."""
    if isinstance(criterion, AgeCriterion):
        if criterion.max_age is not None:
            return f"Patient aged {criterion.min_age} to {criterion.max_age} years."
        return f"Patient aged {criterion.min_age} years or older."
    if isinstance(criterion, DiagnosisCriterion):
        text = f"Diagnosis of major depressive disorder ({', '.join(_dotted(c) for c in criterion.allowed)})"
        if criterion.excluded:
            text += f"; excluded: {', '.join(_dotted(c) + '.x' for c in criterion.excluded)}"
        return text + "."
    if isinstance(criterion, FailedTrialsCriterion):
        classes = f" from at least {criterion.min_classes} different classes" if criterion.min_classes > 1 else ""
        episode = " in the current episode" if criterion.current_episode else ""
        return (
            f"Inadequate response to at least {criterion.min_trials} antidepressants{classes}, each at an "
            f"adequate dose for at least {criterion.min_weeks} weeks{episode}; "
            "a trial stopped for intolerance also counts."
        )
    if isinstance(criterion, AugmentationTrialsCriterion):
        episode = " in the current episode" if criterion.current_episode else ""
        return (
            f"Inadequate response to at least {criterion.min_trials} augmentation "
            f"{'trial' if criterion.min_trials == 1 else 'trials'}, each at an adequate dose for at least "
            f"{criterion.min_weeks} weeks{episode}."
        )
    if isinstance(criterion, ConcurrentAntidepressantCriterion):
        text = "Used with a concurrent oral antidepressant"
        if criterion.min_days is not None:
            text += f" started at least {criterion.min_days} days earlier"
        if criterion.not_previously_failed:
            text += " that has not previously failed"
        return text + "."
    if isinstance(criterion, SeverityCriterion):
        scales = [
            INSTRUMENT_LABELS[m.instrument] + (f" ≥ {m.min_score}" if m.min_score is not None else "")
            for m in criterion.instruments
        ]
        return f"Baseline severity documented on {_or(scales)} within the last {criterion.window_days} days."
    if isinstance(criterion, PrescriberCriterion):
        return f"Prescribed by or in consultation with {_or([SPECIALTY_LABELS[s] for s in criterion.specialties])}."
    if isinstance(criterion, RemsCriterion):
        return "Treatment setting certified in the SPRAVATO® REMS and patient enrolled."
    if isinstance(criterion, ContraindicationsCriterion):
        return f"No {_or([CONDITION_LABELS.get(c, c.replace('_', ' ')) for c in criterion.conditions])}."
    if isinstance(criterion, PsychosisCriterion):
        if criterion.attestation_allowed:
            return "No history of psychosis, or the prescriber attests that the benefit outweighs the risk."
        return "No history of psychosis."
    if isinstance(criterion, SubstanceUseCriterion):
        return "No active substance use disorder."
    if isinstance(criterion, PregnancyCriterion):
        return "Patient is not pregnant."
    if isinstance(criterion, SuicidalityCriterion):
        return f"Acute suicidal ideation or behavior documented within the last {criterion.window_days} days."
    if isinstance(criterion, ResponseCriterion):
        comparison = "more than" if criterion.strictly_greater else "at least"
        scale_names = _or([INSTRUMENT_LABELS[i] for i in criterion.instruments])
        return (
            f"Improvement of {comparison} {criterion.min_improvement_pct:g}% from baseline on {scale_names}, "
            f"current score within {criterion.current_window_days} days."
        )
    if isinstance(criterion, ContinuationAllowedCriterion):
        return "The policy does not re-authorize this indication."
    raise TypeError(f"no requirement text for criterion {type(criterion).__name__}")  # pragma: no cover


def condition_list(conditions: list[str]) -> str:
    """History flags as words, joined with "and"."""
    return _and([CONDITION_LABELS.get(c, c.replace("_", " ")) for c in conditions])
