"""The packet's trial history agrees with the engine, and the chart marks the policy's thresholds."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from coverage.documentation import assemble_documentation, score_chart_svg
from coverage.documentation.history import Documentation
from coverage.policies.schema import FailedTrialsCriterion
from coverage.policies.service import Checker

EXAMPLES = Path(__file__).resolve().parent / "examples"
CASES = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".expected.json"))


def document(checker: Checker, data: dict[str, object]) -> Documentation:
    case = checker.parse(json.dumps(data))
    policy = checker.registry.get(case.coverage.policy_id) if case.coverage.policy_id else None
    return assemble_documentation(case=case, determination=checker.determine(case), policy=policy, drugs=checker.drugs)


def example(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_counted_trials_agree_with_the_determination(checker: Checker, path: Path) -> None:
    case = checker.parse(path.read_bytes())
    determination = checker.determine(case)
    policy = checker.registry.get(case.coverage.policy_id) if case.coverage.policy_id else None
    doc = assemble_documentation(case=case, determination=determination, policy=policy, drugs=checker.drugs)
    assert len(doc.trials) == len(case.medication_trials or ())
    result = determination.criterion("failed_trials")
    if result is None or result.status == "missing":
        assert all(t.counts is None for t in doc.antidepressant_trials)
        return
    assert result.detail.startswith(f"{doc.counted_antidepressants} qualifying trial")
    assert policy is not None
    pathway = policy.policy.for_treatment(case.request.treatment).pathway(case.request.indication, case.request.kind)
    assert pathway is not None
    rule = next(c for c in pathway.criteria if isinstance(c, FailedTrialsCriterion))
    met = doc.counted_antidepressants >= rule.min_trials and len(doc.counted_classes) >= rule.min_classes
    assert met == (result.status == "met")
    for row in doc.antidepressant_trials:
        if row.counts is False:
            assert row.reason in result.detail  # the engine's own words


def test_each_reason_a_trial_does_not_count(checker: Checker) -> None:
    data = example("EX-01-meets")
    data["medication_trials"] = [
        {
            "drug": "Zoloft",
            "daily_dose_mg": 100,
            "start": "2025-09-01",
            "end": "2025-11-01",
            "outcome": "inadequate_response",
            "improvement_pct": 10,
            "role": "antidepressant",
        },
        {
            "drug": "sertraline",
            "daily_dose_mg": 150,
            "start": "2025-11-05",
            "end": "2026-01-05",
            "outcome": "inadequate_response",
            "role": "antidepressant",
        },
        {
            "drug": "citalopram",
            "daily_dose_mg": 10,
            "start": "2026-01-10",
            "end": "2026-01-20",
            "outcome": "intolerance",
            "role": "antidepressant",
        },
        {
            "drug": "duloxetine",
            "daily_dose_mg": 60,
            "start": "2024-01-01",
            "end": "2024-05-01",
            "outcome": "inadequate_response",
            "role": "antidepressant",
        },
        {
            "drug": "escitalopram",
            "daily_dose_mg": 10,
            "start": "2026-02-01",
            "end": "2026-02-20",
            "outcome": "inadequate_response",
            "role": "antidepressant",
        },
        {
            "drug": "venlafaxine",
            "daily_dose_mg": 150,
            "start": "2026-03-01",
            "end": "2026-05-01",
            "outcome": "partial_response",
            "improvement_pct": 40,
            "role": "antidepressant",
        },
        {
            "drug": "wonderdrug",
            "daily_dose_mg": 5,
            "start": "2026-03-01",
            "outcome": "unknown",
            "role": "antidepressant",
        },
    ]
    rows = document(checker, data).antidepressant_trials
    assert [r.counts for r in rows] == [True, False, True, False, False, False, False]
    assert rows[0].generic == "sertraline"
    assert rows[0].drug_class == "SSRI"
    assert "already counted" in rows[1].reason
    assert rows[2].reason == "stopped for intolerance"
    assert "before the current episode" in rows[3].reason
    assert rows[3].weeks_in_episode == 0
    assert "lasted 19 days" in rows[4].reason
    assert "did not fail" in rows[5].reason
    assert "not in the drug table" in rows[6].reason
    assert rows[6].min_adequate_mg is None
    assert rows[0].weeks_in_episode == pytest.approx(61 / 7)


def test_missing_episode_start_leaves_trials_unassessed(checker: Checker) -> None:
    data = example("EX-01-meets")
    data["episode_start"] = None
    doc = document(checker, data)
    assert {t.counts for t in doc.antidepressant_trials} == {None}
    assert doc.antidepressant_trials[0].reason == "start of the current episode not documented"


def test_strict_policy_thresholds_and_augmentation(checker: Checker) -> None:
    data = example("EX-01-meets")
    data["coverage"] = {**data["coverage"], "policy_id": "strict-commercial"}  # type: ignore[dict-item]
    doc = document(checker, data)
    assert doc.thresholds == {"phq9": 16}
    assert doc.severity_window_days == 28
    assert doc.augmentation_rule is not None
    assert doc.counted_augmentations == 1
    assert [s.policy_minimum for s in doc.scores] == [16, None]
    assert doc.criteria[0].id == "coverage"
    assert "Patient aged 18 to 64 years." in [c.requirement for c in doc.criteria]


def test_continuation_response_rows(checker: Checker) -> None:
    doc = document(checker, example("EX-08-continuation"))
    (row,) = doc.responses
    assert (row.baseline, row.current, row.improvement_text) == (22, 9, "59.1%")
    assert doc.response_threshold_pct == 50


def test_chart_marks_the_threshold_and_escapes_text(checker: Checker) -> None:
    data = example("EX-01-meets")
    data["coverage"] = {**data["coverage"], "policy_id": "strict-commercial"}  # type: ignore[dict-item]
    data["assessments"] = [
        {"instrument": "phq9", "score": 12, "date": "2026-06-01"},
        {"instrument": "phq9", "score": 22, "date": "2026-11-10"},
        {"instrument": "madrs", "score": 32, "date": "2026-11-12"},
    ]
    doc = document(checker, data)
    svg = score_chart_svg(doc.scores, thresholds=doc.thresholds, end_date=None)
    root = ET.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "policy minimum 16" in texts
    assert "PHQ-9 (0-27)" in texts
    assert "MADRS (0-60)" in texts
    assert len(list(root.iter(f"{ns}circle"))) == 3
    assert len(list(root.iter(f"{ns}polyline"))) == 1
    dashed = [line for line in root.iter(f"{ns}line") if line.get("stroke-dasharray") == "5,3"]
    assert len(dashed) == 1
    # the threshold sits at 16/27 of the PHQ-9 panel's height
    y = float(dashed[0].get("y1", "0"))
    assert 18 < y < 112
    assert score_chart_svg((), thresholds={}) == ""
