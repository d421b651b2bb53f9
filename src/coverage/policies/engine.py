"""The coverage engine: a pure function from (case, policy, drug table) to a determination.

It follows ``shared/domain/reference-policies.md`` to the letter; each criterion function
below says which rule it implements. No I/O and no infrastructure imports here: the caller
loads the policy and the drug table.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from operator import attrgetter
from typing import Any

from coverage.cases import INSTRUMENT_LABELS, Case
from coverage.determinations import (
    OUTCOMES,
    Alternative,
    BillingLine,
    CriterionResult,
    Determination,
    NextStep,
    Outcome,
    Status,
)
from coverage.drugs import Drug, DrugTable
from coverage.policies.billing import billing_turns, period_lines
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


@lru_cache(maxsize=4096)  # the same few counts and words, case after case
def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


@lru_cache(maxsize=4096)  # the same few doses, case after case
def _mg(value: float) -> str:
    return f"{value:g} mg"


#: ``tuple.__new__`` builds a named tuple without the Python frame of its generated ``__new__``.
_new = tuple.__new__


class _IsoDays(dict[dt.date, str]):
    """Each date's ISO text, made on first use: a batch's cases share a few hundred days."""

    def __missing__(self, day: dt.date) -> str:
        if len(self) >= 8192:
            self.clear()
        text = self[day] = day.isoformat()
        return text


#: ``_ISO[day]`` is ``day.isoformat()``, several times cheaper once the day has been seen.
_ISO = _IsoDays()


def _listing(items: list[str]) -> str:
    return ", ".join(items)


class _Facts:
    """What the criteria ask of one case, worked out once and shared by every pathway evaluated.

    ``fields`` is the case's ``__dict__``: the criteria read the case's fields (and each model's
    ``__dict__``) from there, several times cheaper than pydantic's attribute access, which
    goes through the model's ``__getattr__`` hook.
    """

    __slots__ = ("_codes", "_drugs", "_history", "_trials", "as_of", "case", "fields", "max_improvement_pct", "written")

    def __init__(self, case: Case, drugs: DrugTable, max_improvement_pct: float) -> None:
        fields = case.__dict__
        self.case = case
        self.fields: dict[str, Any] = fields
        self.as_of: dt.date = fields["as_of"]
        self.max_improvement_pct = max_improvement_pct
        self._drugs = drugs
        self._trials: list[tuple[dict[str, Any], Drug | None]] | None = None
        self._codes: list[tuple[str, str]] | None = None
        self._history: tuple[Any, ...] | None = None
        #: The diagnosis codes as written (every policy's diagnosis criterion reads them).
        self.written: tuple[str, ...] = tuple([d.code for d in fields["diagnoses"] or ()])

    @property
    def trials(self) -> list[tuple[dict[str, Any], Drug | None]]:
        """Each medication trial's fields with its drug from the table (``None`` when unknown); resolved once."""
        trials = self._trials
        if trials is None:
            resolve = self._drugs.spelled.__getitem__
            trials = self._trials = []
            for trial in self.fields["medication_trials"] or ():
                fields = trial.__dict__
                trials.append((fields, resolve(fields["drug"])))
        return trials

    @property
    def codes(self) -> list[tuple[str, str]]:
        """Each diagnosis code as written and normalized; worked out once."""
        codes = self._codes
        if codes is None:
            codes = self._codes = [(code, _normalized(code)) for code in self.written]
        return codes

    def failed(self, trial: dict[str, Any]) -> bool:
        """Failure, from a trial's fields: intolerance; else improvement at most the maximum; else its outcome."""
        outcome: str = trial["outcome"]
        if outcome == "intolerance":
            return True
        improvement: float | None = trial["improvement_pct"]
        if improvement is not None:
            return improvement <= self.max_improvement_pct
        return outcome == "inadequate_response"


#: :func:`normalize_code`, kept by code: a batch repeats the same few.
_normalized = lru_cache(maxsize=4096)(normalize_code)


_TRIAL_NAMES: dict[tuple[str, str | None], str] = {}


def _trial_name(trial: dict[str, Any], drug: Drug | None) -> str:
    key = (trial["drug"], drug.name if drug is not None else None)
    name = _TRIAL_NAMES.get(key)
    if name is None:
        written = trial["drug"].strip() or "an unnamed drug"
        name = f"{written} ({drug.name})" if drug is not None and written.lower() != drug.name.lower() else written
        if len(_TRIAL_NAMES) >= 4096:
            _TRIAL_NAMES.clear()
        _TRIAL_NAMES[key] = name
    return name


