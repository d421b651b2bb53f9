"""Each criterion's edges, following shared/domain/reference-policies.md rule by rule.

Cases are built by varying the sample cases and go through ``checker.check`` so that every
one of them is also validated.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from coverage.determinations import Determination
from coverage.drugs import default_drug_table
from coverage.errors import InvalidCase
from coverage.policies.loader import PolicyRegistry, load_registry, parse_policy
from coverage.policies.service import Checker
from tests.conftest import load_case_dict

AS_OF = "2026-11-20"
EPISODE = "2025-08-15"

# An SNRI trial that always counts under the standard policy (61 days, adequate dose, in the episode).
DULOXETINE_OK = {
    "drug": "duloxetine",
    "daily_dose_mg": 60,
    "start": "2025-11-10",
    "end": "2026-01-10",
    "outcome": "inadequate_response",
    "improvement_pct": 15,
    "role": "antidepressant",
}


def trial(
    drug: str = "sertraline",
    dose: float = 100,
    start: str = "2026-01-01",
    end: str | None = "2026-03-01",
    outcome: str = "inadequate_response",
    improvement: float | None = None,
    role: str = "antidepressant",
) -> dict[str, Any]:
    return {
        "drug": drug,
        "daily_dose_mg": dose,
        "start": start,
        "end": end,
        "outcome": outcome,
        "improvement_pct": improvement,
        "role": role,
    }


def sample(name: str = "EX-01-meets") -> dict[str, Any]:
    return copy.deepcopy(load_case_dict(name))


def for_policy(
    policy_id: str, treatment: str = "esketamine", indication: str = "trd", kind: str = "initial"
) -> dict[str, Any]:
    data = sample()
    data["coverage"]["policy_id"] = policy_id
    data["coverage"]["plan_type"] = "medicare" if policy_id == "medicare-part-b" else "commercial"
    data["request"].update(treatment=treatment, indication=indication, kind=kind)
    data["request"]["dose_mg"] = 56 if treatment == "esketamine" else None
    if kind == "continuation":
        data["request"]["therapy_start"] = "2026-09-01"
    return data


def strict_meeting() -> dict[str, Any]:
    """A case that meets every criterion of strict-commercial TRD initial."""
    data = for_policy("strict-commercial")
    data["medication_trials"].append(
        trial("quetiapine", 150, "2026-05-10", "2026-07-10", improvement=5, role="augmentation")
    )
    return data


def mdsi(policy_id: str = "standard-commercial") -> dict[str, Any]:
    data = for_policy(policy_id, indication="mdsi")
    data["suicidality"] = {"acute_ideation_or_behavior": True, "documented": "2026-11-18"}
    return data


def at(data: dict[str, Any], as_of: str) -> dict[str, Any]:
    """The case evaluated on another date, without the dated facts that would fall after it."""
    data["as_of"] = as_of
    data["episode_start"] = None
    data["medication_trials"] = []
    data["assessments"] = []
    data["suicidality"] = None
    data["request"]["therapy_start"] = None
    for diagnosis in data["diagnoses"]:
        diagnosis["recorded"] = None
    return data


def check(checker: Checker, data: dict[str, Any], *, any_version: bool = False) -> Determination:
    """The determination; with ``any_version``, under the policy's newest version whatever the date
    (the criteria's arithmetic at dates before any version took effect)."""
    if not any_version:
        return checker.check(json.dumps(data))
    case = checker.parse(json.dumps(data))
    policy = checker.registry.get(case.coverage.policy_id)
    return checker.determine(case, policy=policy)


def criterion(checker: Checker, data: dict[str, Any], criterion_id: str) -> tuple[str, str]:
    result = check(checker, data).criterion(criterion_id)
    assert result is not None, f"{criterion_id} not evaluated"
    return result.status, result.detail


def status(checker: Checker, data: dict[str, Any], criterion_id: str) -> str:
    return criterion(checker, data, criterion_id)[0]


def with_trials(data: dict[str, Any], *trials: dict[str, Any]) -> dict[str, Any]:
    data["medication_trials"] = list(trials)
    return data


def failed_trials(checker: Checker, *trials: dict[str, Any], policy: str = "standard-commercial") -> tuple[str, str]:
    return criterion(checker, with_trials(for_policy(policy), *trials), "failed_trials")


def custom_checker(yaml_text: str) -> Checker:
    policies = [*load_registry(None).all(), parse_policy(yaml_text.encode(), "custom.yaml")]
    return Checker(PolicyRegistry(policies), default_drug_table())


CUSTOM = """
id: custom
name: Custom
version: "2026-01-01"
effective_date: 2026-01-01
modeled_on: a test
billing_scheme: {scheme}
max_improvement_pct: {max_improvement}
treatments:
  esketamine:
    covered: true
    prior_authorization: true
    pathways:
      - indication: trd
        kind: initial
        authorization_days: 120
        criteria:
          - {{id: failed_trials, min_trials: 1, min_classes: 1, min_weeks: 8, current_episode: {current_episode}}}
          - {{id: psychosis, attestation_allowed: true, psychotic_codes: [f20.9]}}
          - {{id: age, min_age: 18, max_age: 30}}
  iv_ketamine:
    covered: true
    prior_authorization: false
    pathways:
      - {{indication: trd, kind: initial, authorization_days: 30, criteria: [{{id: age, min_age: 18}}]}}
"""


def custom(scheme: str = "hcpcs", max_improvement: float = 25, current_episode: bool = True) -> Checker:
    return custom_checker(
        CUSTOM.format(scheme=scheme, max_improvement=max_improvement, current_episode=current_episode)
    )


def custom_case(**request: Any) -> dict[str, Any]:
    data = sample()
    data["coverage"]["policy_id"] = "custom"
    data["request"].update(request)
    return data


# --- duration: plain date differences ---------------------------------------------------------


def test_one_january_to_twelve_february_is_42_days_which_is_six_weeks(checker: Checker) -> None:
    assert failed_trials(checker, trial(start="2026-01-01", end="2026-02-12"), DULOXETINE_OK)[0] == "met"
    state, detail = failed_trials(checker, trial(start="2026-01-01", end="2026-02-11"), DULOXETINE_OK)
    assert state == "not_met"
    assert "sertraline" in detail
    assert "41 days" in detail


def test_strict_four_weeks_is_28_days(checker: Checker) -> None:
    other = trial("escitalopram", 10, "2026-03-01", "2026-05-01")
    assert (
        failed_trials(checker, trial(start="2026-01-01", end="2026-01-29"), other, policy="strict-commercial")[0]
        == "met"
    )
    assert failed_trials(checker, trial(start="2026-01-01", end="2026-01-28"), other, policy="strict-commercial")[
        0
    ] == ("not_met")


def test_an_ongoing_trial_is_measured_to_as_of(checker: Checker) -> None:
    assert failed_trials(checker, trial(start="2026-10-09", end=None), DULOXETINE_OK)[0] == "met"  # 42 days
    assert failed_trials(checker, trial(start="2026-10-10", end=None), DULOXETINE_OK)[0] == "not_met"  # 41 days


def test_an_end_after_as_of_is_cut_at_as_of(checker: Checker) -> None:
    assert failed_trials(checker, trial(start="2026-10-09", end="2027-03-01"), DULOXETINE_OK)[0] == "met"
    assert failed_trials(checker, trial(start="2026-10-10", end="2027-03-01"), DULOXETINE_OK)[0] == "not_met"


# --- the current episode --------------------------------------------------------------------


def test_a_trial_ending_on_the_episode_start_reaches_the_window(checker: Checker) -> None:
    on_the_day = trial(start="2025-06-01", end=EPISODE, outcome="intolerance")
    assert failed_trials(checker, on_the_day, DULOXETINE_OK)[0] == "met"
    day_before = trial(start="2025-06-01", end="2025-08-14", outcome="intolerance")
    state, detail = failed_trials(checker, day_before, DULOXETINE_OK)
    assert state == "not_met"
    assert "sertraline" in detail


def test_the_start_is_clipped_to_the_episode_start(checker: Checker) -> None:
    # 81 days in all, but only 36 of them in the current episode.
    state, detail = failed_trials(checker, trial(start="2025-07-01", end="2025-09-20"), DULOXETINE_OK)
    assert state == "not_met"
    assert "36 days" in detail
    # 42 days from the episode start.
    assert failed_trials(checker, trial(start="2025-07-01", end="2025-09-26"), DULOXETINE_OK)[0] == "met"


def test_without_current_episode_neither_window_nor_clip_applies() -> None:
    checker = custom(current_episode=False)
    old = trial(start="2020-01-01", end="2020-02-26", improvement=0)  # 56 days, years before the episode
    assert criterion(checker, with_trials(custom_case(), old), "failed_trials")[0] == "met"
    short = trial(start="2020-01-01", end="2020-02-25", improvement=0)
    assert criterion(checker, with_trials(custom_case(), short), "failed_trials")[0] == "not_met"
    no_episode = with_trials(custom_case(), old)
    no_episode["episode_start"] = None
    assert criterion(checker, no_episode, "failed_trials")[0] == "met"


def test_missing_when_the_episode_start_is_unknown(checker: Checker) -> None:
    for value in (None, "absent"):
        data = for_policy("standard-commercial")
        if value is None:
            data["episode_start"] = None
        else:
            del data["episode_start"]
        assert status(checker, data, "failed_trials") == "missing"
    strict = strict_meeting()
    strict["episode_start"] = None
    assert status(checker, strict, "augmentation_trials") == "missing"
    assert status(checker, strict, "concurrent_antidepressant") == "met"  # needs no episode


def test_missing_when_there_are_no_trials(checker: Checker) -> None:
    for trials in ([], None, "absent"):
        data = strict_meeting()
        if trials == "absent":
            del data["medication_trials"]
        else:
            data["medication_trials"] = trials
        determination = check(checker, data)
        assert determination.criterion("failed_trials").status == "missing"  # type: ignore[union-attr]
        assert determination.criterion("augmentation_trials").status == "missing"  # type: ignore[union-attr]
        assert determination.criterion("concurrent_antidepressant").status == "not_met"  # type: ignore[union-attr]


def test_trials_of_the_other_role_only_are_not_missing(checker: Checker) -> None:
    only_augmentation = trial("aripiprazole", 5, role="augmentation")
    assert failed_trials(checker, only_augmentation)[0] == "not_met"
    data = with_trials(strict_meeting(), trial(), trial("escitalopram", 10))
    assert status(checker, data, "augmentation_trials") == "not_met"


# --- drug names -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Zoloft", "ZOLOFT", "  zoloft ", "Sertraline", " SERTRALINE  "])
def test_names_match_case_insensitively_ignoring_surrounding_spaces(checker: Checker, name: str) -> None:
    state, detail = failed_trials(checker, trial(name), DULOXETINE_OK)
    assert state == "met"
    assert "sertraline SSRI" in detail


def test_a_tab_in_a_drug_name_is_a_control_character(checker: Checker) -> None:
    # Case texts refuse control characters (coverage.fields); a tab is one.
    data = with_trials(sample(), trial(" SERTRALINE\t"))
    with pytest.raises(InvalidCase, match=r"medication_trials\[0\]\.drug: contains a control character"):
        checker.parse(json.dumps(data))


@pytest.mark.parametrize(
    ("brand", "generic"),
    [
        ("Effexor XR", "venlafaxine"),
        ("wellbutrin xl", "bupropion"),
        ("Sarafem", "fluoxetine"),
        ("EMSAM", "selegiline transdermal"),
        (" Selegiline Transdermal ", "selegiline transdermal"),
    ],
)
def test_brand_names_resolve_to_the_generic(brand: str, generic: str) -> None:
    drug = default_drug_table().resolve(brand)
    assert drug is not None
    assert drug.name == generic


def test_brand_names_count_as_their_generic(checker: Checker) -> None:
    state, detail = failed_trials(checker, trial("Effexor XR", 75), trial("Lexapro", 10, "2026-03-01", "2026-05-01"))
    assert state == "met"
    assert "venlafaxine SNRI" in detail
    assert "escitalopram SSRI" in detail


def test_the_same_drug_by_brand_and_generic_counts_once(checker: Checker) -> None:
    state, detail = failed_trials(
        checker, trial("Zoloft", start="2025-09-01", end="2025-11-01"), trial("sertraline", start="2026-01-01")
    )
    assert state == "not_met"
    assert detail.startswith("1 qualifying trial in 1 class")
    assert "already counted" in detail


def test_a_second_trial_of_a_drug_counts_when_the_first_did_not(checker: Checker) -> None:
    short = trial("sertraline", start="2026-01-01", end="2026-01-10")
    assert failed_trials(checker, short, trial("Zoloft", start="2026-03-01", end="2026-05-01"), DULOXETINE_OK)[0] == (
        "met"
    )


def test_unknown_drugs_are_valid_never_counted_and_named(checker: Checker) -> None:
    state, detail = failed_trials(checker, trial("Zyxoprine", 900), DULOXETINE_OK)
    assert state == "not_met"
    assert "Zyxoprine" in detail
    data = with_trials(strict_meeting(), trial("Mystery-Aug", 5, role="augmentation"))
    state, detail = criterion(checker, data, "augmentation_trials")
    assert state == "not_met"
    assert "Mystery-Aug" in detail


def test_two_classes_are_needed_under_the_standard_policy(checker: Checker) -> None:
    two_ssris = (trial("sertraline"), trial("escitalopram", 10, "2026-03-01", "2026-05-01"))
    state, detail = failed_trials(checker, *two_ssris)
    assert state == "not_met"
    assert detail.startswith("2 qualifying trials in 1 class")
    assert failed_trials(checker, *two_ssris, policy="strict-commercial")[0] == "met"


def test_ketamine_inclusive_needs_four_drugs_in_two_classes(checker: Checker) -> None:
    data = sample("EX-07-iv-covered")
    assert status(checker, data, "failed_trials") == "met"
    data["medication_trials"] = [t for t in data["medication_trials"] if t["drug"] != "venlafaxine"]
    assert status(checker, data, "failed_trials") == "not_met"  # bupropion improved 30%: only 3 left


# --- dose floors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drug", "dose", "counts"),
    [
        ("sertraline", 50, True),
        ("sertraline", 49.99, False),
        ("bupropion", 300, True),
        ("bupropion", 299, False),
        ("Emsam", 6, True),
        ("selegiline transdermal", 5.9, False),
    ],
)
def test_the_minimum_adequate_dose_counts(checker: Checker, drug: str, dose: float, counts: bool) -> None:
    state, detail = failed_trials(checker, trial(drug, dose), DULOXETINE_OK)
    assert state == ("met" if counts else "not_met")
    if not counts:
        assert "below" in detail


