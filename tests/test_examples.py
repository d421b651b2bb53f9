"""Every shared example case gives its expected determination, through the Checker and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coverage.policies.service import Checker
from tests.conftest import EXAMPLES, SHARED_CASES, example_case_paths

CASES = example_case_paths()


def _expected(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_name(path.stem + ".expected.json").read_text())
    return data


def _assert_matches(determination: dict[str, Any], expected: dict[str, Any], case_id: str) -> None:
    assert determination["case_id"] == case_id
    assert determination["outcome"] == expected["outcome"]
    assert determination["next_step"] == expected["next_step"]
    # The expected map lists the criteria in the policy's order; dicts keep that order.
    assert [(c["id"], c["status"]) for c in determination["criteria"]] == list(expected["criteria"].items())
    assert determination["authorization_days"] == expected["authorization_days"]
    assert determination["billing"] == expected["billing"]
    assert determination["alternatives"] == expected["alternatives"]
    for criterion in determination["criteria"]:
        assert criterion["detail"].strip(), criterion
        assert "\n" not in criterion["detail"]


def test_there_are_examples() -> None:
    assert len(CASES) >= 8
    for path in CASES:
        assert path.with_name(path.stem + ".expected.json").is_file()


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_example_through_the_checker(path: Path, checker: Checker) -> None:
    determination = checker.check(path.read_bytes()).to_dict()
    _assert_matches(determination, _expected(path), path.stem)
    case = json.loads(path.read_text())
    request = case["request"]
    assert (determination["treatment"], determination["indication"], determination["kind"]) == (
        request["treatment"],
        request["indication"],
        request["kind"],
    )
    policy_id = case["coverage"]["policy_id"]
    assert determination["policy_id"] == policy_id
    if policy_id is None:
        assert determination["policy_version"] is None
        assert determination["policy_hash"] is None
    else:
        loaded = checker.registry.get(policy_id)
        assert loaded is not None
        assert determination["policy_version"] == loaded.policy.version
        assert determination["policy_hash"] == loaded.hash
        assert determination["policy_hash"].startswith("sha256:")
        assert len(determination["policy_hash"]) == len("sha256:") + 64


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_example_through_the_cli_json(path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "coverage", "check", "--json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    _assert_matches(json.loads(result.stdout), _expected(path), path.stem)


def test_cli_json_over_every_example_at_once() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "coverage", "check", "--json", *map(str, CASES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(CASES)
    for path, line in zip(CASES, lines, strict=True):
        _assert_matches(json.loads(line), _expected(path), path.stem)


def test_policy_versions_as_the_reference_gives_them(checker: Checker) -> None:
    versions = {item.policy.id: item.policy.version for item in checker.registry.all()}
    assert versions == {
        "ketamine-inclusive": "2025-06-01",
        "medicare-part-b": "2026-01-01",
        "standard-commercial": "2025-06-01",
        "strict-commercial": "2025-06-01",
    }


@pytest.mark.skipif(not SHARED_CASES.is_dir(), reason="../shared is not beside the repository")
def test_examples_are_a_byte_for_byte_copy_of_the_shared_ones() -> None:
    shared = sorted(p.name for p in SHARED_CASES.iterdir() if p.is_file())
    local = sorted(p.name for p in EXAMPLES.iterdir() if p.is_file())
    assert local == shared
    for name in shared:
        assert (EXAMPLES / name).read_bytes() == (SHARED_CASES / name).read_bytes(), name