def _why_not_failed(trial: dict[str, Any]) -> str:
    if trial["improvement_pct"] is not None:
        return f"{trial['improvement_pct']:g}% improvement is above the non-response limit"
    return f"outcome {trial['outcome']} is not a failure"


def _count_trials(facts: _Facts, role: str, min_weeks: int, current_episode: bool) -> tuple[dict[str, Drug], list[str]]:
    """The distinct drugs whose trials count (by name) under the trial rules, and why each other trial does not.

    A trial of ``role`` (in the case and in the drug table) counts when it failed, its end date
    (the earlier of its end and ``as_of``) reaches the episode when ``current_episode``, and,
    unless it failed by intolerance, its dose reaches the drug's minimum adequate dose and it
    lasted ``min_weeks`` (from the later of its start and the episode start when
    ``current_episode``). The same drug counts once.
    """
    as_of = facts.as_of
    episode_start = facts.fields["episode_start"]
    needed_days = min_weeks * 7
    limit = facts.max_improvement_pct
    counted: dict[str, Drug] = {}
    reasons: list[str] = []
    for trial, drug in facts.trials:
        if trial["role"] != role:
            continue
        if drug is None:
            reasons.append(f"{_trial_name(trial, drug)} is not in the drug table")
            continue
        if drug.role != role:
            reasons.append(f"{_trial_name(trial, drug)} is listed as an {drug.role} agent")
            continue
        outcome, improvement = trial["outcome"], trial["improvement_pct"]
        if not (
            outcome == "intolerance"
            or (improvement <= limit if improvement is not None else outcome == "inadequate_response")
        ):  # the failure test of _Facts.failed, inline
            reasons.append(f"{_trial_name(trial, drug)} did not fail ({_why_not_failed(trial)})")
            continue
        end = trial["end"]
        if end is None or end >= as_of:
            end = as_of
        start = trial["start"]
        if current_episode:
            assert episode_start is not None  # the caller reports missing first
            if end < episode_start:
                began = _ISO[episode_start]
                reasons.append(f"{_trial_name(trial, drug)} ended {_ISO[end]}, before the current episode ({began})")
                continue
            start = max(start, episode_start)
        if outcome != "intolerance":
            if trial["daily_dose_mg"] < drug.min_adequate_daily_mg:
                dose, floor = _mg(trial["daily_dose_mg"]), _mg(drug.min_adequate_daily_mg)
                reasons.append(f"{_trial_name(trial, drug)} {dose}/day is below the {floor} minimum")
                continue
            days = (end - start).days
            if days < needed_days:
                where = " in the current episode" if current_episode else ""
                reasons.append(f"{_trial_name(trial, drug)} lasted {_plural(days, 'day')}{where}, {needed_days} needed")
                continue
        name = drug.name
        if name in counted:
            reasons.append(f"{_trial_name(trial, drug)} already counted")
            continue
        counted[name] = drug
    return counted, reasons


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
    counted, reasons = _count_trials(_Facts(case, drugs, max_improvement_pct), role, min_weeks, current_episode)
    return list(counted.values()), reasons


def _trials_missing(facts: _Facts, current_episode: bool) -> str | None:
    if not facts.fields["medication_trials"]:
        return "no medication trials documented"
    if current_episode and facts.fields["episode_start"] is None:
        return "start of the current episode not documented"
    return None


def _with_reasons(text: str, reasons: list[str]) -> str:
    return f"{text}; not counted: {'; '.join(reasons)}" if reasons else text


def check_age(c: AgeCriterion, facts: _Facts) -> CriterionResult:
    """Whole years at ``as_of``; born on 29 February turns a year older on 1 March in common years."""
    birth = facts.fields["patient"].birth_date
    if birth is None:
        return _new(CriterionResult, ("age", MISSING, "no birth date"))
    as_of = facts.as_of
    years = as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))
    text = f"{years} years on {_ISO[as_of]}"
    if years < c.min_age or (c.max_age is not None and years > c.max_age):
        needed = f"{c.min_age} to {c.max_age}" if c.max_age is not None else f"{c.min_age} or older"
        return _new(CriterionResult, ("age", NOT_MET, f"{text}; {needed} required"))
    return _new(CriterionResult, ("age", MET, text))