def test_augmentation_dose_floor_with_a_fractional_minimum(checker: Checker) -> None:
    data = sample("EX-07-iv-covered")
    data["medication_trials"][5] = trial("Cytomel", 0.025, "2025-04-01", "2025-06-01", role="augmentation")
    assert status(checker, data, "augmentation_trials") == "met"
    data["medication_trials"][5]["daily_dose_mg"] = 0.024
    assert status(checker, data, "augmentation_trials") == "not_met"


# --- what a failed trial is ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "improvement", "counts"),
    [
        ("inadequate_response", None, True),
        ("partial_response", None, False),
        ("response", None, False),
        ("unknown", None, False),
        ("intolerance", None, True),
        ("response", 10, True),  # the figure wins over the outcome
        ("unknown", 25, True),
        ("partial_response", 25, True),
        ("inadequate_response", 25.1, False),
        ("inadequate_response", 60, False),
        ("intolerance", 90, True),  # except for intolerance
        ("response", 0, True),
    ],
)
def test_failure_by_improvement_figure_or_outcome(
    checker: Checker, outcome: str, improvement: float | None, counts: bool
) -> None:
    state, detail = failed_trials(checker, trial(outcome=outcome, improvement=improvement), DULOXETINE_OK)
    assert state == ("met" if counts else "not_met")
    if not counts:
        assert "sertraline" in detail


