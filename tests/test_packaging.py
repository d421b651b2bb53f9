"""A regular (non-editable) install carries everything the package reads at run time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built without network and unpacked into a folder."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("priorauth-*.whl")
    target = out / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def test_wheel_carries_data_files(unpacked_wheel: Path) -> None:
    package = unpacked_wheel / "coverage"
    assert {p.name for p in (package / "policies" / "data").glob("*.yaml")} == {
        "standard-commercial.yaml",
        "strict-commercial.yaml",
        "ketamine-inclusive.yaml",
        "medicare-part-b.yaml",
        "billing.yaml",
    }
    assert (package / "drugs.csv").read_bytes() == (REPO / "src" / "coverage" / "drugs.csv").read_bytes()
    assert (package / "clinic_sample.toml").is_file()
    assert len(list((package / "samples").glob("*.json"))) == len(list((REPO / "src/coverage/samples").glob("*.json")))
    source, installed = REPO / "templates" / "letters", package / "templates" / "letters"
    shipped = {p.relative_to(source) for p in source.rglob("*.*")}
    packaged = {p.relative_to(installed) for p in installed.rglob("*.*")}
    assert shipped <= packaged


def test_installed_copy_checks_a_case(unpacked_wheel: Path, tmp_path: Path) -> None:
    """The unpacked wheel, ahead of the editable source on the path, checks a sample case."""
    env = {**os.environ, "PYTHONPATH": str(unpacked_wheel), "PRIORAUTH_DATA_DIR": str(tmp_path)}
    code = (
        "import coverage, sys; assert coverage.__file__.startswith(sys.argv[1]), coverage.__file__;"
        "from coverage.cli import main; sys.argv = ['priorauth', 'check', '--json', sys.argv[2]]; main()"
    )
    sample = unpacked_wheel / "coverage" / "samples" / "EX-01-meets.json"
    result = subprocess.run(
        [sys.executable, "-c", code, str(unpacked_wheel), str(sample)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    determination = json.loads(result.stdout)
    assert determination["outcome"] == "meets_criteria"
    assert determination["policy_hash"].startswith("sha256:")


def test_wheel_carries_the_web_app(unpacked_wheel: Path, tmp_path: Path) -> None:
    """The web app's templates, static files and htmx's license, and the installed copy renders the sign-in page."""
    web = unpacked_wheel / "coverage" / "web"
    source = REPO / "src" / "coverage" / "web"
    for folder in ("templates", "static"):
        shipped = {p.relative_to(source / folder) for p in (source / folder).rglob("*.*")}
        assert shipped == {p.relative_to(web / folder) for p in (web / folder).rglob("*.*")}
    assert (web / "static" / "htmx-LICENSE.txt").read_text().startswith("Zero-Clause BSD")
    env = {**os.environ, "PYTHONPATH": str(unpacked_wheel), "PRIORAUTH_DATA_DIR": str(tmp_path)}
    code = (
        "import coverage, sys; assert coverage.__file__.startswith(sys.argv[1]), coverage.__file__;"
        "from starlette.testclient import TestClient; from coverage.web.app import create_app;"
        "page = TestClient(create_app()).get('/signin'); assert page.status_code == 200, page.text;"
        "assert 'name=\"csrf\"' in page.text; print(TestClient(create_app()).get('/static/htmx.min.js').status_code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(unpacked_wheel)], check=False, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "200"
    assert (tmp_path / "web-secret").stat().st_mode & 0o777 == 0o600