def check_diagnosis(c: DiagnosisCriterion, facts: _Facts) -> CriterionResult:
    """Allowed codes match exactly, excluded ones by prefix, after normalizing the code."""
    codes = facts.codes
    if not codes:
        return _new(CriterionResult, ("diagnosis", MISSING, "no diagnosis recorded"))
    accepted: list[str] = []
    for written, code in codes:
        for prefix in c.excluded:
            if code.startswith(prefix):
                return _new(CriterionResult, ("diagnosis", NOT_MET, f"{written} is excluded"))
        if code in c.allowed:
            accepted.append(written)
    if accepted:
        return _new(
            CriterionResult,
            ("diagnosis", MET, f"{_listing(accepted)} {'is' if len(accepted) == 1 else 'are'} accepted"),
        )
    return _new(CriterionResult, ("diagnosis", NOT_MET, f"no accepted code among {_listing([w for w, _ in codes])}"))


#: The trial criteria's result before the reasons, by the drugs counted (their ids: each entry
#: holds its drugs, so no id is reused while it is kept) and the criterion's minimums.
_SUMMARIES: dict[tuple[tuple[int, ...], int, int | None], tuple[tuple[Drug, ...], CriterionResult]] = {}


def _summary(
    key: tuple[tuple[int, ...], int, int | None], drugs: tuple[Drug, ...], result: CriterionResult
) -> tuple[tuple[Drug, ...], CriterionResult]:
    if len(_SUMMARIES) >= 4096:
        _SUMMARIES.clear()
    summary = _SUMMARIES[key] = (drugs, result)
    return summary


def check_failed_trials(c: FailedTrialsCriterion, facts: _Facts) -> CriterionResult:
    """Distinct failed antidepressants at an adequate dose and duration, in enough classes."""
    missing = _trials_missing(facts, c.current_episode)
    if missing:
        return _new(CriterionResult, ("failed_trials", MISSING, missing))
    counted, reasons = _count_trials(facts, "antidepressant", c.min_weeks, c.current_episode)
    drugs = tuple(counted.values())
    key = (tuple(map(id, drugs)), c.min_trials, c.min_classes)
    summary = _SUMMARIES.get(key)
    if summary is None:
        classes = {drug.drug_class for drug in drugs}
        named = f" ({_listing([f'{d.name} {d.drug_class}' for d in drugs])})" if drugs else ""
        text = (
            f"{_plural(len(drugs), 'qualifying trial')} in {_plural(len(classes), 'class', 'classes')}{named}; "
            f"{c.min_trials} in {_plural(c.min_classes, 'class', 'classes')} needed"
        )
        status = MET if len(drugs) >= c.min_trials and len(classes) >= c.min_classes else NOT_MET
        summary = _summary(key, drugs, _new(CriterionResult, ("failed_trials", status, text)))
    result = summary[1]
    if reasons:
        return _new(CriterionResult, ("failed_trials", result[1], _with_reasons(result[2], reasons)))
    return result


def check_augmentation_trials(c: AugmentationTrialsCriterion, facts: _Facts) -> CriterionResult:
    """The trial rules over augmentation agents; classes are not counted."""
    missing = _trials_missing(facts, c.current_episode)
    if missing:
        return _new(CriterionResult, ("augmentation_trials", MISSING, missing))
    counted, reasons = _count_trials(facts, "augmentation", c.min_weeks, c.current_episode)
    drugs = tuple(counted.values())
    key = (tuple(map(id, drugs)), c.min_trials, None)
    summary = _SUMMARIES.get(key)
    if summary is None:
        named = f" ({_listing([d.name for d in drugs])})" if drugs else ""
        text = f"{_plural(len(drugs), 'qualifying augmentation trial')}{named}; {c.min_trials} needed"
        status = MET if len(drugs) >= c.min_trials else NOT_MET
        summary = _summary(key, drugs, _new(CriterionResult, ("augmentation_trials", status, text)))
    result = summary[1]
    if reasons:
        return _new(CriterionResult, ("augmentation_trials", result[1], _with_reasons(result[2], reasons)))
    return result


def check_concurrent_antidepressant(c: ConcurrentAntidepressantCriterion, facts: _Facts) -> CriterionResult:
    """An antidepressant ongoing at ``as_of``, started long enough ago and not failed before."""
    as_of = facts.as_of
    reasons: list[str] = []
    ongoing_any = False
    failed_before: set[int] | None = None  # the drugs of trials that ended before as_of and failed
    for trial, drug in facts.trials:
        if trial["role"] != "antidepressant" or drug is None or drug.role != "antidepressant":
            continue
        end = trial["end"]
        if end is not None and end <= as_of:
            continue
        ongoing_any = True
        name = _trial_name(trial, drug)
        days = (as_of - trial["start"]).days
        if c.min_days is not None and days < c.min_days:
            reasons.append(f"{name} started {_plural(days, 'day')} ago, {c.min_days} needed")
            continue
        if c.not_previously_failed and failed_before is None:
            # An ongoing trial never ended before as_of: it is never among these itself.
            failed_before = {
                id(other_drug)
                for other, other_drug in facts.trials
                if other_drug is not None and other["end"] is not None and other["end"] < as_of and facts.failed(other)
            }
        if failed_before is not None and id(drug) in failed_before:
            reasons.append(f"{name} already failed in an earlier trial")
            continue
        return _new(CriterionResult, ("concurrent_antidepressant", MET, f"{name} ongoing since {_ISO[trial['start']]}"))
    if not ongoing_any:
        return _new(
            CriterionResult, ("concurrent_antidepressant", NOT_MET, f"no antidepressant ongoing on {_ISO[as_of]}")
        )
    return _new(CriterionResult, ("concurrent_antidepressant", NOT_MET, "; ".join(reasons)))


