"""``priorauth policies impact``: which open requests a revision changes, stored nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from coverage.policies.loader import builtin_folder
from tests.conftest import Cli, case_gathered, today, write_case


def revision_file(folder: Path, effective: dt.date, window_days: int = 7) -> Path:
    """standard-commercial revised from ``effective``: its severity window shortened from 30 days."""
    text = builtin_folder().joinpath("standard-commercial.yaml").read_text()
    text = text.replace('version: "2025-06-01"', f'version: "{effective.isoformat()}"')
    text = text.replace("effective_date: 2025-06-01", f"effective_date: {effective.isoformat()}")
    text = text.replace("            window_days: 30\n", f"            window_days: {window_days}\n")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "standard-commercial-rev.yaml"
    path.write_text(text)
    return path


def take_in(cli: Cli, folder: Path, number: int, score_age_days: int, policy_id: str = "standard-commercial") -> int:
    """EX-01 gathered today, its only severity score ``score_age_days`` old."""
    day = (today() - dt.timedelta(days=score_age_days)).isoformat()
    data: dict[str, Any] = case_gathered("EX-01-meets")
    data["case_id"] = f"IMPACT-{number:03d}"
    data["patient"]["id"] = f"P-IMPACT-{number:03d}"
    data["coverage"]["policy_id"] = policy_id
    data["assessments"] = [{"instrument": "phq9", "score": 22, "date": day}]
    path = write_case(folder, data, f"case-{number}.json")
    return int(cli("intake", str(path), "--json")["request_id"])


def test_a_shorter_severity_window_flips_exactly_the_scores_between_the_two_windows(cli: Cli, tmp_path: Path) -> None:
    ages = [0, 6, 7, 8, 15, 29, 30, 31, 45]
    ids = {age: take_in(cli, tmp_path, n, age) for n, age in enumerate(ages)}
    cancelled = take_in(cli, tmp_path, 50, 15)
    cli("requests", "transition", str(cancelled), "cancelled", "--reason", "duplicate")
    other_policy = take_in(cli, tmp_path, 51, 15, policy_id="ketamine-inclusive")
    rev = revision_file(tmp_path / "rev", today())

    report = cli("policies", "impact", str(rev), "--json")

    assert report["policy_id"] == "standard-commercial"
    assert report["version"] == today().isoformat()
    assert report["evaluated"] == len(ages)
    flipped = {ids[age] for age in (8, 15, 29, 30)}
    changed = {c["request_id"] for c in report["changed"]}
    assert changed == flipped
    assert cancelled not in changed
    assert other_policy not in changed
    for change in report["changed"]:
        assert (change["outcome_from"], change["outcome_to"]) == ("meets_criteria", "missing_documentation")
        assert [(c["id"], c["from"], c["to"]) for c in change["criteria"]] == [("severity", "met", "missing")]
        assert change["criteria"][0]["detail"].endswith("within 7 days")
    # Nothing stored: the requests are as they were.
    for age, request_id in ids.items():
        shown = cli("requests", "show", str(request_id), "--json")
        assert shown["status"] == ("ready" if age <= 30 else "draft")

    text = cli("policies", "impact", str(rev))
    assert f"request {ids[15]}: meets_criteria -> missing_documentation" in text
    assert "  severity: met -> missing: no PHQ-9" in text
    assert f"{len(ages)} open requests of standard-commercial evaluated as of {today().isoformat()}" in text
    assert "4 changed" in text


def test_no_open_request_gives_an_empty_list(cli: Cli, tmp_path: Path) -> None:
    report = cli("policies", "impact", str(revision_file(tmp_path, today())), "--json")
    assert report == {
        "policy_id": "standard-commercial",
        "version": today().isoformat(),
        "as_of": today().isoformat(),
        "version_before": "2025-06-01",
        "version_after": today().isoformat(),
        "installed": False,
        "changed": [],
        "evaluated": 0,
        "unreadable": 0,
        "problems": [],
    }


def test_a_bad_revision_is_one_line_per_problem(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: standard-commercial\nname: x\nversion: '2027-01-01'\neffective_date: someday\n")
    lines = cli.fails("policies", "impact", str(bad))
    assert f"error: {bad}: effective_date: Input should be a valid date or datetime, input is too short" in lines
    assert any(line.startswith(f"error: {bad}: treatments:") for line in lines)
    assert all(line.startswith(f"error: {bad}: ") for line in lines)
    unknown = revision_file(tmp_path / "u", today()).read_text().replace("id: standard-commercial", "id: acme")
    (tmp_path / "acme.yaml").write_text(unknown)
    assert cli.fails("policies", "impact", str(tmp_path / "acme.yaml")) == [
        f"error: {tmp_path / 'acme.yaml'}: id: 'acme' is not a loaded policy (loaded: ketamine-inclusive, "
        "medicare-part-b, standard-commercial, strict-commercial)"
    ]
    assert cli.fails("policies", "impact", str(tmp_path / "missing.yaml")) == [
        f"error: {tmp_path / 'missing.yaml'}: cannot read the file (No such file or directory)"
    ]


def test_an_approved_request_counts_until_its_continuation_is_sent(cli: Cli, tmp_path: Path) -> None:
    from tests.test_lifecycle_scenarios import _approved

    first = _approved(cli, tmp_path)  # EX-01: its PHQ-9 is 10 days old, its MADRS 8
    rev = revision_file(tmp_path / "rev", today())

    def impact() -> tuple[int, list[int]]:
        report = cli("policies", "impact", str(rev), "--json")
        return report["evaluated"], [c["request_id"] for c in report["changed"]]

    assert impact() == (1, [first])
    later = cli("requests", "continue", str(first), "--json")["request_id"]
    # The continuation is a draft (its pathway has no severity criterion): both are evaluated.
    assert impact() == (2, [first])
    document = case_gathered("EX-01-meets")  # the response documented: ready to send
    document["request"]["kind"] = "continuation"
    document["request"]["therapy_start"] = str(today() - dt.timedelta(days=5))
    document["assessments"].append({"instrument": "phq9", "score": 7, "date": str(today())})
    cli("requests", "amend", str(later), str(write_case(tmp_path / "response", document)), "--json")
    cli("requests", "send", str(later))
    assert impact() == (2, [first])
    cli("requests", "submit", str(later), "--channel", "fax", "--reference", "F-C1")
    assert impact() == (1, [])  # the continuation, submitted; the approved request no longer


def test_a_same_version_replacement_dated_in_the_past_is_judged_as_of_today(cli: Cli, tmp_path: Path) -> None:
    # Installed, the file replaces version 2025-06-01 for every request evaluated from now on.
    ages = [0, 6, 8, 15, 31]
    ids = {age: take_in(cli, tmp_path, n, age) for n, age in enumerate(ages)}
    rev = revision_file(tmp_path / "rev", dt.date(2025, 6, 1))

    report = cli("policies", "impact", str(rev), "--json")

    assert report["as_of"] == today().isoformat()
    assert (report["version_before"], report["version_after"]) == ("2025-06-01", "2025-06-01")
    assert {c["request_id"] for c in report["changed"]} == {ids[8], ids[15]}
    text = cli("policies", "impact", str(rev))
    assert f"evaluated as of {today().isoformat()} (the later of the file's effective date 2025-06-01" in text
    assert "2 changed" in text


def test_a_revision_that_took_effect_weeks_ago_is_judged_as_of_today(cli: Cli, tmp_path: Path) -> None:
    ages = [0, 6, 8, 15, 20, 25, 29, 31]
    ids = {age: take_in(cli, tmp_path, n, age) for n, age in enumerate(ages)}
    rev = revision_file(tmp_path / "rev", today() - dt.timedelta(days=18))

    report = cli("policies", "impact", str(rev), "--json")

    assert report["as_of"] == today().isoformat()
    assert {c["request_id"] for c in report["changed"]} == {ids[a] for a in (8, 15, 20, 25, 29)}


def test_a_revision_taking_effect_later_is_judged_on_its_effective_date(cli: Cli, tmp_path: Path) -> None:
    take_in(cli, tmp_path, 1, 15)
    later = today() + dt.timedelta(days=30)
    report = cli("policies", "impact", str(revision_file(tmp_path / "rev", later)), "--json")
    assert report["as_of"] == later.isoformat()
    assert report["version_before"] == "2025-06-01"


def test_an_installed_file_is_said_to_be_compared_with_itself(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    take_in(cli, tmp_path, 1, 15)
    rev = revision_file(tmp_path / "clinic", today() - dt.timedelta(days=3))
    monkeypatch.setenv("PRIORAUTH_POLICY_DIR", str(tmp_path / "clinic"))

    report = cli("policies", "impact", str(rev), "--json")

    assert report["installed"] is True
    assert report["version_before"] == report["version_after"] == (today() - dt.timedelta(days=3)).isoformat()
    assert report["changed"] == []
    text = cli("policies", "impact", str(rev))
    assert "this file is already installed (the same content is loaded): it is compared with itself" in text
    shipped = builtin_folder().joinpath("strict-commercial.yaml")
    assert "it is compared with itself" in cli("policies", "impact", str(shipped))


def test_a_replacement_moved_after_today_is_reported(cli: Cli, tmp_path: Path) -> None:
    take_in(cli, tmp_path, 1, 15)
    later = today() + dt.timedelta(days=10)
    rev = revision_file(tmp_path / "rev", dt.date(2025, 6, 1))
    rev.write_text(rev.read_text().replace("effective_date: 2025-06-01", f"effective_date: {later.isoformat()}"))

    report = cli("policies", "impact", str(rev), "--json")

    day = today().isoformat()
    assert report["problems"] == [
        f"standard-commercial: no version in effect on {day} (today); its first takes effect {later.isoformat()}",
        f"standard-commercial: no version in effect on {day} (the as_of of an open request); "
        f"its first takes effect {later.isoformat()}",
    ]
    assert f"warning: with this file installed, standard-commercial: no version in effect on {day} (today)" in cli(
        "policies", "impact", str(rev)
    )


def test_a_revision_overlapping_a_loaded_version_is_refused(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rev = revision_file(tmp_path / "rev", today())
    rev.write_text(rev.read_text() + "end_date: 2099-12-31\n")
    other = tmp_path / "clinic" / "later.yaml"
    other.parent.mkdir()
    later = revision_file(tmp_path / "x", today() + dt.timedelta(days=40)).read_text()
    other.write_text(later)
    monkeypatch.setenv("PRIORAUTH_POLICY_DIR", str(other.parent))
    lines = cli.fails("policies", "impact", str(rev))
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {rev} and {other}: end_date: standard-commercial version")
    assert "(the two overlap)" in lines[0]


def test_a_policy_file_over_one_megabyte_is_refused_before_it_is_read(cli: Cli, tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as out:
        out.truncate(2 * 1024 * 1024)
    assert cli.fails("policies", "impact", str(big)) == [
        f"error: {big}: 2,097,152 bytes; a policy file may hold at most 1,048,576"
    ]
