"""Policy versions by effective date: the version in effect on a case's date judges it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from coverage.drugs import default_drug_table
from coverage.errors import InvalidCase, InvalidInput, InvalidPolicy
from coverage.policies.loader import PolicyRegistry, builtin_folder, load_folder, load_registry, parse_policy
from coverage.policies.service import Checker
from tests.conftest import EXAMPLES


def revision(version: str = "2026-12-01", window_days: int = 7, **extra: str) -> str:
    """standard-commercial revised: its severity window shortened from 30 days to ``window_days``."""
    text = builtin_folder().joinpath("standard-commercial.yaml").read_text()
    text = text.replace('version: "2025-06-01"', f'version: "{version}"')
    text = text.replace("effective_date: 2025-06-01", f"effective_date: {version}")
    text = text.replace("            window_days: 30\n", f"            window_days: {window_days}\n")
    for key, value in extra.items():
        text += f"{key}: {value}\n"
    return text


def checker_with(tmp_path: Path, *texts: str) -> Checker:
    folder = tmp_path / "policies"
    folder.mkdir(exist_ok=True)
    for number, text in enumerate(texts):
        (folder / f"rev-{number}.yaml").write_text(text)
    return Checker(load_registry(folder), default_drug_table())


def ex01(as_of: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "EX-01-meets.json").read_text())
    data["as_of"] = as_of
    return data


def severity(determination: Any) -> str:
    return next(c.status for c in determination.criteria if c.id == "severity")


def test_a_case_dated_before_and_after_a_revision_is_judged_by_the_right_version(tmp_path: Path) -> None:
    checker = checker_with(tmp_path, revision())
    # EX-01's PHQ-9 is of 2026-11-10: within 30 days on 2026-11-30, not within 7 on 2026-12-01.
    before = checker.check(json.dumps(ex01("2026-11-30")))
    after = checker.check(json.dumps(ex01("2026-12-01")))
    assert (before.policy_version, severity(before), before.outcome) == ("2025-06-01", "met", "meets_criteria")
    assert (after.policy_version, severity(after), after.outcome) == ("2026-12-01", "missing", "missing_documentation")
    assert before.policy_hash != after.policy_hash
    assert checker.policy_of(after) is checker.registry.version("standard-commercial", "2026-12-01")
    assert checker.policy_of(before) is checker.registry.version("standard-commercial", "2025-06-01")


def test_a_date_before_every_version_is_an_error_naming_the_policy_and_the_date(checker: Checker) -> None:
    from coverage.cli.demo import shift_dates

    data = json.loads((EXAMPLES / "EX-05-medicare.json").read_text())
    data = shift_dates(data, (dt.date(2025, 12, 31) - dt.date.fromisoformat(data["as_of"])).days)
    assert data["as_of"] == "2025-12-31"
    with pytest.raises(InvalidCase) as raised:
        checker.check(json.dumps(data))
    assert raised.value.problems == [
        "coverage.policy_id: medicare-part-b has no version in effect on 2025-12-31; its first takes effect 2026-01-01"
    ]
    with pytest.raises(InvalidInput, match="medicare-part-b has no version in effect on 2025-12-31"):
        checker.registry.get("medicare-part-b", dt.date(2025, 12, 31))


def test_a_version_that_ended_leaves_no_version_in_effect(tmp_path: Path) -> None:
    checker = checker_with(tmp_path, revision(end_date="2027-01-31"))
    registry = checker.registry
    assert registry.get("standard-commercial", dt.date(2027, 1, 31)).policy.version == "2026-12-01"  # type: ignore[union-attr]
    assert not registry.in_effect_on("standard-commercial", dt.date(2027, 2, 1))
    assert registry.not_in_effect("standard-commercial", dt.date(2027, 2, 1)) == (
        "coverage.policy_id: standard-commercial has no version in effect on 2027-02-01; "
        "version 2026-12-01 ended 2027-01-31"
    )
    # Without a date, the newest.
    assert registry.get("standard-commercial").policy.version == "2026-12-01"  # type: ignore[union-attr]


def test_a_clinic_file_adds_a_version_or_replaces_the_same_version(tmp_path: Path) -> None:
    shipped = builtin_folder().joinpath("standard-commercial.yaml").read_text()
    renamed = shipped.replace("name: Standard commercial", "name: Standard commercial (clinic copy)")
    checker = checker_with(tmp_path, revision(), renamed)
    versions = checker.registry.versions("standard-commercial")
    assert [v.policy.version for v in versions] == ["2025-06-01", "2026-12-01"]
    assert versions[0].policy.name == "Standard commercial (clinic copy)"
    assert not versions[0].builtin
    assert checker.registry.until(versions[0]) == dt.date(2026, 11, 30)
    assert checker.registry.until(versions[1]) is None
    everything = [(p.policy.id, p.policy.version) for p in checker.registry.all()]
    assert everything.count(("standard-commercial", "2025-06-01")) == 1
    assert ("standard-commercial", "2026-12-01") in everything
    assert len(everything) == 5


def test_two_versions_taking_effect_the_same_day_are_refused(tmp_path: Path) -> None:
    text = revision().replace('version: "2026-12-01"', 'version: "2026-12-01b"')
    with pytest.raises(InvalidPolicy, match="both take effect 2026-12-01"):
        PolicyRegistry([parse_policy(revision().encode(), "a.yaml"), parse_policy(text.encode(), "b.yaml")])


def test_an_end_date_before_the_effective_date_is_refused() -> None:
    with pytest.raises(InvalidPolicy, match="end_date 2026-11-01 is before effective_date 2026-12-01"):
        parse_policy(revision(end_date="2026-11-01").encode(), "a.yaml")


def test_one_folder_may_hold_versions_of_an_id_not_one_version_twice(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(revision())
    (tmp_path / "b.yaml").write_text(revision(version="2027-03-01"))
    assert len(load_folder(tmp_path)) == 2
    (tmp_path / "c.yaml").write_text(revision())
    with pytest.raises(InvalidPolicy, match=r"c.yaml: version: standard-commercial 2026-12-01 is also in .*a.yaml"):
        load_folder(tmp_path)


def test_policies_list_shows_every_version_with_its_dates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from coverage.cli import app

    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "rev.yaml").write_text(revision())
    monkeypatch.setenv("PRIORAUTH_POLICY_DIR", str(folder))
    result = CliRunner().invoke(app, ["policies", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {(r["id"], r["version"]): r for r in json.loads(result.stdout)}
    assert len(rows) == 5
    old, new = rows["standard-commercial", "2025-06-01"], rows["standard-commercial", "2026-12-01"]
    assert (old["from"], old["until"], old["source"]) == ("2025-06-01", "2026-11-30", "shipped")
    assert (new["from"], new["until"], new["source"]) == ("2026-12-01", None, str(folder / "rev.yaml"))


def test_policies_validate_checks_a_folder_with_the_shipped_versions(tmp_path: Path) -> None:
    from tests.conftest import Cli

    (tmp_path / "clash.yaml").write_text(
        revision(version="2025-06-01b").replace("effective_date: 2025-06-01b", "effective_date: 2025-06-01")
    )
    lines = Cli().fails("policies", "validate", str(tmp_path))
    assert lines == [
        f"error: {builtin_folder() / 'standard-commercial.yaml'} and {tmp_path / 'clash.yaml'}: effective_date: "
        "standard-commercial versions 2025-06-01 and 2025-06-01b both take effect 2025-06-01"
    ]


def test_validate_names_every_problem_in_one_run(tmp_path: Path) -> None:
    from tests.conftest import Cli

    (tmp_path / "a.yaml").write_text(revision("2027-05-01"))
    (tmp_path / "b.yaml").write_text(revision("2027-05-01").replace('version: "2027-05-01"', 'version: "b"'))
    (tmp_path / "broken.yaml").write_text("id: [\n")
    lines = Cli().fails("policies", "validate", str(tmp_path))
    assert len(lines) == 2
    assert lines[0].startswith(f"error: {tmp_path / 'broken.yaml'}: not valid YAML")
    assert lines[1] == (
        f"error: {tmp_path / 'a.yaml'} and {tmp_path / 'b.yaml'}: effective_date: standard-commercial "
        "versions 2027-05-01 and b both take effect 2027-05-01"
    )


def test_overlapping_versions_are_refused_naming_both_files(tmp_path: Path) -> None:
    from tests.conftest import Cli

    (tmp_path / "may.yaml").write_text(revision("2027-05-01", end_date="2027-08-31"))
    (tmp_path / "june.yaml").write_text(revision("2027-06-01", end_date="2027-12-31"))
    assert Cli().fails("policies", "validate", str(tmp_path)) == [
        f"error: {tmp_path / 'may.yaml'} and {tmp_path / 'june.yaml'}: end_date: standard-commercial version "
        "2027-05-01 runs until 2027-08-31, after version 2027-06-01 takes effect 2027-06-01 (the two overlap)"
    ]
    with pytest.raises(InvalidPolicy, match="the two overlap"):
        load_registry(tmp_path)


def test_validate_refuses_a_folder_leaving_no_version_in_effect_today(tmp_path: Path) -> None:
    from coverage.requests.clocks import clinic_today
    from tests.conftest import Cli

    later = clinic_today() + dt.timedelta(days=10)
    moved = revision("2025-06-01").replace("effective_date: 2025-06-01", f"effective_date: {later.isoformat()}")
    (tmp_path / "moved.yaml").write_text(moved)
    assert Cli().fails("policies", "validate", str(tmp_path)) == [
        f"error: standard-commercial: no version in effect on {clinic_today().isoformat()} (today); "
        f"its first takes effect {later.isoformat()}"
    ]


def test_validate_refuses_a_folder_leaving_an_open_request_without_a_version(cli: Any, tmp_path: Path) -> None:
    from tests.conftest import case_gathered, today, write_case

    data = case_gathered("EX-01-meets", today() - dt.timedelta(days=20))
    request = cli("intake", str(write_case(tmp_path, data)), "--json")["request_id"]
    assert request
    start = today() - dt.timedelta(days=5)
    moved = revision("2025-06-01").replace("effective_date: 2025-06-01", f"effective_date: {start.isoformat()}")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "moved.yaml").write_text(moved)
    assert cli.fails("policies", "validate", str(tmp_path / "p")) == [
        f"error: standard-commercial: no version in effect on {data['as_of']} (the as_of of an open request); "
        f"its first takes effect {start.isoformat()}"
    ]


def test_a_policy_file_name_with_control_characters_is_printed_escaped(tmp_path: Path) -> None:
    from tests.conftest import Cli

    (tmp_path / "x\nerror: forged\x1b[31m.yaml").write_text("id: [\n")
    lines = Cli().fails("policies", "validate", str(tmp_path))
    assert len(lines) == 1
    assert lines[0].startswith("error: '" + str(tmp_path) + "/x\\nerror: forged\\x1b[31m.yaml': not valid YAML")


def test_a_loaded_policy_pickles_without_the_engines_cache(checker: Checker) -> None:
    import pickle

    policy = checker.registry.get("standard-commercial")
    assert policy is not None
    checker.check((EXAMPLES / "EX-01-meets.json").read_text())  # fills the cache
    assert policy.compiled
    copy = pickle.loads(pickle.dumps(policy))
    assert (copy.policy, copy.hash, copy.source, copy.builtin) == (policy.policy, policy.hash, policy.source, True)
    assert copy.compiled == {}
    assert Checker(PolicyRegistry([copy]), default_drug_table()).check(
        (EXAMPLES / "EX-01-meets.json").read_text()
    ) == checker.check((EXAMPLES / "EX-01-meets.json").read_text())


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('name: "Acme\\x1b[2J"', "name: contains a control character or an invisible direction mark"),
        ('name: "Acme\\nerror: forged"', "name: contains a control character or an invisible direction mark"),
        ('version: "2026-12-01\\x1b"', "version: contains a control character or an invisible direction mark"),
        ('version: "  "', "version: required (blank)"),
        (f'version: "{"v" * 65}"', "version: at most 64 characters (got 65)"),
    ],
)
def test_a_name_or_version_with_control_characters_or_blank_is_refused(line: str, problem: str) -> None:
    key = line.split(":", maxsplit=1)[0]
    text = "\n".join(row for row in revision().splitlines() if not row.startswith(f"{key}:")) + f"\n{line}\n"
    with pytest.raises(InvalidPolicy) as error:
        parse_policy(text.encode(), "a.yaml")
    assert error.value.problems == [f"a.yaml: {problem}"]


def test_schema_and_yaml_errors_are_plain_lines_naming_the_field() -> None:
    with pytest.raises(InvalidPolicy) as error:
        parse_policy(revision().replace("&rems {id: rems}", "&rems {id: rems_x}").encode(), "a.yaml")
    assert error.value.problems[0].startswith("a.yaml: treatments.esketamine.pathways[0].criteria[5]: unknown id")
    assert all("Input tag" not in p and "Value error" not in p for p in error.value.problems)
    assert any("unknown id 'rems_x' (expected one of: age, diagnosis," in p for p in error.value.problems)
    with pytest.raises(InvalidPolicy) as error:
        parse_policy(revision(end_date="2026-11-01").encode(), "a.yaml")
    assert error.value.problems == ["a.yaml: policy: end_date 2026-11-01 is before effective_date 2026-12-01"]
    with pytest.raises(InvalidPolicy) as error:
        parse_policy(b"id: [\n", "a.yaml")
    assert error.value.problems == [
        "a.yaml: not valid YAML: line 2, column 1: while parsing a flow node did not find expected node content"
    ]


def test_policies_list_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from coverage.cli import app

    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, ["policies", "list"])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "  esketamine:  no PA: trd initial, continuation; mdsi initial, continuation" in result.stdout


def test_an_unknown_key_with_control_characters_is_printed_escaped() -> None:
    with pytest.raises(InvalidPolicy) as error:
        parse_policy((revision() + '"x\\nerror: forged\\e[2J": 1\n').encode(), "a.yaml")
    assert error.value.problems == ["a.yaml: 'x\\nerror: forged\\x1b[2J': unknown field"]
