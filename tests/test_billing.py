"""Billing rules as data (``policies/data/billing.yaml``): codes switch on their dates and doses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from coverage.determinations import BillingLine
from coverage.errors import InvalidPolicy
from coverage.policies.billing import billing_lines, billing_rules, parse_billing, unit_kind, unit_label


def test_esketamine_is_s0013_until_the_end_of_2025_and_j0013_from_2026() -> None:
    assert billing_lines("hcpcs", "esketamine", 56, dt.date(2025, 12, 31)) == (BillingLine("S0013", 56),)
    assert billing_lines("hcpcs", "esketamine", 84, dt.date(2026, 1, 1)) == (BillingLine("J0013", 84),)


def test_medicare_bills_g2082_up_to_56_mg_and_g2083_above() -> None:
    day = dt.date(2026, 3, 1)
    assert billing_lines("medicare", "esketamine", 28, day) == (BillingLine("G2082", 1, "KX"),)
    assert billing_lines("medicare", "esketamine", 56, day) == (BillingLine("G2082", 1, "KX"),)
    assert billing_lines("medicare", "esketamine", 84, day) == (BillingLine("G2083", 1, "KX"),)


def test_iv_ketamine_bills_the_infusion_and_the_drug_under_any_scheme() -> None:
    for scheme in ("hcpcs", "medicare"):
        assert billing_lines(scheme, "iv_ketamine", None, dt.date(2026, 3, 1)) == (
            BillingLine("96365", 1),
            BillingLine("J3490", 1),
        )


def test_units_say_what_they_count() -> None:
    assert unit_label("J0013") == "1 unit = 1 mg"
    assert unit_label("G2083") == "1 unit = one session"
    assert unit_label("96365") == "1 unit = one infusion"
    assert unit_label("99213") is None
    assert unit_kind("J0013") == "mg"
    assert unit_kind("S0013") == "mg"
    assert unit_kind("G2082") == "session"
    assert unit_kind("96366") == "hour"
    assert unit_kind("99213") is None
    assert "96366" in billing_rules().codes


def test_a_bad_billing_file_names_every_problem() -> None:
    text = """
codes:
  J0013: {description: x, unit: gram, source: y}
rules:
  - {scheme: hcpcs, treatment: esketamine, code: J0013, units: dose, effective_date: yesterday}
"""
    with pytest.raises(InvalidPolicy) as raised:
        parse_billing(text, "billing.yaml")
    problems = raised.value.problems
    assert any(p.startswith("billing.yaml: codes.J0013.unit:") for p in problems)
    assert any(p.startswith("billing.yaml: rules[0].effective_date:") for p in problems)
    with pytest.raises(InvalidPolicy, match="not listed under codes"):
        parse_billing("codes: {}\nrules: [{scheme: any, treatment: iv_ketamine, code: X1, units: 1}]", "b.yaml")


def test_an_impossible_date_is_one_problem_not_a_traceback() -> None:
    with pytest.raises(InvalidPolicy, match=r"^b.yaml: not valid YAML: month must be in 1..12$"):
        parse_billing("codes: {}\nrules: [{effective_date: 2026-13-01}]", "b.yaml")


BILLING_HEAD = """
codes:
  S0013: {description: x, unit: mg, source: y}
  J0013: {description: x, unit: mg, source: y}
rules:
"""


def test_rules_of_one_line_that_overlap_would_bill_twice_and_are_refused() -> None:
    text = BILLING_HEAD + (
        "  - {scheme: hcpcs, treatment: esketamine, code: S0013, line: drug, units: dose, end_date: 2026-01-15}\n"
        "  - {scheme: hcpcs, treatment: esketamine, code: J0013, line: drug, units: dose, effective_date: 2026-01-01}\n"
    )
    with pytest.raises(InvalidPolicy) as raised:
        parse_billing(text, "b.yaml")
    assert raised.value.problems == [
        "b.yaml: rules: rules[0] (S0013) and rules[1] (J0013) both bill hcpcs esketamine line drug "
        "from 2026-01-01 to 2026-01-15 (a session would be billed twice)"
    ]


def test_a_day_no_rule_of_a_line_bills_is_refused() -> None:
    text = BILLING_HEAD + (
        "  - {scheme: any, treatment: esketamine, code: S0013, line: drug, units: dose, end_date: 2025-12-30}\n"
        "  - {scheme: any, treatment: esketamine, code: J0013, line: drug, units: dose, effective_date: 2026-01-01}\n"
    )
    with pytest.raises(InvalidPolicy) as raised:
        parse_billing(text, "b.yaml")
    assert raised.value.problems == [
        "b.yaml: rules: no rule bills hcpcs esketamine line drug from 2025-12-31 to 2025-12-31",
        "b.yaml: rules: no rule bills medicare esketamine line drug from 2025-12-31 to 2025-12-31",
    ]


def test_a_broken_shipped_billing_file_is_named_by_its_real_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coverage.policies import billing

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "billing.yaml").write_text("codes: {}\nrules: [\n")
    monkeypatch.setattr(billing.resources, "files", lambda _package: tmp_path)
    billing.billing_rules.cache_clear()
    try:
        with pytest.raises(InvalidPolicy) as raised:
            billing.billing_rules()
    finally:
        monkeypatch.undo()
        billing.billing_rules.cache_clear()
    assert raised.value.problems[0].startswith(f"{tmp_path / 'data' / 'billing.yaml'}: not valid YAML: line 3")