def test_the_policy_sets_the_improvement_limit() -> None:
    checker = custom(max_improvement=30)
    assert criterion(checker, with_trials(custom_case(), trial(improvement=30)), "failed_trials")[0] == "met"
    assert criterion(checker, with_trials(custom_case(), trial(improvement=30.5)), "failed_trials")[0] == "not_met"


def test_intolerance_skips_dose_and_duration_but_not_the_window(checker: Checker) -> None:
    brief = trial(dose=1, start="2026-01-01", end="2026-01-01", outcome="intolerance")
    assert failed_trials(checker, brief, DULOXETINE_OK)[0] == "met"
    before_episode = trial(dose=1, start="2025-01-01", end="2025-01-02", outcome="intolerance")
    assert failed_trials(checker, before_episode, DULOXETINE_OK)[0] == "not_met"
    # Intolerance by outcome, even with a figure that would say otherwise.
    assert failed_trials(checker, {**brief, "improvement_pct": 80}, DULOXETINE_OK)[0] == "met"


# --- roles --------------------------------------------------------------------------------------


def test_an_augmentation_agent_is_never_an_antidepressant_trial(checker: Checker) -> None:
    as_antidepressant = trial("aripiprazole", 5, role="antidepressant")
    state, detail = failed_trials(checker, as_antidepressant, DULOXETINE_OK)
    assert state == "not_met"
    assert "aripiprazole" in detail
    data = with_trials(strict_meeting(), as_antidepressant, trial("quetiapine", 150, role="augmentation"))
    assert status(checker, data, "augmentation_trials") == "not_met"  # only quetiapine counts; 2 needed


def test_an_antidepressant_is_never_an_augmentation_trial(checker: Checker) -> None:
    data = strict_meeting()
    data["medication_trials"] = [
        trial("lithium", 600, role="augmentation"),
        trial("sertraline", 100, role="augmentation"),
        trial("escitalopram", 10, "2026-03-01", "2026-05-01", role="augmentation"),
    ]
    state, detail = criterion(checker, data, "augmentation_trials")
    assert state == "not_met"
    assert "sertraline" in detail
    assert status(checker, data, "failed_trials") == "not_met"  # roles in the case count too


def test_augmentation_trials_count_distinct_drugs_not_classes(checker: Checker) -> None:
    data = strict_meeting()
    data["medication_trials"] = [
        *[t for t in data["medication_trials"] if t["role"] == "antidepressant"],
        trial("Abilify", 5, "2026-03-01", "2026-04-01", role="augmentation"),
        trial("Rexulti", 2, "2026-04-05", "2026-05-05", role="augmentation"),
    ]
    assert status(checker, data, "augmentation_trials") == "met"  # two second-generation antipsychotics
    data["medication_trials"][-1]["drug"] = "aripiprazole"
    assert status(checker, data, "augmentation_trials") == "not_met"


# --- concurrent antidepressant ---------------------------------------------------------------------


def concurrent(checker: Checker, *trials: dict[str, Any], data: dict[str, Any] | None = None) -> tuple[str, str]:
    return criterion(checker, with_trials(data or strict_meeting(), *trials), "concurrent_antidepressant")


def test_min_days_counts_exactly(checker: Checker) -> None:
    assert concurrent(checker, trial("bupropion", 300, "2026-11-06", None, "partial_response", 20))[0] == "met"
    state, detail = concurrent(checker, trial("bupropion", 300, "2026-11-07", None, "partial_response", 20))
    assert state == "not_met"
    assert "13 days" in detail


def test_ongoing_means_no_end_or_an_end_after_as_of(checker: Checker) -> None:
    assert concurrent(checker, trial("sertraline", 100, "2026-01-01", "2026-11-21"))[0] == "met"
    assert concurrent(checker, trial("sertraline", 100, "2026-01-01", AS_OF))[0] == "not_met"
    assert concurrent(checker, trial("sertraline", 100, "2026-01-01", None))[0] == "met"


def test_concurrent_needs_no_failure_dose_or_episode(checker: Checker) -> None:
    responding = trial("sertraline", 1, "2020-01-01", None, "response", 90)
    assert concurrent(checker, responding)[0] == "met"