def check_severity(c: SeverityCriterion, facts: _Facts) -> CriterionResult:
    """A score of an accepted instrument within the window that reaches its minimum."""
    minimum = c.minimum
    as_of = facts.as_of
    window = c.window_days
    counted = [
        a
        for a in [a.__dict__ for a in facts.fields["assessments"] or ()]
        if a["instrument"] in minimum and (as_of - a["date"]).days <= window
    ]
    if not counted:
        return _new(CriterionResult, ("severity", MISSING, f"no {c.accepted} score within {c.window_days} days"))
    for a in counted:
        floor = minimum[a["instrument"]]
        if floor is None or a["score"] >= floor:
            return _new(
                CriterionResult,
                ("severity", MET, f"{INSTRUMENT_LABELS[a['instrument']]} {a['score']} on {_ISO[a['date']]}"),
            )
    seen = _listing([f"{INSTRUMENT_LABELS[a['instrument']]} {a['score']} on {_ISO[a['date']]}" for a in counted])
    return _new(CriterionResult, ("severity", NOT_MET, f"{seen}; {c.accepted} needed"))


def check_prescriber(c: PrescriberCriterion, facts: _Facts) -> CriterionResult:
    """The prescriber's specialty is one the policy accepts."""
    prescriber = facts.fields["request"].prescriber
    specialty = prescriber.specialty if prescriber is not None else None
    if specialty is None:
        return _new(CriterionResult, ("prescriber", MISSING, "prescriber specialty not documented"))
    if specialty in c.specialties:
        return _new(CriterionResult, ("prescriber", MET, f"{specialty} is accepted"))
    return _new(CriterionResult, ("prescriber", NOT_MET, f"{specialty} is not {' or '.join(c.specialties)}"))


def check_rems(_: RemsCriterion, facts: _Facts) -> CriterionResult:
    """The setting is REMS-certified and the patient enrolled."""
    request = facts.fields["request"].__dict__
    setting = request["setting"]
    certified = setting.rems_certified if setting is not None else None
    enrolled = request["patient_rems_enrolled"]
    if certified is True and enrolled is True:
        return _new(CriterionResult, ("rems", MET, "setting REMS-certified and patient enrolled"))
    if certified is False or enrolled is False:
        problems = []
        if certified is False:
            problems.append("setting not REMS-certified")
        if enrolled is False:
            problems.append("patient not enrolled in the REMS")
        return _new(CriterionResult, ("rems", NOT_MET, "; ".join(problems)))
    unknown = []
    if certified is None:
        unknown.append("setting certification")
    if enrolled is None:
        unknown.append("patient enrollment")
    return _new(CriterionResult, ("rems", MISSING, f"REMS {' and '.join(unknown)} not documented"))


def check_contraindications(c: ContraindicationsCriterion, facts: _Facts) -> CriterionResult:
    """None of the listed history flags is true; every one is known."""
    history = facts.fields["history"]
    if history is None:
        return _new(CriterionResult, ("contraindications", MISSING, f"not documented: {c.listed}"))
    flags = history.__dict__
    present = [name for name in c.conditions if flags[name] is True]
    if present:
        return _new(CriterionResult, ("contraindications", NOT_MET, f"documented: {_listing(present)}"))
    unknown = [name for name in c.conditions if flags[name] is None]
    if unknown:
        return _new(CriterionResult, ("contraindications", MISSING, f"not documented: {_listing(unknown)}"))
    return _new(CriterionResult, ("contraindications", MET, f"none of {c.listed}"))


