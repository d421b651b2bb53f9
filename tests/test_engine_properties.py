"""Property tests: random valid cases never crash and follow the outcome rules; random invalid ones
always get an error naming the field.

The valid-case test also re-derives every criterion's status with a small independent reading of
shared/domain/reference-policies.md (the ``expected_status`` oracle below) and compares.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coverage.drugs import default_drug_table
from coverage.errors import InvalidCase
from coverage.fields import CASE_ID_PATTERN
from coverage.policies.loader import load_registry
from coverage.policies.schema import normalize_code
from coverage.policies.service import Checker
from tests.conftest import EXAMPLES

CHECKER = Checker(load_registry(None), default_drug_table())
DRUGS = default_drug_table()
POLICIES = ["standard-commercial", "strict-commercial", "ketamine-inclusive", "medicare-part-b"]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATH_PREFIX = re.compile(r"^(case|[a-z_]+(\[\d+\])?(\.[a-z_0-9]+(\[\d+\])?)*): \S")
ABSENT = object()
#: Any text a case may hold: no surrogates, no control characters, no invisible direction marks.
TEXT = st.characters(
    exclude_categories=("Cs", "Cc"),
    exclude_characters="".join(map(chr, [0x200E, 0x200F, *range(0x2028, 0x202F), *range(0x2066, 0x206A)])),
)
RANGES = {"phq9": 27, "madrs": 60, "hamd17": 52, "bdi2": 63, "qids_sr16": 27}
HISTORY_FLAGS = [
    "aneurysmal_vascular_disease",
    "arteriovenous_malformation",
    "intracerebral_hemorrhage",
    "ketamine_hypersensitivity",
    "uncontrolled_hypertension",
    "psychosis",
    "psychosis_benefit_outweighs_risk",
]
DRUG_NAMES = [
    *(d.name for d in DRUGS.drugs),
    *(b for d in DRUGS.drugs for b in d.brand_names),
    "ZOLOFT",
    "  sertraline ",
    "wellbutrin xl",
    "Zyxoprine",
    "ketamine",
    "St John's wort",
]
CODES = ["F33.2", "f332", "F32.0", "F32.9", "F33.1", "F32.3", "F33.3", "F31.81", "F41.1", "F33.20", "F 32.1", "f31"]


def npi_with_check_digit(prefix: str) -> str:
    digits = [int(c) for c in "80840" + prefix]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return prefix + str((10 - total % 10) % 10)


def put(target: dict[str, Any], key: str, value: object) -> None:
    if value is not ABSENT:
        target[key] = value


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a value; sometimes null, or the field left out."""
    return st.one_of(strategy, strategy, strategy, st.none(), st.just(ABSENT))


def pick(*options: Any) -> st.SearchStrategy[Any]:
    """One of the options; repeat an option to make it likelier."""
    return st.sampled_from(options)