def test_not_previously_failed(checker: Checker) -> None:
    ongoing = trial("sertraline", 100, "2026-06-01", None, "unknown")
    earlier_failed = trial("Zoloft", 10, "2024-01-01", "2024-01-05", "inadequate_response")
    state, detail = concurrent(checker, earlier_failed, ongoing)
    assert state == "not_met"
    assert "sertraline" in detail
    earlier_responded = trial("sertraline", 100, "2024-01-01", "2024-05-01", "inadequate_response", 40)
    assert concurrent(checker, earlier_responded, ongoing)[0] == "met"
    earlier_as_augmentation = {**earlier_failed, "role": "augmentation"}
    assert concurrent(checker, earlier_as_augmentation, ongoing)[0] == "not_met"
    other_drug_failed = trial("escitalopram", 10, "2024-01-01", "2024-05-01")
    assert concurrent(checker, other_drug_failed, ongoing)[0] == "met"
    # Ended on as_of is not "before as_of", and it is not ongoing either.
    ended_today = trial("sertraline", 100, "2026-01-01", AS_OF)
    assert concurrent(checker, ended_today, ongoing)[0] == "met"


def test_a_second_ongoing_trial_can_meet_when_the_first_does_not(checker: Checker) -> None:
    too_recent = trial("sertraline", 100, "2026-11-15", None)
    long_running = trial("mirtazapine", 30, "2026-05-01", None)
    assert concurrent(checker, too_recent, long_running)[0] == "met"


def test_concurrent_roles_and_unknown_drugs(checker: Checker) -> None:
    assert concurrent(checker, trial("aripiprazole", 5, "2026-01-01", None, role="antidepressant"))[0] == "not_met"
    assert concurrent(checker, trial("sertraline", 100, "2026-01-01", None, role="augmentation"))[0] == "not_met"
    assert concurrent(checker, trial("Zyxoprine", 100, "2026-01-01", None))[0] == "not_met"


def test_concurrent_without_parameters(checker: Checker) -> None:
    data = mdsi()
    assert concurrent(checker, trial("sertraline", 100, AS_OF, None), data=data)[0] == "met"
    failed_before = trial("sertraline", 100, "2024-01-01", "2024-05-01")
    assert concurrent(checker, failed_before, trial("sertraline", 100, AS_OF, None), data=mdsi())[0] == "met"
    assert concurrent(checker, data=mdsi())[0] == "not_met"  # no trials: never missing


# --- severity ------------------------------------------------------------------------------------


def severity(checker: Checker, data: dict[str, Any], *assessments: tuple[str, int, str]) -> tuple[str, str]:
    data["assessments"] = [{"instrument": i, "score": s, "date": d} for i, s, d in assessments]
    return criterion(checker, data, "severity")


def test_severity_window_counts_exactly_window_days_back(checker: Checker) -> None:
    standard = for_policy("standard-commercial")
    assert severity(checker, standard, ("bdi2", 0, "2026-10-21"))[0] == "met"  # 30 days back, no minimum
    assert severity(checker, standard, ("bdi2", 40, "2026-10-20"))[0] == "missing"
    assert severity(checker, standard, ("qids_sr16", 3, AS_OF))[0] == "met"
    strict = for_policy("strict-commercial")
    assert severity(checker, strict, ("phq9", 20, "2026-10-23"))[0] == "met"  # 28 days back
    assert severity(checker, strict, ("phq9", 20, "2026-10-22"))[0] == "missing"


def test_severity_minimums(checker: Checker) -> None:
    strict = for_policy("strict-commercial")
    assert severity(checker, strict, ("phq9", 16, AS_OF))[0] == "met"
    state, detail = severity(checker, strict, ("phq9", 15, AS_OF))
    assert state == "not_met"
    assert "15" in detail
    assert severity(checker, strict, ("madrs", 50, AS_OF))[0] == "missing"  # not an accepted instrument
    assert severity(checker, strict, ("phq9", 10, AS_OF), ("phq9", 18, "2026-11-01"))[0] == "met"
    inclusive = for_policy("ketamine-inclusive")
    assert severity(checker, inclusive, ("madrs", 28, AS_OF))[0] == "met"
    assert severity(checker, inclusive, ("madrs", 27, AS_OF), ("hamd17", 16, AS_OF))[0] == "not_met"
    assert severity(checker, inclusive, ("madrs", 27, AS_OF), ("hamd17", 17, AS_OF))[0] == "met"
    assert severity(checker, inclusive, ("phq9", 27, AS_OF))[0] == "missing"


def test_severity_without_assessments_is_missing(checker: Checker) -> None:
    data = for_policy("standard-commercial")
    data["assessments"] = None
    assert status(checker, data, "severity") == "missing"


# --- suicidality --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suicidality", "expected"),
    [
        ({"acute_ideation_or_behavior": True, "documented": "2026-11-13"}, "met"),  # 7 days back
        ({"acute_ideation_or_behavior": True, "documented": AS_OF}, "met"),
        ({"acute_ideation_or_behavior": True, "documented": "2026-11-12"}, "not_met"),
        ({"acute_ideation_or_behavior": True, "documented": None}, "missing"),
        ({"acute_ideation_or_behavior": True}, "missing"),
        ({"acute_ideation_or_behavior": False, "documented": AS_OF}, "not_met"),
        ({"acute_ideation_or_behavior": False}, "not_met"),
        ({"acute_ideation_or_behavior": None, "documented": AS_OF}, "missing"),
        ({}, "missing"),
        (None, "missing"),
    ],
)
def test_suicidality(checker: Checker, suicidality: dict[str, Any] | None, expected: str) -> None:
    data = mdsi()
    data["suicidality"] = suicidality
    assert status(checker, data, "suicidality") == expected


def test_strict_suicidality_window_is_five_days(checker: Checker) -> None:
    data = mdsi("strict-commercial")
    data["suicidality"]["documented"] = "2026-11-15"
    assert status(checker, data, "suicidality") == "met"
    data["suicidality"]["documented"] = "2026-11-14"
    assert status(checker, data, "suicidality") == "not_met"


# --- response (continuation) ----------------------------------------------------------------------


def response(
    checker: Checker, policy: str, *assessments: tuple[str, int, str], therapy_start: str | None = "2026-09-01"
) -> tuple[str, str]:
    data = for_policy(policy, kind="continuation")
    data["request"]["therapy_start"] = therapy_start
    data["assessments"] = [{"instrument": i, "score": s, "date": d} for i, s, d in assessments]
    return criterion(checker, data, "response")


def test_response_at_exactly_fifty_percent(checker: Checker) -> None:
    assert response(checker, "standard-commercial", ("phq9", 20, "2026-08-25"), ("phq9", 10, AS_OF))[0] == "met"
    assert response(checker, "standard-commercial", ("phq9", 20, "2026-08-25"), ("phq9", 11, AS_OF))[0] == "not_met"
    assert response(checker, "strict-commercial", ("phq9", 20, "2026-08-25"), ("phq9", 10, AS_OF))[0] == "not_met"
    assert response(checker, "strict-commercial", ("phq9", 20, "2026-08-25"), ("phq9", 9, AS_OF))[0] == "met"


