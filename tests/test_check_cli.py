"""``priorauth check`` (one case, ``--json``, ``--batch``) and ``priorauth policies``, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from coverage.policies.loader import builtin_folder
from tests.conftest import EXAMPLES, load_case_dict

EX01 = EXAMPLES / "EX-01-meets.json"


def priorauth(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coverage", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        input=stdin,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def write_case(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(json.dumps(data))
    return path


# --- one case ------------------------------------------------------------------------------------


def test_table_output() -> None:
    result = priorauth("check", str(EX01))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "EX-01-meets" in out
    assert "meets_criteria" in out
    assert "submit_prior_auth" in out
    for criterion_id in (
        "coverage",
        "age",
        "diagnosis",
        "failed_trials",
        "severity",
        "prescriber",
        "rems",
        "psychosis",
    ):
        assert criterion_id in out
    assert "180 days" in out
    assert "J0013" in out
    assert "iv_ketamine trd: not_covered" in out
    assert not out.lstrip().startswith("{")
    assert result.stderr == ""


def test_json_output_is_the_spec_form() -> None:
    result = priorauth("check", "--json", str(EX01))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == [
        "case_id",
        "policy_id",
        "policy_version",
        "policy_hash",
        "treatment",
        "indication",
        "kind",
        "outcome",
        "next_step",
        "criteria",
        "authorization_days",
        "billing",
        "alternatives",
    ]
    assert data["policy_id"] == "standard-commercial"
    assert data["policy_version"] == "2025-06-01"
    assert data["policy_hash"].startswith("sha256:")
    assert all(set(c) == {"id", "status", "detail"} for c in data["criteria"])
    assert data["criteria"][2] == {"id": "diagnosis", "status": "met", "detail": "F33.2 is accepted"}
    assert data["criteria"][1] == {"id": "age", "status": "met", "detail": "43 years on 2026-11-20"}


def test_policy_hash_is_the_sha256_of_the_file() -> None:
    import hashlib

    result = priorauth("check", "--json", str(EX01))
    content = builtin_folder().joinpath("standard-commercial.yaml").read_bytes()
    assert json.loads(result.stdout)["policy_hash"] == "sha256:" + hashlib.sha256(content).hexdigest()


def test_invalid_case_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    data = load_case_dict("EX-01-meets")
    data["medication_trials"][1]["end"] = "2025-09-01"  # type: ignore[index]
    data["request"]["dose_mg"] = 50  # type: ignore[index]
    data["patient"]["colour"] = "blue"  # type: ignore[index]
    path = write_case(tmp_path, "bad.json", data)
    result = priorauth("check", "--json", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines == ["error: patient.colour: unknown field"]  # the type errors come first
    del data["patient"]["colour"]  # type: ignore[attr-defined]
    path = write_case(tmp_path, "bad.json", data)
    result = priorauth("check", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: request.dose_mg: 50 is not 28, 56 or 84",
        "error: medication_trials[1].end: before start 2025-11-10",
    ]


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]"])
def test_not_a_case_exits_2(tmp_path: Path, content: str) -> None:
    path = tmp_path / "case.json"
    path.write_text(content)
    result = priorauth("check", "--json", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: case: ")


def test_unknown_policy_exits_2(tmp_path: Path) -> None:
    data = load_case_dict("EX-01-meets")
    data["coverage"]["policy_id"] = "acme-gold"  # type: ignore[index]
    result = priorauth("check", str(write_case(tmp_path, "c.json", data)))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["error: coverage.policy_id: unknown policy 'acme-gold'"]


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = priorauth("check", str(missing))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert str(missing) in result.stderr
    result = priorauth("check", str(tmp_path))  # a folder is not a case file
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_one_bad_file_among_several_prints_nothing_to_stdout(tmp_path: Path) -> None:
    data = load_case_dict("EX-01-meets")
    data["as_of"] = "20/11/2026"
    bad = write_case(tmp_path, "bad.json", data)
    result = priorauth("check", "--json", str(EX01), str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {bad}: as_of: ")


def test_no_case_given() -> None:
    result = priorauth("check")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


# --- batch ---------------------------------------------------------------------------------------


def test_batch_one_line_out_per_line_in(tmp_path: Path) -> None:
    good = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("EX-0*.json")) if "expected" not in p.name]
    bad_rule = load_case_dict("EX-03-subtherapeutic-dose")
    bad_rule["assessments"][0]["score"] = 99  # type: ignore[index]
    lines = [
        json.dumps(good[0]),
        "{this is not json",
        "",
        json.dumps(bad_rule),
        "   ",
        json.dumps(good[1]),
        '["a list"]',
        json.dumps({"case_id": 7}),
        *[json.dumps(case) for case in good[2:]],
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    target = tmp_path / "out.jsonl"
    result = priorauth("check", "--batch", str(source), "--out", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    out = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(out) == len(lines)

    assert out[0]["case_id"] == "EX-01-meets"
    assert out[0]["outcome"] == "meets_criteria"
    assert out[1]["line"] == 2
    assert out[1]["case_id"] is None
    assert out[1]["errors"]
    assert all(e.startswith("case: ") for e in out[1]["errors"])
    assert out[2]["line"] == 3
    assert out[2]["case_id"] is None
    assert out[2]["errors"]
    assert out[3] == {
        "line": 4,
        "case_id": "EX-03-subtherapeutic-dose",
        "errors": ["assessments[0].score: 99 is outside 0-27 for phq9"],
    }
    assert out[4]["line"] == 5
    assert out[4]["errors"]
    assert out[5]["case_id"] == "EX-02-iv-not-covered"
    assert out[5]["outcome"] == "not_covered"
    assert out[6]["line"] == 7
    assert out[6]["case_id"] is None
    assert out[7]["line"] == 8
    assert out[7]["case_id"] is None  # not a string: not a case id
    assert "case_id: Input should be a valid string" in out[7]["errors"]
    for record, case in zip(out[8:], good[2:], strict=True):
        assert record["case_id"] == case["case_id"]
        assert "outcome" in record
    for record in out:
        if "errors" in record:
            assert set(record) == {"line", "case_id", "errors"}


def test_batch_matches_single_checks(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(json.loads(EX01.read_text())) + "\n")
    target = tmp_path / "out.jsonl"
    assert priorauth("check", "--batch", str(source), "--out", str(target)).returncode == 0
    single = json.loads(priorauth("check", "--json", str(EX01)).stdout)
    assert json.loads(target.read_text()) == single


def test_batch_without_a_final_newline_and_with_crlf(tmp_path: Path) -> None:
    case = json.dumps(json.loads(EX01.read_text()))
    source = tmp_path / "in.jsonl"
    source.write_bytes((case + "\r\n" + case).encode())
    target = tmp_path / "out.jsonl"
    result = priorauth("check", "--batch", str(source), "--out", str(target))
    assert result.returncode == 0, result.stderr
    out = target.read_text().splitlines()
    assert len(out) == 2
    assert all(json.loads(line)["outcome"] == "meets_criteria" for line in out)


def test_batch_that_cannot_be_read(tmp_path: Path) -> None:
    result = priorauth("check", "--batch", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "missing.jsonl" in result.stderr


def test_batch_never_overwrites_its_input(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(EX01.read_text().replace("\n", " ") + "\n")
    before = source.read_bytes()
    result = priorauth("check", "--batch", str(source), "--out", str(tmp_path / "." / "in.jsonl"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: --out: ")
    assert "Traceback" not in result.stderr
    assert source.read_bytes() == before


def test_batch_output_that_cannot_be_written(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("")
    result = priorauth("check", "--batch", str(source), "--out", str(tmp_path / "no" / "such" / "o.jsonl"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: --out: cannot write")
    assert "Traceback" not in result.stderr


def test_batch_needs_out(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("")
    result = priorauth("check", "--batch", str(source))
    assert result.returncode == 2
    assert "--out" in result.stderr


def test_empty_batch(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("")
    target = tmp_path / "out.jsonl"
    assert priorauth("check", "--batch", str(source), "--out", str(target)).returncode == 0
    assert target.read_text() == ""


# --- policies --------------------------------------------------------------------------------------


def test_policies_list() -> None:
    result = priorauth("policies", "list")
    assert result.returncode == 0, result.stderr
    for policy_id in ("standard-commercial", "strict-commercial", "ketamine-inclusive", "medicare-part-b"):
        assert policy_id in result.stdout
    assert "2026-01-01" in result.stdout
    assert "not covered" in result.stdout


def test_policies_validate_the_shipped_folder(tmp_path: Path) -> None:
    for name in ("standard-commercial.yaml", "medicare-part-b.yaml"):
        (tmp_path / name).write_bytes(builtin_folder().joinpath(name).read_bytes())
    result = priorauth("policies", "validate", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "ok standard-commercial 2025-06-01" in result.stdout
    assert "ok medicare-part-b 2026-01-01" in result.stdout
    assert "2 policies valid" in result.stdout


def test_policies_validate_names_every_problem(tmp_path: Path) -> None:
    (tmp_path / "broken-yaml.yaml").write_text("id: [unclosed\n")
    (tmp_path / "bad-fields.yaml").write_text(
        textwrap.dedent(
            """\
            id: Bad Id
            name: Bad
            version: "2026-01-01"
            effective_date: 2026-01-01
            modeled_on: nothing
            billing_scheme: ucr
            treatments:
              esketamine:
                covered: true
                pathways:
                  - indication: trd
                    kind: initial
                    authorization_days: 0
                    criteria:
                      - {id: age, min_age: 18, colour: red}
                      - {id: telepathy}
            """
        )
    )
    original = builtin_folder().joinpath("strict-commercial.yaml").read_bytes()
    (tmp_path / "a-copy.yaml").write_bytes(original)
    (tmp_path / "b-copy.yaml").write_bytes(original)
    (tmp_path / "notes.txt").write_text("not a policy")
    result = priorauth("policies", "validate", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("error: ") for line in lines)
    assert any("broken-yaml.yaml" in line and "YAML" in line for line in lines)
    bad = [line for line in lines if "bad-fields.yaml" in line]
    for field in ("id", "billing_scheme", "authorization_days", "colour", "telepathy"):
        assert any(field in line for line in bad), (field, bad)
    assert any("b-copy.yaml" in line and "strict-commercial" in line for line in lines)
    assert not any("notes.txt" in line for line in lines)


def test_policies_validate_a_missing_folder(tmp_path: Path) -> None:
    result = priorauth("policies", "validate", str(tmp_path / "none"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_clinic_policy_folder_that_is_not_a_folder(tmp_path: Path) -> None:
    result = priorauth("check", str(EX01), env={"PRIORAUTH_POLICY_DIR": str(tmp_path / "nowhere")})
    assert result.returncode == 2
    assert result.stderr == f"error: PRIORAUTH_POLICY_DIR: {tmp_path / 'nowhere'} is not a folder\n"


def test_clinic_policy_folder_is_loaded(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    text = builtin_folder().joinpath("standard-commercial.yaml").read_text()
    (folder / "acme.yaml").write_text(text.replace("id: standard-commercial", "id: acme-gold"))
    data = load_case_dict("EX-01-meets")
    data["coverage"]["policy_id"] = "acme-gold"  # type: ignore[index]
    path = write_case(tmp_path, "c.json", data)
    result = priorauth("check", "--json", str(path), env={"PRIORAUTH_POLICY_DIR": str(folder)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["policy_id"] == "acme-gold"
    assert "acme-gold" in priorauth("policies", "list", env={"PRIORAUTH_POLICY_DIR": str(folder)}).stdout


# --- the check path stays light -------------------------------------------------------------------


def test_check_imports_neither_prefect_sqlalchemy_nor_weasyprint() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from typer.testing import CliRunner
        import coverage.cli
        from coverage.cli import app
        result = CliRunner().invoke(app, ["check", "--json", {str(EX01)!r}])
        assert result.exit_code == 0, result.output
        assert '"outcome": "meets_criteria"' in result.output, result.output
        result = CliRunner().invoke(app, ["check", {str(EX01)!r}])
        assert result.exit_code == 0, result.output
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("prefect", "sqlalchemy", "weasyprint"))
        assert not heavy, heavy
        print("light")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "light"


def test_a_letter_from_a_case_file_loads_no_records_layer(tmp_path: Path) -> None:
    """A preview from a case file needs no database: neither SQLAlchemy nor the records' services load."""
    out = tmp_path / "letter.pdf"
    script = textwrap.dedent(
        f"""
        import sys
        from typer.testing import CliRunner
        from coverage.cli import app
        result = CliRunner().invoke(app, ["letter", {str(EX01)!r}, "--kind", "request", "--out", {str(out)!r}])
        assert result.exit_code == 0, result.output
        heavy = sorted(
            m for m in sys.modules
            if m.split(".")[0] in ("prefect", "sqlalchemy") or m.startswith(("coverage.store", "coverage.services"))
        )
        assert not heavy, heavy
        print("light")
        """
    )
    env = {**os.environ, "PRIORAUTH_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "light"
    assert out.read_bytes().startswith(b"%PDF")
