"""The case format (shared/spec/case-format.md): strict types, every rule of its table, errors by path."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from coverage.cases import Case, npi_is_valid, parse_case, parse_case_object
from coverage.errors import InvalidCase
from coverage.policies.service import Checker
from tests.conftest import load_case_dict

PATH_PREFIX = re.compile(r"^(case|[a-z_]+(\[\d+\])?(\.[a-z_0-9]+(\[\d+\])?)*): \S")


def base() -> dict[str, Any]:
    return copy.deepcopy(load_case_dict("EX-01-meets"))


def problems_of(checker: Checker, data: dict[str, Any] | str) -> list[str]:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(InvalidCase) as raised:
        checker.parse(text)
    lines = raised.value.problems
    assert lines, "an InvalidCase names at least one problem"
    for line in lines:
        assert PATH_PREFIX.match(line), line
        assert "\n" not in line
    return lines


def mutated(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = base()
    change(data)
    return data


def test_the_sample_is_valid(checker: Checker) -> None:
    case = checker.parse(json.dumps(base()))
    assert isinstance(case, Case)
    assert case.case_id == "EX-01-meets"


def test_minimal_case_is_valid(checker: Checker) -> None:
    minimal = {
        "case_id": "M",
        "as_of": "2026-01-01",
        "patient": {"id": "P"},
        "coverage": {"plan_type": "self_pay"},
        "request": {"treatment": "iv_ketamine", "indication": "trd", "kind": "initial"},
    }
    case = checker.parse(json.dumps(minimal))
    assert case.medication_trials is None
    assert case.coverage.policy_id is None


def test_parse_case_object_applies_the_same_rules() -> None:
    data = base()
    data["medication_trials"][1]["end"] = "2025-11-01"
    with pytest.raises(InvalidCase) as raised:
        parse_case_object(data)
    assert raised.value.problems == ["medication_trials[1].end: before start 2025-11-10"]


# --- unknown fields, at any depth ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), "colour"),
        (("patient",), "patient.colour"),
        (("coverage",), "coverage.colour"),
        (("request",), "request.colour"),
        (("request", "prescriber"), "request.prescriber.colour"),
        (("request", "setting"), "request.setting.colour"),
        (("diagnoses", 0), "diagnoses[0].colour"),
        (("medication_trials", 2), "medication_trials[2].colour"),
        (("assessments", 1), "assessments[1].colour"),
        (("history",), "history.colour"),
        (("suicidality",), "suicidality.colour"),
    ],
)
def test_unknown_field_is_rejected_at_any_depth(checker: Checker, path: tuple[Any, ...], expected: str) -> None:
    data = base()
    target: Any = data
    for part in path:
        target = target[part]
    target["colour"] = "blue"
    assert problems_of(checker, data) == [f"{expected}: unknown field"]


def test_a_typo_is_caught(checker: Checker) -> None:
    data = base()
    data["request"]["patient_rems_enroled"] = data["request"].pop("patient_rems_enrolled")
    assert problems_of(checker, data) == ["request.patient_rems_enroled: unknown field"]


# --- strict types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["assessments"][0].__setitem__("score", "22"), "assessments[0].score"),
        (lambda d: d["assessments"][0].__setitem__("score", 22.5), "assessments[0].score"),
        (lambda d: d["assessments"][0].__setitem__("score", True), "assessments[0].score"),
        (lambda d: d["request"].__setitem__("dose_mg", "56"), "request.dose_mg"),
        (lambda d: d["request"].__setitem__("dose_mg", True), "request.dose_mg"),
        (lambda d: d["medication_trials"][0].__setitem__("daily_dose_mg", "150"), "medication_trials[0].daily_dose_mg"),
        (lambda d: d["medication_trials"][0].__setitem__("daily_dose_mg", True), "medication_trials[0].daily_dose_mg"),
        (
            lambda d: d["medication_trials"][0].__setitem__("improvement_pct", "10"),
            "medication_trials[0].improvement_pct",
        ),
        (lambda d: d["patient"].__setitem__("pregnant", 1), "patient.pregnant"),
        (lambda d: d["patient"].__setitem__("pregnant", "false"), "patient.pregnant"),
        (lambda d: d["request"]["setting"].__setitem__("rems_certified", 1), "request.setting.rems_certified"),
        (lambda d: d["request"].__setitem__("patient_rems_enrolled", "yes"), "request.patient_rems_enrolled"),
        (lambda d: d["history"].__setitem__("psychosis", 0), "history.psychosis"),
        (lambda d: d["coverage"].__setitem__("out_of_network_benefits", 1), "coverage.out_of_network_benefits"),
        (
            lambda d: d["suicidality"].__setitem__("acute_ideation_or_behavior", 1),
            "suicidality.acute_ideation_or_behavior",
        ),
        (lambda d: d.__setitem__("case_id", 7), "case_id"),
        (lambda d: d["patient"].__setitem__("id", 1001), "patient.id"),
        (lambda d: d["request"]["prescriber"].__setitem__("npi", 1234567893), "request.prescriber.npi"),
        (lambda d: d["diagnoses"][0].__setitem__("code", 332), "diagnoses[0].code"),
        (lambda d: d["patient"].__setitem__("sex", "F"), "patient.sex"),
        (lambda d: d["coverage"].__setitem__("plan_type", "ppo"), "coverage.plan_type"),
        (lambda d: d["coverage"].__setitem__("account_type", "ira"), "coverage.account_type"),
        (lambda d: d["request"].__setitem__("treatment", "ketamine"), "request.treatment"),
        (lambda d: d["request"].__setitem__("indication", "mdd"), "request.indication"),
        (lambda d: d["request"].__setitem__("kind", "renewal"), "request.kind"),
        (lambda d: d["request"]["prescriber"].__setitem__("specialty", "surgery"), "request.prescriber.specialty"),
        (lambda d: d["medication_trials"][0].__setitem__("outcome", "failed"), "medication_trials[0].outcome"),
        (lambda d: d["medication_trials"][0].__setitem__("role", "adjunct"), "medication_trials[0].role"),
        (lambda d: d["assessments"][0].__setitem__("instrument", "PHQ9"), "assessments[0].instrument"),
        (lambda d: d["history"].__setitem__("substance_use_disorder", "yes"), "history.substance_use_disorder"),
        (lambda d: d.__setitem__("diagnoses", {"code": "F33.2"}), "diagnoses"),
        (lambda d: d.__setitem__("patient", "P-1001"), "patient"),
    ],
)
def test_types_are_strict(checker: Checker, change: Callable[[dict[str, Any]], object], path: str) -> None:
    lines = problems_of(checker, mutated(change))
    assert [line.split(":")[0] for line in lines] == [path]


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T00:00:00",
        "2026-11-20T00:00:00Z",
        "20261120",
        "2026-1-20",
        "2026/11/20",
        "20-11-2026",
        " 2026-11-20",
        "2026-02-30",
        "2026-13-01",
        "",
        1795132800,
        None,
    ],
)
def test_dates_are_only_yyyy_mm_dd(checker: Checker, value: object) -> None:
    assert [line.split(":")[0] for line in problems_of(checker, mutated(lambda d: d.__setitem__("as_of", value)))] == [
        "as_of"
    ]
    nested = mutated(lambda d: d["medication_trials"][3].__setitem__("start", value))
    assert [line.split(":")[0] for line in problems_of(checker, nested)] == ["medication_trials[3].start"]


def test_integer_dose_is_a_number(checker: Checker) -> None:
    case = checker.parse(json.dumps(mutated(lambda d: d["medication_trials"][0].__setitem__("daily_dose_mg", 150))))
    assert case.medication_trials is not None
    assert case.medication_trials[0].daily_dose_mg == 150


@pytest.mark.parametrize(
    ("remove", "path"),
    [
        ((), "case_id"),
        ((), "as_of"),
        ((), "patient"),
        ((), "coverage"),
        ((), "request"),
        (("patient",), "id"),
        (("coverage",), "plan_type"),
        (("request",), "treatment"),
        (("request",), "indication"),
        (("request",), "kind"),
        (("diagnoses", 0), "code"),
        (("medication_trials", 1), "drug"),
        (("medication_trials", 1), "daily_dose_mg"),
        (("medication_trials", 1), "start"),
        (("medication_trials", 1), "outcome"),
        (("medication_trials", 1), "role"),
        (("assessments", 0), "instrument"),
        (("assessments", 0), "score"),
        (("assessments", 0), "date"),
    ],
)
def test_required_fields(checker: Checker, remove: tuple[Any, ...], path: str) -> None:
    data = base()
    target: Any = data
    for part in remove:
        target = target[part]
    del target[path]
    prefix = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in remove).lstrip(".")
    full = f"{prefix}.{path}" if prefix else path
    assert problems_of(checker, data) == [f"{full}: required"]


@pytest.mark.parametrize(
    "optional",
    [
        ("patient", "birth_date"),
        ("patient", "sex"),
        ("patient", "pregnant"),
        ("patient", "given_name"),
        ("coverage", "member_id"),
        ("coverage", "account_type"),
        ("request", "start_date"),
        ("request", "therapy_start"),
        ("request", "prescriber"),
        ("request", "setting"),
        ("request", "patient_rems_enrolled"),
        ("diagnoses",),
        ("episode_start",),
        ("medication_trials",),
        ("assessments",),
        ("history",),
        ("suicidality",),
    ],
)
def test_optional_fields_may_be_absent_or_null(checker: Checker, optional: tuple[str, ...]) -> None:
    for value in ("absent", None):
        data = base()
        target: Any = data
        for part in optional[:-1]:
            target = target[part]
        if value == "absent":
            del target[optional[-1]]
        else:
            target[optional[-1]] = None
        checker.parse(json.dumps(data))


def test_optional_trial_fields_may_be_null(checker: Checker) -> None:
    data = base()
    data["medication_trials"][0]["end"] = None
    data["medication_trials"][0]["improvement_pct"] = None
    data["diagnoses"][0]["recorded"] = None
    data["request"]["prescriber"] = {"npi": None, "name": None, "specialty": None}
    data["suicidality"] = {"acute_ideation_or_behavior": None, "documented": None}
    data["history"] = dict.fromkeys(data["history"])
    checker.parse(json.dumps(data))


# --- the rules of the spec's table ------------------------------------------------------------


@pytest.mark.parametrize(
    ("case_id", "ok"),
    [("x", True), ("x" * 64, True), ("A1._-z", True), ("x" * 65, False), ("", False)],
)
def test_case_id_is_1_to_64_characters(checker: Checker, case_id: str, ok: bool) -> None:
    data = mutated(lambda d: d.__setitem__("case_id", case_id))
    if ok:
        assert checker.parse(json.dumps(data)).case_id == case_id
    else:
        assert [line.split(":")[0] for line in problems_of(checker, data)] == ["case_id"]


def test_trial_end_before_start(checker: Checker) -> None:
    data = base()
    data["medication_trials"][1]["end"] = "2025-11-09"
    assert problems_of(checker, data) == ["medication_trials[1].end: before start 2025-11-10"]
    data["medication_trials"][1]["end"] = "2025-11-10"  # a one-day trial is fine
    checker.parse(json.dumps(data))


def test_trial_end_may_be_after_as_of_but_start_may_not(checker: Checker) -> None:
    data = base()
    data["medication_trials"][2]["end"] = "2027-06-01"
    checker.parse(json.dumps(data))
    data["medication_trials"][2]["start"] = "2026-11-21"
    assert problems_of(checker, data) == ["medication_trials[2].start: 2026-11-21 is after as_of 2026-11-20"]


@pytest.mark.parametrize(
    ("path", "set_value"),
    [
        ("patient.birth_date", lambda d, v: d["patient"].__setitem__("birth_date", v)),
        ("request.therapy_start", lambda d, v: d["request"].__setitem__("therapy_start", v)),
        ("diagnoses[0].recorded", lambda d, v: d["diagnoses"][0].__setitem__("recorded", v)),
        ("episode_start", lambda d, v: d.__setitem__("episode_start", v)),
        ("medication_trials[3].start", lambda d, v: d["medication_trials"][3].update(start=v, end=None)),
        ("assessments[1].date", lambda d, v: d["assessments"][1].__setitem__("date", v)),
        ("suicidality.documented", lambda d, v: d["suicidality"].__setitem__("documented", v)),
    ],
)
def test_dates_not_after_as_of(checker: Checker, path: str, set_value: Callable[[dict[str, Any], str], None]) -> None:
    on_the_day = base()
    set_value(on_the_day, "2026-11-20")
    checker.parse(json.dumps(on_the_day))
    after = base()
    set_value(after, "2026-11-21")
    lines = problems_of(checker, after)
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: ")
    assert "after as_of 2026-11-20" in lines[0]
    # A birth date is PHI: its error names the field and never repeats the value.
    assert ("2026-11-21" in lines[0]) is (path != "patient.birth_date")


def test_start_date_may_be_after_as_of(checker: Checker) -> None:
    checker.parse(json.dumps(mutated(lambda d: d["request"].__setitem__("start_date", "2030-01-01"))))


@pytest.mark.parametrize(
    ("instrument", "high"),
    [("phq9", 27), ("madrs", 60), ("hamd17", 52), ("bdi2", 63), ("qids_sr16", 27)],
)
def test_score_ranges_per_instrument(checker: Checker, instrument: str, high: int) -> None:
    for score, ok in ((0, True), (high, True), (high + 1, False), (-1, False)):
        data = base()
        data["assessments"][1] = {"instrument": instrument, "score": score, "date": "2026-11-12"}
        if ok:
            checker.parse(json.dumps(data))
        else:
            lines = problems_of(checker, data)
            assert len(lines) == 1
            assert lines[0].startswith("assessments[1].score: ")
            assert str(score) in lines[0]
            assert instrument in lines[0]


@pytest.mark.parametrize(
    ("npi", "ok"),
    [
        ("1234567893", True),  # the CMS worked example
        ("1245319599", True),
        ("1234567890", False),
        ("1234567894", False),
        ("123456789", False),
        ("12345678931", False),
        ("123456789X", False),
        ("12345 6789", False),
        ("", False),
        ("١٢٣٤٥٦٧٨٩٣", False),  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_npi_luhn_check_digit(checker: Checker, npi: str, ok: bool) -> None:
    assert npi_is_valid(npi) is ok
    data = mutated(lambda d: d["request"]["prescriber"].__setitem__("npi", npi))
    if ok:
        checker.parse(json.dumps(data))
    else:
        lines = problems_of(checker, data)
        assert len(lines) == 1
        assert lines[0].startswith("request.prescriber.npi: ")


def test_npi_check_digit_against_an_independent_luhn() -> None:
    def luhn_ok(number: str) -> bool:
        total = 0
        for i, ch in enumerate(reversed(number)):
            d = int(ch)
            if i % 2 == 1:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        return total % 10 == 0

    for prefix in ("123456789", "987654321", "100000000", "299999999", "000000000"):
        valid = [str(check) for check in range(10) if luhn_ok("80840" + prefix + str(check))]
        assert len(valid) == 1
        for check in range(10):
            assert npi_is_valid(prefix + str(check)) is (str(check) in valid)


def test_policy_id_required_unless_self_pay(checker: Checker) -> None:
    for plan_type in ("commercial", "medicare", "medicaid"):
        data = mutated(lambda d, p=plan_type: d["coverage"].update(policy_id=None, plan_type=p))
        assert problems_of(checker, data) == ["coverage.policy_id: required unless plan_type is self_pay"]
        del data["coverage"]["policy_id"]
        assert problems_of(checker, data) == ["coverage.policy_id: required unless plan_type is self_pay"]
    self_pay = mutated(lambda d: d["coverage"].update(policy_id=None, plan_type="self_pay"))
    checker.parse(json.dumps(self_pay))


def test_unknown_policy_is_named_whatever_the_plan_type(checker: Checker) -> None:
    for plan_type in ("commercial", "self_pay"):
        data = mutated(lambda d, p=plan_type: d["coverage"].update(policy_id="acme-gold", plan_type=p))
        lines = problems_of(checker, data)
        assert len(lines) == 1
        assert lines[0].startswith("coverage.policy_id: ")
        assert "acme-gold" in lines[0]


def test_self_pay_may_name_a_known_policy(checker: Checker) -> None:
    data = mutated(lambda d: d["coverage"].update(plan_type="self_pay"))
    checker.parse(json.dumps(data))


def test_without_a_registry_the_policy_id_is_not_checked() -> None:
    data = mutated(lambda d: d["coverage"].update(policy_id="acme-gold"))
    assert parse_case(json.dumps(data)).coverage.policy_id == "acme-gold"


@pytest.mark.parametrize(("dose", "ok"), [(28, True), (56, True), (84, True), (0, False), (42, False), (112, False)])
def test_esketamine_dose(checker: Checker, dose: int, ok: bool) -> None:
    data = mutated(lambda d: d["request"].__setitem__("dose_mg", dose))
    if ok:
        checker.parse(json.dumps(data))
    else:
        lines = problems_of(checker, data)
        assert len(lines) == 1
        assert lines[0].startswith("request.dose_mg: ")


def test_esketamine_needs_a_dose(checker: Checker) -> None:
    for change in (lambda d: d["request"].pop("dose_mg"), lambda d: d["request"].__setitem__("dose_mg", None)):
        lines = problems_of(checker, mutated(change))
        assert len(lines) == 1
        assert lines[0].startswith("request.dose_mg: ")


def test_iv_ketamine_takes_no_dose(checker: Checker) -> None:
    data = mutated(lambda d: d["request"].update(treatment="iv_ketamine", dose_mg=None))
    checker.parse(json.dumps(data))
    del data["request"]["dose_mg"]
    checker.parse(json.dumps(data))
    data["request"]["dose_mg"] = 56
    lines = problems_of(checker, data)
    assert len(lines) == 1
    assert lines[0].startswith("request.dose_mg: ")


@pytest.mark.parametrize(("dose", "ok"), [(0.025, True), (1e-9, True), (0, False), (-5, False)])
def test_trial_dose_is_a_positive_number(checker: Checker, dose: float, ok: bool) -> None:
    data = mutated(lambda d: d["medication_trials"][0].__setitem__("daily_dose_mg", dose))
    if ok:
        checker.parse(json.dumps(data))
    else:
        assert [line.split(":")[0] for line in problems_of(checker, data)] == ["medication_trials[0].daily_dose_mg"]


@pytest.mark.parametrize(("value", "ok"), [(0, True), (100, True), (25.5, True), (100.01, False), (-0.5, False)])
def test_improvement_pct_is_0_to_100(checker: Checker, value: float, ok: bool) -> None:
    data = mutated(lambda d: d["medication_trials"][0].__setitem__("improvement_pct", value))
    if ok:
        checker.parse(json.dumps(data))
    else:
        assert [line.split(":")[0] for line in problems_of(checker, data)] == ["medication_trials[0].improvement_pct"]


def test_unknown_drug_is_valid_input(checker: Checker) -> None:
    data = mutated(lambda d: d["medication_trials"][0].__setitem__("drug", "Zyxoprine"))
    checker.parse(json.dumps(data))


def test_every_problem_is_named_with_its_path(checker: Checker) -> None:
    data = base()
    data["patient"]["birth_date"] = "2030-01-01"
    data["coverage"]["policy_id"] = "nope"
    data["request"]["dose_mg"] = 50
    data["request"]["prescriber"]["npi"] = "1234567890"
    data["medication_trials"][1]["end"] = "2025-09-01"
    data["assessments"][0]["score"] = 30
    data["suicidality"]["documented"] = "2027-01-01"
    lines = problems_of(checker, data)
    assert [line.split(":")[0] for line in lines] == [
        "patient.birth_date",
        "coverage.policy_id",
        "request.dose_mg",
        "request.prescriber.npi",
        "medication_trials[1].end",
        "assessments[0].score",
        "suicidality.documented",
    ]
    assert "medication_trials[1].end: before start 2025-11-10" in lines


def test_several_type_errors_are_all_reported(checker: Checker) -> None:
    data = base()
    data["assessments"][0]["score"] = "22"
    data["medication_trials"][2]["colour"] = "x"
    del data["request"]["kind"]
    lines = problems_of(checker, data)
    assert sorted(line.split(":")[0] for line in lines) == [
        "assessments[0].score",
        "medication_trials[2].colour",
        "request.kind",
    ]


@pytest.mark.parametrize("text", ["", "not json", "[]", '"a case"', "null", '{"case_id": "x",}'])
def test_not_a_json_object(checker: Checker, text: str) -> None:
    lines = problems_of(checker, text)
    assert all(line.startswith("case: ") for line in lines)


def test_bytes_are_accepted(checker: Checker) -> None:
    assert checker.parse(json.dumps(base()).encode()).case_id == "EX-01-meets"


def test_ids_codes_and_drug_names_must_not_be_empty(checker: Checker) -> None:
    data = base()
    data["patient"]["id"] = ""
    data["diagnoses"][0]["code"] = ""
    data["medication_trials"][0]["drug"] = ""
    assert [line.split(":")[0] for line in problems_of(checker, data)] == [
        "patient.id",
        "diagnoses[0].code",
        "medication_trials[0].drug",
    ]


@pytest.mark.parametrize("case_id", ["../x", "/tmp/x", "a b", "x/y", ".hidden", "-x", "x\\y", "é"])
def test_case_id_is_never_a_path(checker: Checker, case_id: str) -> None:
    lines = problems_of(checker, mutated(lambda d: d.__setitem__("case_id", case_id)))
    assert [line.split(":")[0] for line in lines] == ["case_id"]
    assert "no spaces or slashes" in lines[0]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("patient", "given_name"), "Dana\x00"),
        (("patient", "family_name"), "\u202eorey"),
        (("coverage", "member_id"), "X\nY"),
        (("coverage", "payer_name"), "Plan\u2066"),
        (("request", "prescriber", "name"), "Dr\x85"),
    ],
)
def test_control_and_direction_characters_are_refused(checker: Checker, path: tuple[str, ...], value: str) -> None:
    data = base()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    lines = problems_of(checker, data)
    assert lines == [f"{'.'.join(path)}: contains a control character or an invisible direction mark"]


def test_every_text_has_a_length_bound(checker: Checker) -> None:
    data = base()
    data["patient"]["given_name"] = "x" * 101
    data["coverage"]["member_id"] = "x" * 41
    lines = problems_of(checker, data)
    assert [line.split(":")[0] for line in lines] == ["patient.given_name", "coverage.member_id"]


def test_lists_have_a_bound(checker: Checker) -> None:
    data = base()
    data["medication_trials"] = data["medication_trials"][:1] * 51
    assert problems_of(checker, data) == ["medication_trials: at most 50 items"]


def test_an_oversized_document_is_refused_before_parsing(checker: Checker) -> None:
    data = base()
    data["patient"]["given_name"] = "x" * 300_000
    assert problems_of(checker, data) == ["case: larger than 256 KB; a case is a few KB"]