def test_response_is_computed_exactly(checker: Checker) -> None:
    # 27 -> 18 is 33.33...%; 24 -> 18 is exactly 25%; 3/4 of 52 is 39: 52 -> 39 is exactly 25%.
    inclusive = "ketamine-inclusive"
    assert response(checker, inclusive, ("madrs", 24, "2026-08-01"), ("madrs", 18, AS_OF))[0] == "met"
    assert response(checker, inclusive, ("hamd17", 52, "2026-08-01"), ("hamd17", 39, AS_OF))[0] == "met"
    assert response(checker, inclusive, ("hamd17", 52, "2026-08-01"), ("hamd17", 40, AS_OF))[0] == "not_met"
    # 50% of odd baselines: 27 -> 13 is 51.85%, 27 -> 14 is 48.1%.
    assert response(checker, "strict-commercial", ("phq9", 27, "2026-08-01"), ("phq9", 13, AS_OF))[0] == "met"
    assert response(checker, "standard-commercial", ("phq9", 27, "2026-08-01"), ("phq9", 14, AS_OF))[0] == "not_met"


def test_a_baseline_of_zero_never_meets(checker: Checker) -> None:
    state, _ = response(checker, "standard-commercial", ("phq9", 0, "2026-08-25"), ("phq9", 0, AS_OF))
    assert state == "not_met"


def test_latest_baseline_and_latest_current(checker: Checker) -> None:
    scores = [
        ("phq9", 10, "2026-06-01"),  # an older baseline that would meet
        ("phq9", 20, "2026-09-01"),  # on therapy_start: the baseline
        ("phq9", 9, "2026-11-01"),
        ("phq9", 12, "2026-11-10"),  # the latest current score: 40%
    ]
    state, detail = response(checker, "standard-commercial", *scores)
    assert state == "not_met"
    assert "20" in detail
    assert "12" in detail
    reordered = [scores[3], scores[2], scores[1], scores[0]]
    assert response(checker, "standard-commercial", *reordered)[0] == "not_met"
    assert response(checker, "standard-commercial", *scores[:3])[0] == "met"


def test_current_window(checker: Checker) -> None:
    assert response(checker, "standard-commercial", ("phq9", 20, "2026-08-25"), ("phq9", 5, "2026-10-21"))[0] == "met"
    assert response(checker, "standard-commercial", ("phq9", 20, "2026-08-25"), ("phq9", 5, "2026-10-20"))[0] == (
        "missing"
    )


def test_a_score_on_therapy_start_is_a_baseline_not_a_current_score(checker: Checker) -> None:
    state, _ = response(checker, "standard-commercial", ("phq9", 20, "2026-11-01"), therapy_start="2026-11-01")
    assert state == "missing"
    state, _ = response(
        checker,
        "standard-commercial",
        ("phq9", 20, "2026-11-01"),
        ("phq9", 8, "2026-11-02"),
        therapy_start="2026-11-01",
    )
    assert state == "met"


def test_response_missing(checker: Checker) -> None:
    assert (
        response(checker, "standard-commercial", ("phq9", 20, "2026-08-25"), ("phq9", 5, AS_OF), therapy_start=None)[0]
        == "missing"
    )
    assert response(checker, "standard-commercial", ("phq9", 20, "2026-08-25"), ("madrs", 5, AS_OF))[0] == "missing"
    assert response(checker, "standard-commercial")[0] == "missing"


def test_any_accepted_instrument_with_both_scores(checker: Checker) -> None:
    scores = [("phq9", 20, "2026-08-25"), ("phq9", 18, AS_OF), ("madrs", 40, "2026-08-25"), ("madrs", 10, AS_OF)]
    assert response(checker, "standard-commercial", *scores)[0] == "met"
    assert response(checker, "strict-commercial", *scores)[0] == "not_met"  # PHQ-9 only
    assert response(checker, "strict-commercial", *scores[2:])[0] == "missing"


# --- tri-state criteria ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("certified", "enrolled", "expected"),
    [
        (True, True, "met"),
        (False, True, "not_met"),
        (True, False, "not_met"),
        (False, None, "not_met"),
        (None, False, "not_met"),
        (None, True, "missing"),
        (True, None, "missing"),
        (None, None, "missing"),
    ],
)
def test_rems(checker: Checker, certified: bool | None, enrolled: bool | None, expected: str) -> None:
    data = for_policy("standard-commercial")
    data["request"]["setting"]["rems_certified"] = certified
    data["request"]["patient_rems_enrolled"] = enrolled
    assert status(checker, data, "rems") == expected


def test_rems_without_a_setting_is_missing(checker: Checker) -> None:
    data = for_policy("standard-commercial")
    data["request"]["setting"] = None
    assert status(checker, data, "rems") == "missing"


def test_contraindications(checker: Checker) -> None:
    data = for_policy("standard-commercial")
    assert status(checker, data, "contraindications") == "met"
    data["history"]["uncontrolled_hypertension"] = True  # not one of the standard four
    assert status(checker, data, "contraindications") == "met"
    data["history"]["uncontrolled_hypertension"] = None
    assert status(checker, data, "contraindications") == "met"
    data["history"]["arteriovenous_malformation"] = None
    assert status(checker, data, "contraindications") == "missing"
    data["history"]["ketamine_hypersensitivity"] = True
    state, detail = criterion(checker, data, "contraindications")
    assert state == "not_met"
    assert "ketamine_hypersensitivity" in detail
    data["history"] = None
    assert status(checker, data, "contraindications") == "missing"


def test_ketamine_inclusive_adds_uncontrolled_hypertension_except_in_mdsi(checker: Checker) -> None:
    for treatment, kind in (("esketamine", "initial"), ("iv_ketamine", "initial"), ("iv_ketamine", "continuation")):
        data = for_policy("ketamine-inclusive", treatment=treatment, kind=kind)
        data["history"]["uncontrolled_hypertension"] = True
        assert status(checker, data, "contraindications") == "not_met"
        data["history"]["uncontrolled_hypertension"] = None
        assert status(checker, data, "contraindications") == "missing"
    data = mdsi("ketamine-inclusive")
    data["history"]["uncontrolled_hypertension"] = True
    assert status(checker, data, "contraindications") == "met"


@pytest.mark.parametrize(
    ("policy", "psychosis", "attested", "expected"),
    [
        ("standard-commercial", False, None, "met"),
        ("standard-commercial", True, True, "met"),
        ("standard-commercial", True, False, "not_met"),
        ("standard-commercial", True, None, "not_met"),
        ("standard-commercial", None, True, "missing"),
        ("strict-commercial", True, True, "not_met"),
        ("strict-commercial", False, True, "met"),
        ("strict-commercial", None, None, "missing"),
    ],
)
def test_psychosis(checker: Checker, policy: str, psychosis: bool | None, attested: bool | None, expected: str) -> None:
    data = for_policy(policy)
    data["history"]["psychosis"] = psychosis
    data["history"]["psychosis_benefit_outweighs_risk"] = attested
    assert status(checker, data, "psychosis") == expected