def check_psychosis(c: PsychosisCriterion, facts: _Facts) -> CriterionResult:
    """No history of psychosis, or (where allowed) an attestation that benefit outweighs risk."""
    history = facts.fields["history"]
    psychotic_code = next((written for written, code in facts.codes if code in c.psychotic_codes), None)
    psychosis = True if psychotic_code is not None else (history.psychosis if history is not None else None)
    if psychosis is None:
        return _new(CriterionResult, ("psychosis", MISSING, "history of psychosis not documented"))
    if not psychosis:
        return _new(CriterionResult, ("psychosis", MET, "no history of psychosis"))
    source = f"diagnosis {psychotic_code}" if psychotic_code is not None else "history of psychosis"
    attested = history is not None and history.psychosis_benefit_outweighs_risk is True
    if c.attestation_allowed and attested:
        return _new(CriterionResult, ("psychosis", MET, f"{source}; prescriber attests benefit outweighs risk"))
    if c.attestation_allowed:
        return _new(
            CriterionResult, ("psychosis", NOT_MET, f"{source} without an attestation that benefit outweighs risk")
        )
    return _new(CriterionResult, ("psychosis", NOT_MET, f"{source}; the policy accepts no attestation"))


def check_substance_use(_: SubstanceUseCriterion, facts: _Facts) -> CriterionResult:
    """No active substance use disorder."""
    history = facts.fields["history"]
    value = history.substance_use_disorder if history is not None else None
    if value is None:
        return _new(CriterionResult, ("substance_use", MISSING, "substance use history not documented"))
    if value == "active":
        return _new(CriterionResult, ("substance_use", NOT_MET, "active substance use disorder"))
    return _new(CriterionResult, ("substance_use", MET, f"substance use disorder: {value.replace('_', ' ')}"))


def check_pregnancy(_: PregnancyCriterion, facts: _Facts) -> CriterionResult:
    """Not pregnant (known, or male)."""
    patient = facts.fields["patient"].__dict__
    if patient["pregnant"] is True:
        return _new(CriterionResult, ("pregnancy", NOT_MET, "patient is pregnant"))
    if patient["pregnant"] is False:
        return _new(CriterionResult, ("pregnancy", MET, "not pregnant"))
    if patient["sex"] == "male":
        return _new(CriterionResult, ("pregnancy", MET, "male patient"))
    return _new(CriterionResult, ("pregnancy", MISSING, "pregnancy status not documented"))


def check_suicidality(c: SuicidalityCriterion, facts: _Facts) -> CriterionResult:
    """Acute suicidal ideation or behavior documented within the window (MDSI)."""
    s = facts.fields["suicidality"]
    acute = s.acute_ideation_or_behavior if s is not None else None
    if acute is None:
        return _new(CriterionResult, ("suicidality", MISSING, "acute suicidal ideation or behavior not documented"))
    if not acute:
        return _new(CriterionResult, ("suicidality", NOT_MET, "no acute suicidal ideation or behavior"))
    assert s is not None
    if s.documented is None:
        return _new(CriterionResult, ("suicidality", MISSING, "acute suicidal ideation documented without a date"))
    if (facts.as_of - s.documented).days > c.window_days:
        return _new(
            CriterionResult,
            ("suicidality", NOT_MET, f"documented {_ISO[s.documented]}, more than {c.window_days} days ago"),
        )
    return _new(
        CriterionResult, ("suicidality", MET, f"acute suicidal ideation or behavior documented {_ISO[s.documented]}")
    )


def _percent(numerator: int, denominator: int) -> str:
    # int / int is the correctly rounded float of the exact quotient, as float(Fraction) is.
    return f"{numerator / denominator:.1f}".rstrip("0").rstrip(".") + "%"


def check_response(c: ResponseCriterion, facts: _Facts) -> CriterionResult:
    """Improvement from the baseline (on or before therapy start) to a current score, exactly."""
    therapy_start = facts.fields["request"].therapy_start
    if therapy_start is None:
        return _new(
            CriterionResult, ("response", MISSING, "start of the current course (therapy_start) not documented")
        )
    as_of = facts.as_of
    window = c.current_window_days
    # Exact integer arithmetic: improvement = (baseline - current) * 100 / baseline, compared
    # with the threshold's exact fraction by cross-multiplying (both denominators positive).
    wanted, per = c.threshold
    comparison = ">" if c.strictly_greater else ">="
    seen: list[str] = []
    assessments = [a.__dict__ for a in facts.fields["assessments"] or ()]
    for instrument in c.instruments:
        baseline = current = None
        for a in assessments:
            if a["instrument"] != instrument:
                continue
            if a["date"] <= therapy_start:
                if baseline is None or a["date"] >= baseline["date"]:
                    baseline = a
            elif (as_of - a["date"]).days <= window and (current is None or a["date"] >= current["date"]):
                current = a
        if baseline is None or current is None:
            continue
        label = INSTRUMENT_LABELS[instrument]
        base_score = baseline["score"]
        if base_score == 0:
            seen.append(f"{label} baseline is 0")
            continue
        gained = (base_score - current["score"]) * 100
        text = (
            f"{label} {base_score} on {_ISO[baseline['date']]} to {current['score']} on "
            f"{_ISO[current['date']]}: {_percent(gained, base_score)} improvement"
        )
        left, right = gained * per, wanted * base_score
        if left > right or (not c.strictly_greater and left == right):
            return _new(CriterionResult, ("response", MET, f"{text}; {comparison} {c.min_improvement_pct:g}% needed"))
        seen.append(text)
    if not seen:
        names = " or ".join(INSTRUMENT_LABELS[i] for i in c.instruments)
        return _new(
            CriterionResult,
            (
                "response",
                MISSING,
                f"no {names} baseline on or before {_ISO[therapy_start]} with a score "
                f"within {c.current_window_days} days",
            ),
        )
    return _new(
        CriterionResult, ("response", NOT_MET, f"{'; '.join(seen)}; {comparison} {c.min_improvement_pct:g}% needed")
    )


