"""Shared fixtures. Every test run works in its own data folder, never the user's."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from coverage.drugs import default_drug_table
from coverage.policies.loader import load_registry
from coverage.policies.service import Checker

REPO = Path(__file__).resolve().parents[1]
SHARED_CASES = REPO.parent / "shared" / "examples" / "cases"
EXAMPLES = REPO / "tests" / "examples"  # a copy of SHARED_CASES, so a clone alone can run the tests
SAMPLE_CASES = REPO / "src" / "coverage" / "samples"

# Isolate the whole run before anything reads settings: a data folder of its own, and no
# clinic configuration leaking in from the developer's environment.
_RUN_DIR = Path(tempfile.mkdtemp(prefix="priorauth-tests-"))
for _name in [
    n
    for n in os.environ
    if n.startswith("PRIORAUTH_") and n not in ("PRIORAUTH_TEST_DATABASE_URL", "PRIORAUTH_REQUIRE_POSTGRES")
]:
    del os.environ[_name]
os.environ["PRIORAUTH_DATA_DIR"] = str(_RUN_DIR / "data")
os.environ["PREFECT_HOME"] = str(_RUN_DIR / "prefect")


@pytest.fixture(scope="session")
def checker() -> Checker:
    """The shipped policies and drug table."""
    return Checker(load_registry(None), default_drug_table())


def example_case_paths() -> list[Path]:
    """The example cases that have an expected determination beside them."""
    return sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".expected.json"))


def load_case_dict(name: str) -> dict[str, object]:
    """A sample case as a JSON object, to vary in a test."""
    data: dict[str, object] = json.loads((SAMPLE_CASES / f"{name}.json").read_text())
    return data


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder for one test."""
    folder = tmp_path / "data"
    monkeypatch.setenv("PRIORAUTH_DATA_DIR", str(folder))
    return folder