@pytest.mark.parametrize("code", ["F33.3", "f32.3", "F 333", "f333"])
def test_a_psychotic_diagnosis_is_a_history_of_psychosis(checker: Checker, code: str) -> None:
    data = for_policy("standard-commercial")
    data["diagnoses"].append({"code": code, "recorded": None})
    data["history"]["psychosis"] = False
    assert status(checker, data, "psychosis") == "not_met"
    data["history"]["psychosis"] = None
    data["history"]["psychosis_benefit_outweighs_risk"] = True
    assert status(checker, data, "psychosis") == "met"
    data["history"] = None
    assert status(checker, data, "psychosis") == "not_met"


def test_psychotic_codes_are_a_parameter() -> None:
    checker = custom()
    data = custom_case()
    data["diagnoses"].append({"code": "F20.9"})
    data["history"]["psychosis"] = False
    assert criterion(checker, data, "psychosis")[0] == "not_met"
    data["diagnoses"][-1]["code"] = "F33.3"  # not in this policy's list
    assert criterion(checker, data, "psychosis")[0] == "met"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("active", "not_met"), ("none", "met"), ("in_remission", "met"), ("in_treatment", "met"), (None, "missing")],
)
def test_substance_use(checker: Checker, value: str | None, expected: str) -> None:
    data = for_policy("strict-commercial")
    data["history"]["substance_use_disorder"] = value
    assert status(checker, data, "substance_use") == expected


@pytest.mark.parametrize(
    ("sex", "pregnant", "expected"),
    [
        ("female", True, "not_met"),
        ("female", False, "met"),
        ("female", None, "missing"),
        ("male", None, "met"),
        ("male", True, "not_met"),
        (None, False, "met"),
        (None, None, "missing"),
        ("other", None, "missing"),
        ("unknown", None, "missing"),
    ],
)
def test_pregnancy(checker: Checker, sex: str | None, pregnant: bool | None, expected: str) -> None:
    data = for_policy("strict-commercial")
    data["patient"]["sex"] = sex
    data["patient"]["pregnant"] = pregnant
    assert status(checker, data, "pregnancy") == expected


def test_prescriber(checker: Checker) -> None:
    data = for_policy("standard-commercial")
    data["request"]["prescriber"]["specialty"] = "psychiatric_nurse_practitioner"
    assert status(checker, data, "prescriber") == "not_met"
    data["coverage"]["policy_id"] = "strict-commercial"
    assert status(checker, data, "prescriber") == "met"
    data["request"]["prescriber"]["specialty"] = "primary_care"
    assert status(checker, data, "prescriber") == "not_met"
    data["request"]["prescriber"]["specialty"] = None
    assert status(checker, data, "prescriber") == "missing"
    data["request"]["prescriber"] = None
    assert status(checker, data, "prescriber") == "missing"


# --- diagnosis ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["F33.2"], "met"),
        (["f332"], "met"),
        (["F 32.9"], "met"),
        (["F33.20"], "not_met"),  # allowed codes match exactly
        (["F33.3"], "not_met"),
        (["F41.1"], "not_met"),
        (["F41.1", "F33.1"], "met"),
        (["F33.2", "F31.81"], "not_met"),  # an excluded prefix beats an allowed code
        (["f31"], "not_met"),
        ([], "missing"),
        (None, "missing"),
    ],
)
def test_diagnosis(checker: Checker, codes: list[str] | None, expected: str) -> None:
    data = for_policy("standard-commercial")
    data["diagnoses"] = None if codes is None else [{"code": c, "recorded": "2025-01-01"} for c in codes]
    assert status(checker, data, "diagnosis") == expected


def test_the_recorded_date_is_not_used(checker: Checker) -> None:
    data = for_policy("standard-commercial")
    data["diagnoses"] = [{"code": "F33.2", "recorded": "1990-01-01"}]
    assert status(checker, data, "diagnosis") == "met"


# --- age ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "as_of", "years"),
    [
        ("2008-11-20", "2026-11-20", 18),  # the 18th birthday
        ("2008-11-21", "2026-11-20", 17),
        ("2008-02-29", "2026-02-28", 17),  # common year: still 17 on 28 February
        ("2008-02-29", "2026-03-01", 18),  # and 18 on 1 March
        ("2008-02-29", "2028-02-29", 20),
        ("2008-02-29", "2028-02-28", 19),
        ("1960-01-01", "2025-12-31", 65),
        ("2026-11-20", "2026-11-20", 0),
    ],
)
def test_age_in_whole_years(checker: Checker, birth: str, as_of: str, years: int) -> None:
    data = at(for_policy("standard-commercial"), as_of)
    data["patient"]["birth_date"] = birth
    state, detail = criterion(checker, data, "age")
    assert detail.startswith(f"{years} years")
    assert state == ("met" if years >= 18 else "not_met")


def test_max_age_is_inclusive(checker: Checker) -> None:
    data = for_policy("strict-commercial")
    data["patient"]["birth_date"] = "1961-11-21"  # 64, one day before the 65th birthday
    assert status(checker, data, "age") == "met"
    data["patient"]["birth_date"] = "1961-11-20"  # 65 today
    assert status(checker, data, "age") == "not_met"
    data["patient"]["birth_date"] = "2008-11-20"
    assert status(checker, data, "age") == "met"
    data["patient"]["birth_date"] = None
    assert status(checker, data, "age") == "missing"


# --- outcome, next step, alternatives -------------------------------------------------------------


def test_not_met_beats_missing(checker: Checker) -> None:
    data = for_policy("standard-commercial")
    data["assessments"] = []  # severity missing
    data["request"]["prescriber"]["specialty"] = "primary_care"  # prescriber not met
    determination = check(checker, data)
    assert determination.outcome == "does_not_meet_criteria"
    assert determination.next_step == "offer_payment_plan"
    data["request"]["prescriber"]["specialty"] = "psychiatry"
    determination = check(checker, data)
    assert determination.outcome == "missing_documentation"
    assert determination.next_step == "collect_documentation"