def check_continuation_allowed(_: ContinuationAllowedCriterion, facts: _Facts) -> CriterionResult:
    """The policy does not re-authorize this pathway."""
    return _new(
        CriterionResult, ("continuation_allowed", NOT_MET, "the policy allows no continuation for this indication")
    )


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
        return _new(CriterionResult, ("coverage", NOT_MET, f"{policy.policy.id} does not cover {label}{note}"))
    if terms.pathway(indication, kind) is None:
        text = f"{policy.policy.id} has no {indication.upper()} {kind} pathway for {label}"
        return _new(CriterionResult, ("coverage", NOT_MET, text))
    return None


#: Roughly what each criterion costs: the alternative pathway, which needs only its outcome,
#: runs its own criteria cheapest first and stops at the first one not met.
_COST = {
    "rems": 0,
    "pregnancy": 0,
    "substance_use": 0,
    "prescriber": 0,
    "continuation_allowed": 0,
    "age": 1,
    "suicidality": 1,
    "contraindications": 1,
    "diagnosis": 2,
    "psychosis": 2,
    "severity": 3,
    "concurrent_antidepressant": 4,
    "response": 4,
    "augmentation_trials": 5,
    "failed_trials": 5,
}

Step = Callable[[_Facts], CriterionResult]


def _psychosis_key(facts: _Facts) -> object:
    history = facts.fields["history"]
    codes = facts.written
    if history is None:
        return codes, None
    flags = history.__dict__
    return codes, flags["psychosis"], flags["psychosis_benefit_outweighs_risk"]


def _prescriber_key(facts: _Facts) -> object:
    prescriber = facts.fields["request"].prescriber
    return prescriber.specialty if prescriber is not None else None


def _rems_key(facts: _Facts) -> object:
    request = facts.fields["request"].__dict__
    setting = request["setting"]
    return setting.rems_certified if setting is not None else None, request["patient_rems_enrolled"]


def _history_key(facts: _Facts) -> object:
    key = facts._history  # two criteria of a pathway read it
    if key is None:
        history = facts.fields["history"]
        key = facts._history = () if history is None else tuple(history.__dict__.values())
    return key


def _pregnancy_key(facts: _Facts) -> object:
    patient = facts.fields["patient"].__dict__
    return patient["pregnant"], patient["sex"]


#: Criteria whose answer depends on a few discrete facts only: each answer is kept by those facts.
_KEYS: dict[type, Callable[[_Facts], object]] = {
    DiagnosisCriterion: attrgetter("written"),
    PsychosisCriterion: _psychosis_key,
    PrescriberCriterion: _prescriber_key,
    RemsCriterion: _rems_key,
    ContraindicationsCriterion: _history_key,
    SubstanceUseCriterion: _history_key,
    PregnancyCriterion: _pregnancy_key,
}


class _Params:
    """A criterion's parameters (and derived values) copied into a plain object when its check is bound.

    The checks read them for every case: a plain attribute is read several times faster than
    a pydantic model's, whose attribute access goes through the model's ``__getattr__`` hook.
    """

    def __init__(self, criterion: Any) -> None:
        self.__dict__.update(criterion.__dict__)
        for name in ("minimum", "accepted", "listed", "threshold"):  # the criteria's cached properties
            if hasattr(type(criterion), name):
                setattr(self, name, getattr(criterion, name))