@st.composite
def valid_cases(draw: st.DrawFn) -> dict[str, Any]:  # one draw per field of the format
    # On or after every shipped policy's first effective date (medicare-part-b: 2026-01-01).
    as_of = dt.date(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 1100)))

    def back(low: int, high: int) -> st.SearchStrategy[str]:
        return st.integers(low, high).map(lambda n: (as_of - dt.timedelta(days=n)).isoformat())

    plan_type = draw(pick("commercial", "commercial", "medicare", "medicaid", "self_pay"))
    treatment = draw(pick("esketamine", "esketamine", "iv_ketamine"))
    kind = draw(pick("initial", "initial", "continuation"))
    case: dict[str, Any] = {"case_id": draw(st.from_regex(CASE_ID_PATTERN, fullmatch=True)), "as_of": as_of.isoformat()}

    patient: dict[str, Any] = {"id": draw(st.text(TEXT, min_size=1, max_size=12))}
    put(patient, "birth_date", draw(maybe(st.one_of(back(17 * 365, 70 * 365), back(0, 100 * 366)))))
    put(patient, "sex", draw(maybe(pick("female", "male", "other", "unknown"))))
    put(patient, "pregnant", draw(maybe(pick(False, False, True))))
    put(patient, "given_name", draw(maybe(st.text(TEXT, max_size=8))))
    case["patient"] = patient

    coverage: dict[str, Any] = {"plan_type": plan_type}
    if plan_type == "self_pay":
        put(coverage, "policy_id", draw(maybe(pick(*POLICIES))))
    else:
        coverage["policy_id"] = draw(pick(*POLICIES))
    put(coverage, "account_type", draw(maybe(pick("hsa", "fsa"))))
    put(coverage, "out_of_network_benefits", draw(maybe(st.booleans())))
    case["coverage"] = coverage

    request: dict[str, Any] = {"treatment": treatment, "indication": draw(pick("trd", "trd", "mdsi")), "kind": kind}
    if treatment == "esketamine":
        request["dose_mg"] = draw(pick(28, 56, 84))
    else:
        put(request, "dose_mg", draw(pick(None, ABSENT)))
    put(
        request,
        "start_date",
        draw(maybe(st.integers(-400, 400).map(lambda n: (as_of + dt.timedelta(days=n)).isoformat()))),
    )
    put(request, "therapy_start", draw(maybe(back(0, 200))))
    if draw(pick(True, True, True, False)):
        prescriber: dict[str, Any] = {}
        put(prescriber, "npi", draw(maybe(st.from_regex(r"[0-9]{9}", fullmatch=True).map(npi_with_check_digit))))
        put(prescriber, "name", draw(maybe(st.text(TEXT, max_size=10))))
        put(
            prescriber,
            "specialty",
            draw(maybe(pick("psychiatry", "psychiatry", "psychiatric_nurse_practitioner", "primary_care", "other"))),
        )
        request["prescriber"] = prescriber
    else:
        put(request, "prescriber", draw(pick(None, ABSENT)))
    if draw(pick(True, True, True, False)):
        setting: dict[str, Any] = {}
        put(setting, "rems_certified", draw(maybe(pick(True, True, False))))
        put(setting, "rems_id", draw(maybe(st.text(TEXT, max_size=10))))
        request["setting"] = setting
    put(request, "patient_rems_enrolled", draw(maybe(pick(True, True, False))))
    case["request"] = request

    diagnoses = []
    for _ in range(draw(pick(1, 1, 2, 3, 0))):
        diagnosis = {"code": draw(pick(*CODES[:5], *CODES))}
        put(diagnosis, "recorded", draw(maybe(back(0, 2000))))
        diagnoses.append(diagnosis)
    put(case, "diagnoses", draw(pick(diagnoses, diagnoses, diagnoses, None, ABSENT)))
    put(case, "episode_start", draw(maybe(back(0, 900))))

    trials = []
    for _ in range(draw(st.integers(0, 7))):
        name = draw(pick(*DRUG_NAMES))
        known = DRUGS.resolve(name)
        floor = known.min_adequate_daily_mg if known else 50
        start = as_of - dt.timedelta(days=draw(st.integers(0, 800)))
        item: dict[str, Any] = {
            "drug": name,
            "daily_dose_mg": draw(pick(floor, floor * 2, floor, floor / 2, floor + 0.5)),
            "start": start.isoformat(),
            "outcome": draw(
                pick(
                    "inadequate_response",
                    "inadequate_response",
                    "partial_response",
                    "response",
                    "intolerance",
                    "unknown",
                )
            ),
            "role": draw(pick("antidepressant", "augmentation"))
            if known is None
            else draw(pick(known.role, known.role, known.role, "antidepressant", "augmentation")),
        }
        put(
            item, "end", draw(maybe(st.integers(0, 200).map(lambda n, s=start: (s + dt.timedelta(days=n)).isoformat())))
        )
        put(item, "improvement_pct", draw(maybe(pick(0, 10, 25, 25.0, 25.5, 26, 40, 100, 24.999))))
        trials.append(item)
    put(case, "medication_trials", draw(pick(trials, trials, trials, None, ABSENT)))

    assessments = []
    for _ in range(draw(st.integers(0, 6))):
        instrument = draw(pick(*RANGES))
        top = RANGES[instrument]
        score = draw(st.one_of(st.integers(top // 2, top), st.integers(0, top)))
        assessments.append(
            {"instrument": instrument, "score": score, "date": draw(st.one_of(back(0, 40), back(0, 300)))}
        )
    put(case, "assessments", draw(pick(assessments, assessments, assessments, None, ABSENT)))

    if draw(pick(True, True, True, False)):
        history: dict[str, Any] = {}
        for flag in HISTORY_FLAGS:
            put(history, flag, draw(pick(False, False, False, False, True, None, ABSENT)))
        put(
            history,
            "substance_use_disorder",
            draw(maybe(pick("none", "none", "active", "in_remission", "in_treatment"))),
        )
        case["history"] = history
    else:
        put(case, "history", draw(pick(None, ABSENT)))
    if draw(pick(True, True, False)):
        suicidality: dict[str, Any] = {}
        put(suicidality, "acute_ideation_or_behavior", draw(maybe(pick(True, True, False))))
        put(suicidality, "documented", draw(maybe(back(0, 12))))
        case["suicidality"] = suicidality
    return case


def _meeting_template() -> dict[str, Any]:
    """A case that meets every pathway of every reference policy (EX-07 plus what the others ask)."""
    case: dict[str, Any] = json.loads((EXAMPLES / "EX-07-iv-covered.json").read_text())
    case["medication_trials"].append(
        {"drug": "quetiapine", "daily_dose_mg": 150, "start": "2025-06-10", "end": "2025-08-10",
         "outcome": "inadequate_response", "improvement_pct": 5, "role": "augmentation"}
    )  # fmt: skip
    case["assessments"] += [
        {"instrument": "phq9", "score": 24, "date": "2026-08-25"},
        {"instrument": "madrs", "score": 40, "date": "2026-08-25"},
        {"instrument": "phq9", "score": 8, "date": "2026-11-15"},
        {"instrument": "madrs", "score": 12, "date": "2026-11-15"},
    ]
    case["suicidality"] = {"acute_ideation_or_behavior": True, "documented": "2026-11-18"}
    return case


MEETING = _meeting_template()

# Small changes to the meeting case, each as (path, value); None deletes the field.
TWEAKS: list[tuple[tuple[Any, ...], Any]] = [
    (("patient", "birth_date"), "2010-01-01"),
    (("patient", "birth_date"), "1950-01-01"),
    (("patient", "birth_date"), None),
    (("patient", "pregnant"), True),
    (("patient", "pregnant"), None),
    (("patient", "sex"), "male"),
    (("request", "patient_rems_enrolled"), False),
    (("request", "patient_rems_enrolled"), None),
    (("request", "setting", "rems_certified"), None),
    (("request", "prescriber", "specialty"), "psychiatric_nurse_practitioner"),
    (("request", "prescriber", "specialty"), None),
    (("request", "therapy_start"), None),
    (("request", "start_date"), "2025-12-31"),
    (("request", "start_date"), None),
    (("diagnoses", 0, "code"), "F31.9"),
    (("diagnoses", 0, "code"), "f33.3"),
    (("diagnoses",), []),
    (("episode_start",), None),
    (("episode_start",), "2025-01-01"),
    (("medication_trials", 0, "daily_dose_mg"), 25),
    (("medication_trials", 1, "improvement_pct"), 30),
    (("medication_trials", 2, "end"), "2024-11-20"),
    (("medication_trials", 3, "outcome"), "response"),
    (("medication_trials", 4, "end"), "2026-11-20"),
    (("medication_trials", 4, "start"), "2026-11-10"),
    (("medication_trials", 5, "role"), "antidepressant"),
    (("medication_trials", 6, "drug"), "Seroquel XR"),
    (("medication_trials", 0, "drug"), "ZOLOFT "),
    (("medication_trials",), []),
    (("assessments",), []),
    (("assessments", 0, "score"), 12),
    (("assessments", 1, "date"), "2026-09-01"),
    (("assessments", 4, "score"), 13),
    (("assessments", 5, "score"), 30),
    (("history",), None),
    (("history", "psychosis"), True),
    (("history", "psychosis_benefit_outweighs_risk"), True),
    (("history", "uncontrolled_hypertension"), True),
    (("history", "ketamine_hypersensitivity"), None),
    (("history", "substance_use_disorder"), "active"),
    (("history", "substance_use_disorder"), None),
    (("suicidality", "documented"), "2026-11-10"),
    (("suicidality", "acute_ideation_or_behavior"), False),
    (("suicidality",), None),
]


@st.composite
def near_meeting_cases(draw: st.DrawFn) -> dict[str, Any]:
    """The meeting case under any policy and pathway, with a few tweaks: every outcome turns up."""
    case = copy.deepcopy(MEETING)
    plan_type = draw(pick("commercial", "commercial", "medicare", "self_pay"))
    case["coverage"]["plan_type"] = plan_type
    case["coverage"]["policy_id"] = draw(pick(*POLICIES)) if plan_type != "self_pay" else draw(pick(None, *POLICIES))
    treatment = draw(pick("esketamine", "iv_ketamine"))
    request = case["request"]
    request.update(
        treatment=treatment, indication=draw(pick("trd", "mdsi")), kind=draw(pick("initial", "continuation"))
    )
    request["therapy_start"] = "2026-09-01"
    if treatment == "esketamine":
        request["dose_mg"] = draw(pick(28, 56, 84))
    for path, value in draw(st.lists(pick(*TWEAKS), max_size=3)):
        target: Any = case
        for part in path[:-1]:
            if isinstance(target, dict):
                target = target.get(part)
            elif isinstance(target, list) and isinstance(part, int) and part < len(target):
                target = target[part]
            else:
                target = None
        if not isinstance(target, dict):
            continue  # an earlier tweak removed what this one would change
        if value is None and draw(st.booleans()) and isinstance(target, dict):
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
    return case


def any_valid_case() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(valid_cases(), near_meeting_cases())


# --- an independent reading of the criteria, over the case's JSON --------------------------------


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _failed(t: dict[str, Any], limit: float) -> bool:
    if t["outcome"] == "intolerance":
        return True
    if t.get("improvement_pct") is not None:
        return bool(t["improvement_pct"] <= limit)
    return bool(t["outcome"] == "inadequate_response")


def _counted(case: dict[str, Any], role: str, min_weeks: int, current_episode: bool, limit: float) -> list[Any]:
    as_of = _date(case["as_of"])
    assert as_of is not None
    episode = _date(case.get("episode_start"))
    counted: dict[str, Any] = {}
    for t in case.get("medication_trials") or []:
        drug = DRUGS.resolve(t["drug"])
        if t["role"] != role or drug is None or drug.role != role or not _failed(t, limit):
            continue
        end = min(_date(t.get("end")) or as_of, as_of)
        start = _date(t["start"])
        assert start is not None
        if current_episode:
            assert episode is not None
            if end < episode:
                continue
            start = max(start, episode)
        if t["outcome"] != "intolerance" and (
            t["daily_dose_mg"] < drug.min_adequate_daily_mg or (end - start).days < min_weeks * 7
        ):
            continue
        counted[drug.name] = drug
    return list(counted.values())


def expected_status(case: dict[str, Any], c: Any, limit: float) -> str:  # one branch per criterion
    as_of = _date(case["as_of"])
    assert as_of is not None
    patient, request = case["patient"], case["request"]
    history = case.get("history") or {}
    trials = case.get("medication_trials") or []
    assessments = case.get("assessments") or []
    kind = c.id
    if kind == "age":
        birth = _date(patient.get("birth_date"))
        if birth is None:
            return "missing"
        years = as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))
        return "met" if years >= c.min_age and (c.max_age is None or years <= c.max_age) else "not_met"
    if kind == "diagnosis":
        codes = [normalize_code(d["code"]) for d in case.get("diagnoses") or []]
        if not codes:
            return "missing"
        if any(code.startswith(p) for code in codes for p in c.excluded):
            return "not_met"
        return "met" if any(code in c.allowed for code in codes) else "not_met"
    if kind in ("failed_trials", "augmentation_trials"):
        if not trials or (c.current_episode and not case.get("episode_start")):
            return "missing"
        role = "antidepressant" if kind == "failed_trials" else "augmentation"
        drugs = _counted(case, role, c.min_weeks, c.current_episode, limit)
        classes = {d.drug_class for d in drugs} if kind == "failed_trials" else set()
        enough_classes = kind == "augmentation_trials" or len(classes) >= c.min_classes
        return "met" if len(drugs) >= c.min_trials and enough_classes else "not_met"
    if kind == "concurrent_antidepressant":
        for t in trials:
            drug = DRUGS.resolve(t["drug"])
            end = _date(t.get("end"))
            start = _date(t["start"])
            assert start is not None
            if t["role"] != "antidepressant" or drug is None or drug.role != "antidepressant":
                continue
            if end is not None and end <= as_of:
                continue
            if c.min_days is not None and (as_of - start).days < c.min_days:
                continue
            if c.not_previously_failed and any(
                o is not t
                and DRUGS.resolve(o["drug"]) is drug
                and o.get("end") is not None
                and _date(o["end"]) < as_of  # type: ignore[operator]
                and _failed(o, limit)
                for o in trials
            ):
                continue
            return "met"
        return "not_met"
    if kind == "severity":
        minimum = {m.instrument: m.min_score for m in c.instruments}
        counted = [
            a
            for a in assessments
            if a["instrument"] in minimum and 0 <= (as_of - _date(a["date"])).days <= c.window_days  # type: ignore[operator]
        ]
        if not counted:
            return "missing"
        ok = any(minimum[a["instrument"]] is None or a["score"] >= minimum[a["instrument"]] for a in counted)
        return "met" if ok else "not_met"
    if kind == "prescriber":
        specialty = (request.get("prescriber") or {}).get("specialty")
        if specialty is None:
            return "missing"
        return "met" if specialty in c.specialties else "not_met"
    if kind == "rems":
        values = ((request.get("setting") or {}).get("rems_certified"), request.get("patient_rems_enrolled"))
        if values == (True, True):
            return "met"
        return "not_met" if False in values else "missing"
    if kind == "contraindications":
        values = [history.get(flag) for flag in c.conditions]
        if True in values:
            return "not_met"
        return "missing" if None in values else "met"
    if kind == "psychosis":
        psychosis = history.get("psychosis")
        if any(normalize_code(d["code"]) in c.psychotic_codes for d in case.get("diagnoses") or []):
            psychosis = True
        if psychosis is None:
            return "missing"
        if psychosis is False:
            return "met"
        attested = history.get("psychosis_benefit_outweighs_risk") is True
        return "met" if c.attestation_allowed and attested else "not_met"
    if kind == "substance_use":
        value = history.get("substance_use_disorder")
        return "missing" if value is None else ("not_met" if value == "active" else "met")
    if kind == "pregnancy":
        if patient.get("pregnant") is True:
            return "not_met"
        return "met" if patient.get("pregnant") is False or patient.get("sex") == "male" else "missing"
    if kind == "suicidality":
        s = case.get("suicidality") or {}
        acute = s.get("acute_ideation_or_behavior")
        if acute is None:
            return "missing"
        if acute is False:
            return "not_met"
        documented = _date(s.get("documented"))
        if documented is None:
            return "missing"
        return "met" if (as_of - documented).days <= c.window_days else "not_met"
    if kind == "response":
        therapy_start = _date(request.get("therapy_start"))
        if therapy_start is None:
            return "missing"
        any_pair = False
        for instrument in c.instruments:
            scores = [
                (_date(a["date"]), i, a["score"]) for i, a in enumerate(assessments) if a["instrument"] == instrument
            ]
            before = [s for s in scores if s[0] <= therapy_start]  # type: ignore[operator]
            after = [s for s in scores if s[0] > therapy_start and (as_of - s[0]).days <= c.current_window_days]  # type: ignore[operator]
            if not before or not after:
                continue
            any_pair = True
            # Latest by date; on the same date, the one listed last.
            baseline, current = max(before)[2], max(after)[2]
            if baseline == 0:
                continue
            improvement = Fraction(baseline - current, baseline) * 100
            threshold = Fraction(c.min_improvement_pct)
            if improvement > threshold or (not c.strictly_greater and improvement == threshold):
                return "met"
        return "not_met" if any_pair else "missing"
    if kind == "continuation_allowed":
        return "not_met"
    raise AssertionError(f"unknown criterion {kind}")


def _other_request(case: dict[str, Any]) -> dict[str, Any]:
    other = copy.deepcopy(case)
    request = other["request"]
    if request["treatment"] == "esketamine":
        request["treatment"] = "iv_ketamine"
        request.pop("dose_mg", None)
    else:
        request["treatment"] = "esketamine"
        request["dose_mg"] = 56
    request["indication"] = "trd"
    request["kind"] = "initial"
    return other


@SETTINGS
@given(any_valid_case())
def test_random_valid_cases_follow_the_rules(case: dict[str, Any]) -> None:
    determination = CHECKER.check(json.dumps(case))
    d = determination.to_dict()
    request = case["request"]
    assert (d["case_id"], d["treatment"], d["indication"], d["kind"]) == (
        case["case_id"],
        request["treatment"],
        request["indication"],
        request["kind"],
    )
    criteria = d["criteria"]
    assert criteria[0]["id"] == "coverage"
    for c in criteria:
        assert c["status"] in ("met", "not_met", "missing")
        assert c["detail"].strip()
        assert "\n" not in c["detail"]
    assert len({c["id"] for c in criteria}) == len(criteria)

    policy_id = case["coverage"].get("policy_id")
    loaded = CHECKER.registry.get(policy_id) if policy_id else None
    assert d["policy_id"] == policy_id
    assert d["policy_hash"] == (loaded.hash if loaded else None)
    terms = loaded.policy.for_treatment(request["treatment"]) if loaded else None
    pathway = terms.pathway(request["indication"], request["kind"]) if terms and terms.covered else None
    self_pay = case["coverage"]["plan_type"] == "self_pay"

    statuses = [c["status"] for c in criteria]
    if self_pay or pathway is None:
        assert d["outcome"] == "not_covered"
        assert [(c["id"], c["status"]) for c in criteria] == [("coverage", "not_met")]
        assert d["billing"] == []
        assert d["authorization_days"] is None
    else:
        assert loaded is not None
        assert terms is not None
        assert criteria[0]["status"] == "met"
        assert [c["id"] for c in criteria[1:]] == [c.id for c in pathway.criteria]
        limit = loaded.policy.max_improvement_pct
        for result, rule in zip(criteria[1:], pathway.criteria, strict=True):
            assert result["status"] == expected_status(case, rule, limit), (rule, result)
        if "not_met" in statuses:
            assert d["outcome"] == "does_not_meet_criteria"
        elif "missing" in statuses:
            assert d["outcome"] == "missing_documentation"
        else:
            assert d["outcome"] == ("meets_criteria" if terms.prior_authorization else "no_pa_required")
        assert d["authorization_days"] == (pathway.authorization_days if terms.prior_authorization else None)
        assert d["billing"]
        service = _date(request.get("start_date")) or _date(case["as_of"])
        assert service is not None
        if request["treatment"] == "iv_ketamine":
            assert [b["code"] for b in d["billing"]] == ["96365", "J3490"]
        elif loaded.policy.billing_scheme == "medicare":
            assert d["billing"] == [
                {"code": "G2082" if request["dose_mg"] <= 56 else "G2083", "units": 1, "modifier": "KX"}
            ]
        else:
            code = "J0013" if service >= dt.date(2026, 1, 1) else "S0013"
            assert d["billing"] == [{"code": code, "units": request["dose_mg"], "modifier": None}]

    assert (d["billing"] == []) == (d["outcome"] == "not_covered")
    alternatives = d["alternatives"]
    assert len(alternatives) == 1
    other_treatment = "iv_ketamine" if request["treatment"] == "esketamine" else "esketamine"
    assert alternatives[0]["treatment"] == other_treatment
    assert alternatives[0]["indication"] == "trd"
    assert alternatives[0]["outcome"] == CHECKER.check(json.dumps(_other_request(case))).outcome

    steps = {
        "meets_criteria": "submit_prior_auth",
        "missing_documentation": "collect_documentation",
        "no_pa_required": "schedule_treatment",
    }
    if d["outcome"] in steps:
        assert d["next_step"] == steps[d["outcome"]]
    elif alternatives[0]["outcome"] in ("meets_criteria", "no_pa_required"):
        assert d["next_step"] == "consider_alternative"
    else:
        assert d["next_step"] == "offer_payment_plan"

    assert json.loads(json.dumps(d)) == d
    assert type(determination).from_dict(d) == determination


# --- invalid cases: one mutation that breaks one rule ----------------------------------------------


def _later(case: dict[str, Any], days: int) -> str:
    return (dt.date.fromisoformat(case["as_of"]) + dt.timedelta(days=days)).isoformat()


@st.composite
def invalid_cases(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid case with one mutation, and the path of the field it broke."""
    case = draw(any_valid_case())
    options: list[str] = [
        "unknown_top",
        "unknown_patient",
        "case_id_long",
        "case_id_empty",
        "case_id_number",
        "as_of_format",
        "birth_after",
        "plan_type_bad",
        "policy_unknown",
        "treatment_bad",
        "dose_bad",
        "therapy_start_after",
        "npi_bad",
        "episode_after",
        "history_int",
        "suicidality_after",
        "kind_missing",
        "sex_bad",
        "pregnant_string",
    ]
    if case["coverage"]["plan_type"] != "self_pay":
        options.append("policy_missing")
    if case.get("medication_trials"):
        options += [
            "trial_start_after",
            "trial_end_before",
            "trial_dose_zero",
            "trial_dose_string",
            "trial_improvement_high",
            "trial_outcome_bad",
            "trial_role_missing",
            "trial_unknown_field",
        ]
    if case.get("assessments"):
        options += ["score_high", "score_string", "score_negative", "assessment_after", "instrument_bad"]
    if case.get("diagnoses"):
        options += ["recorded_after", "code_number"]
    choice = draw(st.sampled_from(options))
    days = draw(st.integers(1, 400))
    trials = case.get("medication_trials") or []
    assessments = case.get("assessments") or []
    i = draw(st.integers(0, max(len(trials) - 1, 0)))
    j = draw(st.integers(0, max(len(assessments) - 1, 0)))
    request = case["request"]
    path: str
    if choice == "unknown_top":
        case["notes"], path = "x", "notes"
    elif choice == "unknown_patient":
        case["patient"]["dob"], path = "1980-01-01", "patient.dob"
    elif choice == "case_id_long":
        case["case_id"], path = "x" * draw(st.integers(65, 200)), "case_id"
    elif choice == "case_id_empty":
        case["case_id"], path = "", "case_id"
    elif choice == "case_id_number":
        case["case_id"], path = 12, "case_id"
    elif choice == "as_of_format":
        as_of = dt.date.fromisoformat(case["as_of"])
        case["as_of"] = draw(
            st.sampled_from([as_of.strftime("%d/%m/%Y"), as_of.strftime("%Y%m%d"), f"{case['as_of']}T00:00"])
        )
        path = "as_of"
    elif choice == "birth_after":
        case["patient"]["birth_date"], path = _later(case, days), "patient.birth_date"
    elif choice == "plan_type_bad":
        case["coverage"]["plan_type"], path = "ppo", "coverage.plan_type"
    elif choice == "policy_unknown":
        case["coverage"]["policy_id"], path = "no-such-policy", "coverage.policy_id"
    elif choice == "policy_missing":
        if draw(st.booleans()):
            case["coverage"]["policy_id"] = None
        else:
            del case["coverage"]["policy_id"]
        path = "coverage.policy_id"
    elif choice == "treatment_bad":
        request["treatment"], path = "ketamine", "request.treatment"
    elif choice == "dose_bad":
        if request["treatment"] == "esketamine":
            request["dose_mg"] = draw(st.sampled_from([None, 0, 42, 112, "56", 56.5]))
        else:
            request["dose_mg"] = draw(st.sampled_from([28, 56, 84, 0]))
        path = "request.dose_mg"
    elif choice == "therapy_start_after":
        request["therapy_start"], path = _later(case, days), "request.therapy_start"
    elif choice == "npi_bad":
        npi = npi_with_check_digit(draw(st.from_regex(r"[0-9]{9}", fullmatch=True)))
        bad = draw(st.sampled_from([npi[:9] + str((int(npi[9]) + 1) % 10), npi[:9], npi + "0", npi[:9] + "X"]))
        request["prescriber"] = {"npi": bad}
        path = "request.prescriber.npi"
    elif choice == "episode_after":
        case["episode_start"], path = _later(case, days), "episode_start"
    elif choice == "history_int":
        case["history"] = {draw(st.sampled_from(HISTORY_FLAGS)): draw(st.sampled_from([0, 1, "true", "no"]))}
        path = "history." + next(iter(case["history"]))
    elif choice == "suicidality_after":
        case["suicidality"] = {"acute_ideation_or_behavior": True, "documented": _later(case, days)}
        path = "suicidality.documented"
    elif choice == "kind_missing":
        del request["kind"]
        path = "request.kind"
    elif choice == "sex_bad":
        case["patient"]["sex"], path = "F", "patient.sex"
    elif choice == "pregnant_string":
        case["patient"]["pregnant"], path = "false", "patient.pregnant"
    elif choice == "trial_start_after":
        trials[i]["start"], trials[i]["end"] = _later(case, days), None
        path = f"medication_trials[{i}].start"
    elif choice == "trial_end_before":
        start = dt.date.fromisoformat(trials[i]["start"])
        trials[i]["end"] = (start - dt.timedelta(days=days)).isoformat()
        path = f"medication_trials[{i}].end"
    elif choice == "trial_dose_zero":
        trials[i]["daily_dose_mg"], path = draw(st.sampled_from([0, -1, -0.5])), f"medication_trials[{i}].daily_dose_mg"
    elif choice == "trial_dose_string":
        trials[i]["daily_dose_mg"], path = "150", f"medication_trials[{i}].daily_dose_mg"
    elif choice == "trial_improvement_high":
        trials[i]["improvement_pct"] = draw(st.sampled_from([100.5, 101, -1, "10"]))
        path = f"medication_trials[{i}].improvement_pct"
    elif choice == "trial_outcome_bad":
        trials[i]["outcome"], path = "failed", f"medication_trials[{i}].outcome"
    elif choice == "trial_role_missing":
        del trials[i]["role"]
        path = f"medication_trials[{i}].role"
    elif choice == "trial_unknown_field":
        trials[i]["reason"], path = "side effects", f"medication_trials[{i}].reason"
    elif choice == "score_high":
        a = assessments[j]
        a["score"], path = RANGES[a["instrument"]] + draw(st.integers(1, 50)), f"assessments[{j}].score"
    elif choice == "score_string":
        assessments[j]["score"], path = str(assessments[j]["score"]), f"assessments[{j}].score"
    elif choice == "score_negative":
        assessments[j]["score"], path = -draw(st.integers(1, 10)), f"assessments[{j}].score"
    elif choice == "assessment_after":
        assessments[j]["date"], path = _later(case, days), f"assessments[{j}].date"
    elif choice == "instrument_bad":
        assessments[j]["instrument"], path = "PHQ-9", f"assessments[{j}].instrument"
    elif choice == "recorded_after":
        case["diagnoses"][0]["recorded"], path = _later(case, days), "diagnoses[0].recorded"
    elif choice == "code_number":
        case["diagnoses"][0]["code"], path = 332, "diagnoses[0].code"
    else:  # pragma: no cover - every option above is handled
        raise AssertionError(choice)
    return case, path


@SETTINGS
@given(invalid_cases())
def test_random_invalid_cases_name_the_field(mutation: tuple[dict[str, Any], str]) -> None:
    case, path = mutation
    with pytest.raises(InvalidCase) as raised:
        CHECKER.check(json.dumps(case))
    lines = raised.value.problems
    assert lines
    for line in lines:
        assert PATH_PREFIX.match(line), line
    assert any(line.startswith(f"{path}: ") for line in lines), (path, lines)


@settings(max_examples=60, deadline=None)
@given(valid_cases(), st.sampled_from(["patient", "coverage", "request", "history", "suicidality", None]))
def test_an_unknown_field_anywhere_is_named(case: dict[str, Any], where: str | None) -> None:
    target = case if where is None else case.get(where)
    if not isinstance(target, dict):
        target, where = case, None
    target["zz_typo"] = True
    with pytest.raises(InvalidCase) as raised:
        CHECKER.check(json.dumps(case))
    expected = "zz_typo" if where is None else f"{where}.zz_typo"
    assert f"{expected}: unknown field" in raised.value.problems