def test_criteria_hold_coverage_then_the_pathway_in_order(checker: Checker) -> None:
    expected = {
        ("standard-commercial", "esketamine", "trd", "initial"): [
            "age", "diagnosis", "failed_trials", "severity", "prescriber", "rems", "contraindications", "psychosis",
        ],
        ("standard-commercial", "esketamine", "mdsi", "initial"): [
            "age", "diagnosis", "prescriber", "rems", "contraindications", "psychosis", "suicidality",
            "concurrent_antidepressant",
        ],
        ("standard-commercial", "esketamine", "trd", "continuation"): [
            "age", "diagnosis", "rems", "contraindications", "response",
        ],
        ("standard-commercial", "esketamine", "mdsi", "continuation"): ["continuation_allowed"],
        ("strict-commercial", "esketamine", "trd", "initial"): [
            "age", "diagnosis", "failed_trials", "augmentation_trials", "concurrent_antidepressant", "severity",
            "prescriber", "rems", "contraindications", "psychosis", "substance_use", "pregnancy",
        ],
        ("strict-commercial", "esketamine", "mdsi", "initial"): [
            "age", "diagnosis", "prescriber", "rems", "contraindications", "psychosis", "substance_use", "pregnancy",
            "suicidality", "concurrent_antidepressant",
        ],
        ("strict-commercial", "esketamine", "trd", "continuation"): [
            "age", "diagnosis", "rems", "contraindications", "response",
        ],
        ("strict-commercial", "esketamine", "mdsi", "continuation"): ["continuation_allowed"],
        ("ketamine-inclusive", "esketamine", "trd", "initial"): [
            "age", "diagnosis", "severity", "failed_trials", "augmentation_trials", "concurrent_antidepressant",
            "prescriber", "psychosis", "substance_use", "contraindications", "rems",
        ],
        ("ketamine-inclusive", "iv_ketamine", "trd", "initial"): [
            "age", "diagnosis", "severity", "failed_trials", "augmentation_trials", "concurrent_antidepressant",
            "prescriber", "psychosis", "substance_use", "contraindications",
        ],
        ("ketamine-inclusive", "esketamine", "trd", "continuation"): [
            "age", "diagnosis", "contraindications", "rems", "response",
        ],
        ("ketamine-inclusive", "iv_ketamine", "trd", "continuation"): [
            "age", "diagnosis", "contraindications", "response",
        ],
        ("ketamine-inclusive", "esketamine", "mdsi", "initial"): [
            "age", "diagnosis", "prescriber", "rems", "contraindications", "psychosis", "suicidality",
            "concurrent_antidepressant", "substance_use",
        ],
        ("ketamine-inclusive", "esketamine", "mdsi", "continuation"): ["continuation_allowed"],
    }  # fmt: skip
    for indication in ("trd", "mdsi"):
        for kind in ("initial", "continuation"):
            expected[("medicare-part-b", "esketamine", indication, kind)] = [
                "age",
                "diagnosis",
                "rems",
                "contraindications",
            ]
    for (policy, treatment, indication, kind), ids in expected.items():
        determination = check(checker, for_policy(policy, treatment, indication, kind))
        assert [c.id for c in determination.criteria] == ["coverage", *ids], (policy, treatment, indication, kind)
        assert determination.criteria[0].status == "met"


@pytest.mark.parametrize(
    ("policy", "treatment", "indication", "kind"),
    [
        ("standard-commercial", "iv_ketamine", "trd", "initial"),
        ("strict-commercial", "iv_ketamine", "mdsi", "continuation"),
        ("medicare-part-b", "iv_ketamine", "trd", "initial"),
        ("ketamine-inclusive", "iv_ketamine", "mdsi", "initial"),
        ("ketamine-inclusive", "iv_ketamine", "mdsi", "continuation"),
    ],
)
def test_not_covered_holds_only_coverage(
    checker: Checker, policy: str, treatment: str, indication: str, kind: str
) -> None:
    determination = check(checker, for_policy(policy, treatment, indication, kind))
    assert determination.outcome == "not_covered"
    assert [(c.id, c.status) for c in determination.criteria] == [("coverage", "not_met")]
    assert determination.authorization_days is None
    assert determination.billing == ()


def test_self_pay_is_not_covered_even_with_a_policy(checker: Checker) -> None:
    data = for_policy("ketamine-inclusive")
    data["coverage"]["plan_type"] = "self_pay"
    determination = check(checker, data)
    assert determination.outcome == "not_covered"
    assert determination.policy_id == "ketamine-inclusive"
    assert determination.alternatives[0].outcome == "not_covered"
    assert determination.next_step == "offer_payment_plan"
    data["coverage"]["policy_id"] = None
    determination = check(checker, data)
    assert (determination.policy_id, determination.policy_version, determination.policy_hash) == (None, None, None)
    assert determination.billing == ()


def test_consider_alternative_when_the_other_treatment_would_meet(checker: Checker) -> None:
    esketamine = sample("EX-07-iv-covered")
    esketamine["request"].update(treatment="esketamine", dose_mg=84)
    esketamine["request"]["setting"]["rems_certified"] = False
    determination = check(checker, esketamine)
    assert determination.outcome == "does_not_meet_criteria"
    assert [(a.treatment, a.indication, a.outcome) for a in determination.alternatives] == [
        ("iv_ketamine", "trd", "meets_criteria")
    ]
    assert determination.next_step == "consider_alternative"
    esketamine["request"]["setting"]["rems_certified"] = None  # missing documentation is not an alternative
    determination = check(checker, esketamine)
    assert determination.outcome == "missing_documentation"
    assert determination.next_step == "collect_documentation"


def test_the_alternative_is_trd_initial_whatever_was_asked(checker: Checker) -> None:
    data = sample("EX-07-iv-covered")
    data["request"].update(treatment="esketamine", dose_mg=28, indication="mdsi", kind="continuation")
    determination = check(checker, data)
    assert determination.outcome == "does_not_meet_criteria"
    assert [c.id for c in determination.criteria] == ["coverage", "continuation_allowed"]
    assert determination.authorization_days is None  # the pathway defines no period
    assert determination.alternatives[0].outcome == "meets_criteria"
    assert determination.next_step == "consider_alternative"


def test_alternative_no_pa_required_counts(checker: Checker) -> None:
    data = for_policy("medicare-part-b", treatment="iv_ketamine")
    determination = check(checker, data)
    assert determination.outcome == "not_covered"
    assert determination.alternatives[0].outcome == "no_pa_required"
    assert determination.next_step == "consider_alternative"
    data["history"]["ketamine_hypersensitivity"] = True
    determination = check(checker, data)
    assert determination.alternatives[0].outcome == "does_not_meet_criteria"
    assert determination.next_step == "offer_payment_plan"


def test_offer_payment_plan_when_the_alternative_is_missing_documents(checker: Checker) -> None:
    data = sample("EX-02-iv-not-covered")
    data["request"]["patient_rems_enrolled"] = None
    determination = check(checker, data)
    assert determination.alternatives[0].outcome == "missing_documentation"
    assert determination.next_step == "offer_payment_plan"


def test_no_pa_required_schedules_treatment(checker: Checker) -> None:
    for indication in ("trd", "mdsi"):
        for kind in ("initial", "continuation"):
            determination = check(checker, for_policy("medicare-part-b", indication=indication, kind=kind))
            assert determination.outcome == "no_pa_required"
            assert determination.next_step == "schedule_treatment"
            assert determination.authorization_days is None
            assert determination.criteria[0].detail.endswith("no prior authorization required")


def test_a_failing_no_pa_request_shows_no_period(checker: Checker) -> None:
    data = for_policy("medicare-part-b")
    data["patient"]["birth_date"] = "2010-01-01"
    determination = check(checker, data)
    assert determination.outcome == "does_not_meet_criteria"
    assert determination.authorization_days is None
    assert determination.billing[0].code == "G2082"