def _bind(criterion: Any) -> Step:
    """The criterion's check with its parameters bound, answers kept by fact where that pays."""
    check = _CHECKS[type(criterion)]
    key_of = _KEYS.get(type(criterion))
    params = _Params(criterion)
    if key_of is None:
        return partial(check, params)
    answers: dict[object, CriterionResult] = {}

    def cached(facts: _Facts) -> CriterionResult:
        key = key_of(facts)
        found = answers.get(key)
        if found is None:
            if len(answers) >= 4096:
                answers.clear()
            found = answers[key] = check(params, facts)
        return found

    return cached


@dataclass(frozen=True, slots=True)
class _CompiledPathway:
    """A pathway ready to run: each criterion with its content key and its bound check.

    ``cheapest`` holds the same steps, cheapest first, for the alternative's outcome.
    """

    terms: TreatmentPolicy
    pathway: Pathway
    coverage: CriterionResult
    steps: tuple[tuple[str, Step], ...]
    cheapest: tuple[tuple[str, Step], ...]
    met_outcome: Outcome
    authorization_days: int | None


def _compiled(policy: LoadedPolicy, treatment: str, indication: str, kind: str) -> _CompiledPathway | CriterionResult:
    """The pathway ready to run, or the unmet ``coverage`` criterion; worked out once per policy."""
    key = ("pathway", treatment, indication, kind)
    compiled: _CompiledPathway | CriterionResult | None = policy.compiled.get(key)
    if compiled is None:
        compiled = _coverage_gap(policy, treatment, indication, kind) or _compile(policy, treatment, indication, kind)
        policy.compiled[key] = compiled
    return compiled


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a case of one (treatment, indication, kind) runs under one policy version.

    ``checks`` are the requested pathway's, in the policy's order. The alternative pathway (the
    other treatment, TRD initial) needs only its outcome: ``known`` are the positions, in the
    requested pathway's results, of the criteria it shares with it; ``rest`` are its other
    criteria, cheapest first. The policy's own fields that every determination names are
    copied here, read once per plan rather than once per case.
    """

    requested: _CompiledPathway | CriterionResult
    checks: tuple[Step, ...]
    alternative: _CompiledPathway | CriterionResult
    known: tuple[int, ...]
    rest: tuple[Step, ...]
    identity: tuple[str, str, str]
    billing_scheme: str
    #: The periods of the billing rules (:func:`billing_turns`), and the lines by (dose, period).
    billing_turns: tuple[dt.date, ...]
    max_improvement_pct: float
    bills: dict[tuple[int | None, int], tuple[BillingLine, ...]] = field(default_factory=dict)


def _plan(policy: LoadedPolicy, treatment: str, indication: str, kind: str) -> _Plan:
    """The plan of a (treatment, indication, kind) under the policy; worked out once per policy version."""
    key = (treatment, indication, kind)
    plan: _Plan | None = policy.compiled.get(key)
    if plan is None:
        requested = _compiled(policy, treatment, indication, kind)
        alternative = _compiled(policy, OTHER_TREATMENT[treatment], "trd", "initial")
        steps = requested.steps if isinstance(requested, _CompiledPathway) else ()
        position = {content: i for i, (content, _) in enumerate(steps)}
        others = alternative.cheapest if isinstance(alternative, _CompiledPathway) else ()
        plan = policy.compiled[key] = _Plan(
            requested=requested,
            checks=tuple(step for _, step in steps),
            alternative=alternative,
            known=tuple(position[content] for content, _ in others if content in position),
            rest=tuple(step for content, step in others if content not in position),
            identity=(policy.policy.id, policy.policy.version, policy.hash),
            billing_scheme=policy.policy.billing_scheme,
            billing_turns=billing_turns(policy.policy.billing_scheme, treatment),
            max_improvement_pct=policy.policy.max_improvement_pct,
        )
    return plan


def _compile(policy: LoadedPolicy, treatment: str, indication: str, kind: str) -> _CompiledPathway:
    terms = policy.policy.for_treatment(treatment)
    pathway = terms.pathway(indication, kind)
    assert pathway is not None
    pa = "prior authorization required" if terms.prior_authorization else "no prior authorization required"
    # Steps are shared by content across the policy's pathways, so that a criterion the
    # alternative repeats is answered once per case.
    shared: dict[str, Step] = policy.compiled.setdefault("steps", {})
    steps = []
    for criterion in pathway.criteria:
        content = criterion.model_dump_json()
        step = shared.get(content)
        if step is None:
            step = shared[content] = _bind(criterion)
        steps.append((content, step))
    order = sorted(range(len(steps)), key=lambda i: _COST[pathway.criteria[i].id])
    return _CompiledPathway(
        terms=terms,
        pathway=pathway,
        coverage=CriterionResult("coverage", MET, f"{TREATMENT_LABELS[treatment]} is covered; {pa}"),
        steps=tuple(steps),
        cheapest=tuple(steps[i] for i in order),
        met_outcome="meets_criteria" if terms.prior_authorization else "no_pa_required",
        authorization_days=pathway.authorization_days if terms.prior_authorization else None,
    )


def _alternative_outcome(plan: _Plan, results: list[CriterionResult], facts: _Facts) -> Outcome:
    """The alternative pathway's outcome alone: the answers the case already has, then the rest cheapest first.

    By the precedence of outcomes the first ``not_met`` decides; the order changes nothing else.
    """
    alternative = plan.alternative
    if isinstance(alternative, CriterionResult):
        return "not_covered"
    missing = False
    for position in plan.known:
        status = results[position].status
        if status != MET:
            if status == NOT_MET:
                return "does_not_meet_criteria"
            missing = True
    for check in plan.rest:
        status = check(facts).status
        if status != MET:
            if status == NOT_MET:
                return "does_not_meet_criteria"
            missing = True
    return "missing_documentation" if missing else alternative.met_outcome


_NEXT_STEPS: dict[str, NextStep] = {
    "meets_criteria": "submit_prior_auth",
    "missing_documentation": "collect_documentation",
    "no_pa_required": "schedule_treatment",
}
_ALTERNATIVE_FITS = frozenset({"meets_criteria", "no_pa_required"})
#: The ``alternatives`` of a determination: immutable, so one of each is enough.
_ALTERNATIVES: dict[tuple[str, str], tuple[Alternative]] = {
    (treatment, outcome): (Alternative(treatment, "trd", outcome),)
    for treatment in OTHER_TREATMENT
    for outcome in OUTCOMES
}
_SELF_PAY_CRITERIA = (SELF_PAY,)
_new_determination = tuple.__new__


def evaluate(case: Case, policy: LoadedPolicy | None, drugs: DrugTable) -> Determination:
    """Decide what ``policy`` says about the case's requested treatment, and what to do next.

    ``policy`` is the case's policy (``None`` only for a self-pay case that names none).
    ``alternatives`` reports the other treatment evaluated as TRD, initial; no criterion reads
    the dose, so the reference's "esketamine at 56 mg" for an IV request changes nothing here.
    """
    fields = case.__dict__
    request = fields["request"].__dict__
    treatment = request["treatment"]
    indication = request["indication"]
    kind = request["kind"]
    authorization_days = None
    billing: tuple[BillingLine, ...] = ()
    outcome: Outcome
    alternative_outcome: Outcome
    criteria: tuple[CriterionResult, ...]
    if fields["coverage"].plan_type == "self_pay":
        outcome = alternative_outcome = "not_covered"
        criteria = _SELF_PAY_CRITERIA
        identity = (None, None, None) if policy is None else (policy.policy.id, policy.policy.version, policy.hash)
    else:
        assert policy is not None  # parse_case requires a policy unless self-pay
        plan: _Plan | None = policy.compiled.get((treatment, indication, kind))
        if plan is None:
            plan = _plan(policy, treatment, indication, kind)
        identity = plan.identity
        facts = _Facts(case, drugs, plan.max_improvement_pct)
        results = [check(facts) for check in plan.checks]
        compiled = plan.requested
        if isinstance(compiled, CriterionResult):
            outcome, criteria = "not_covered", (compiled,)
        else:
            outcome = compiled.met_outcome
            for result in results:
                status = result[1]
                if status != MET:
                    if status == NOT_MET:
                        outcome = "does_not_meet_criteria"
                        break
                    outcome = "missing_documentation"
            criteria = (compiled.coverage, *results)
            authorization_days = compiled.authorization_days
            dose = request["dose_mg"]
            period = bisect_right(plan.billing_turns, request["start_date"] or facts.as_of)
            found = plan.bills.get((dose, period))
            if found is None:
                found = plan.bills[dose, period] = period_lines(plan.billing_scheme, treatment, dose, period)
            billing = found
        alternative_outcome = _alternative_outcome(plan, results, facts)

    next_step = _NEXT_STEPS.get(outcome)
    if next_step is None:
        next_step = "consider_alternative" if alternative_outcome in _ALTERNATIVE_FITS else "offer_payment_plan"
    # tuple.__new__ builds the named tuple without the Python frame of its generated __new__.
    return _new_determination(
        Determination,
        (
            fields["case_id"],
            *identity,
            treatment,
            indication,
            kind,
            outcome,
            next_step,
            criteria,
            authorization_days,
            billing,
            _ALTERNATIVES[OTHER_TREATMENT[treatment], alternative_outcome],
        ),
    )