# --- authorization days -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "treatment", "indication", "kind", "days"),
    [
        ("standard-commercial", "esketamine", "trd", "initial", 180),
        ("standard-commercial", "esketamine", "mdsi", "initial", 60),
        ("standard-commercial", "esketamine", "trd", "continuation", 180),
        ("standard-commercial", "esketamine", "mdsi", "continuation", None),
        ("strict-commercial", "esketamine", "trd", "initial", 90),
        ("strict-commercial", "esketamine", "mdsi", "initial", 30),
        ("strict-commercial", "esketamine", "trd", "continuation", 90),
        ("ketamine-inclusive", "esketamine", "trd", "initial", 28),
        ("ketamine-inclusive", "iv_ketamine", "trd", "initial", 28),
        ("ketamine-inclusive", "esketamine", "mdsi", "initial", 28),
        ("ketamine-inclusive", "esketamine", "trd", "continuation", 90),
        ("ketamine-inclusive", "iv_ketamine", "trd", "continuation", 90),
        ("medicare-part-b", "esketamine", "trd", "initial", None),
    ],
)
def test_authorization_days_whatever_the_outcome(
    checker: Checker, policy: str, treatment: str, indication: str, kind: str, days: int | None
) -> None:
    data = for_policy(policy, treatment, indication, kind)
    assert check(checker, data).authorization_days == days
    data["patient"]["birth_date"] = "2015-01-01"  # fails age everywhere
    failing = check(checker, data)
    assert failing.outcome == "does_not_meet_criteria"
    assert failing.authorization_days == days


def test_no_pa_treatment_of_a_custom_policy_has_no_period() -> None:
    checker = custom()
    data = custom_case(treatment="iv_ketamine", dose_mg=None)
    determination = check(checker, data)
    assert determination.outcome == "no_pa_required"
    assert determination.authorization_days is None


# --- billing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "start_date", "code"),
    [
        ("2026-11-20", "2026-01-01", "J0013"),
        ("2026-11-20", "2025-12-31", "S0013"),
        ("2025-12-20", "2026-01-01", "J0013"),  # the requested start decides, not as_of
        ("2025-12-31", None, "S0013"),
        ("2026-01-01", None, "J0013"),
    ],
)
def test_s0013_before_2026(checker: Checker, as_of: str, start_date: str | None, code: str) -> None:
    data = at(for_policy("standard-commercial"), as_of)
    data["request"]["start_date"] = start_date
    determination = check(checker, data)
    assert determination.outcome == "missing_documentation"
    assert [b.to_dict() for b in determination.billing] == [{"code": code, "units": 56, "modifier": None}]


@pytest.mark.parametrize("dose", [28, 56, 84])
def test_hcpcs_units_are_the_dose(checker: Checker, dose: int) -> None:
    data = for_policy("strict-commercial")
    data["request"]["dose_mg"] = dose
    assert [b.to_dict() for b in check(checker, data).billing] == [{"code": "J0013", "units": dose, "modifier": None}]


@pytest.mark.parametrize(("dose", "code"), [(28, "G2082"), (56, "G2082"), (84, "G2083")])
def test_medicare_g_codes(checker: Checker, dose: int, code: str) -> None:
    data = for_policy("medicare-part-b")
    data["request"]["dose_mg"] = dose
    data["request"]["start_date"] = "2025-06-01"  # no S0013 under the medicare scheme
    assert [b.to_dict() for b in check(checker, data).billing] == [{"code": code, "units": 1, "modifier": "KX"}]


def test_iv_ketamine_lines_under_both_schemes() -> None:
    lines = [{"code": "96365", "units": 1, "modifier": None}, {"code": "J3490", "units": 1, "modifier": None}]
    for scheme in ("hcpcs", "medicare"):
        determination = check(custom(scheme=scheme), custom_case(treatment="iv_ketamine", dose_mg=None))
        assert [b.to_dict() for b in determination.billing] == lines


def test_billing_is_shown_for_every_outcome_but_not_covered(checker: Checker) -> None:
    data = sample("EX-07-iv-covered")
    assert len(check(checker, data).billing) == 2
    data["request"]["prescriber"]["specialty"] = "other"
    assert check(checker, data).outcome == "does_not_meet_criteria"
    assert len(check(checker, data).billing) == 2
    data["coverage"]["policy_id"] = "standard-commercial"
    assert check(checker, data).billing == ()


# --- a custom policy's parameters ---------------------------------------------------------------------


def test_custom_policy_reads_its_own_parameters() -> None:
    checker = custom()
    data = with_trials(custom_case(), trial(start="2026-01-01", end="2026-02-26", improvement=0))  # 56 days
    determination = check(checker, data)
    assert determination.policy_id == "custom"
    assert determination.criterion("failed_trials").status == "met"  # type: ignore[union-attr]
    assert determination.criterion("age").status == "not_met"  # type: ignore[union-attr]  # 43 > max 30
    assert determination.authorization_days == 120
    data = with_trials(custom_case(), trial(start="2026-01-01", end="2026-02-25", improvement=0))  # 55 days
    assert check(checker, data).criterion("failed_trials").status == "not_met"  # type: ignore[union-attr]


# --- dates at the edges of the calendar never crash -------------------------------------------------------


def test_windows_near_the_first_representable_date(checker: Checker) -> None:
    data = at(for_policy("standard-commercial", kind="continuation"), "0001-01-05")
    data["patient"]["birth_date"] = "0001-01-01"
    data["request"]["start_date"] = None
    data["request"]["therapy_start"] = "0001-01-02"
    data["assessments"] = [
        {"instrument": "phq9", "score": 20, "date": "0001-01-01"},
        {"instrument": "phq9", "score": 5, "date": "0001-01-05"},
    ]
    determination = check(checker, data, any_version=True)
    assert determination.criterion("response").status == "met"  # type: ignore[union-attr]
    assert determination.billing[0].code == "S0013"
    mdsi_case = at(mdsi(), "0001-01-03")
    mdsi_case["patient"]["birth_date"] = None
    mdsi_case["request"]["start_date"] = "9999-12-31"
    mdsi_case["suicidality"] = {"acute_ideation_or_behavior": True, "documented": "0001-01-01"}
    determination = check(checker, mdsi_case, any_version=True)
    assert determination.criterion("suicidality").status == "met"  # type: ignore[union-attr]
    strict = at(for_policy("strict-commercial"), "0001-01-10")
    strict["medication_trials"] = [trial(start="0001-01-01", end=None)]
    strict["assessments"] = [{"instrument": "phq9", "score": 20, "date": "0001-01-01"}]
    strict["episode_start"] = "0001-01-01"
    strict["patient"]["birth_date"] = None
    determination = check(checker, strict, any_version=True)
    assert determination.criterion("severity").status == "met"  # type: ignore[union-attr]
    assert determination.criterion("concurrent_antidepressant").status == "not_met"  # type: ignore[union-attr]


def test_a_blank_drug_name_is_an_unknown_drug(checker: Checker) -> None:
    state, detail = failed_trials(checker, trial("   "), DULOXETINE_OK)
    assert state == "not_met"
    assert "unnamed drug is not in the drug table" in detail
