"""The engine's golden file: what the engine answered, byte for byte, before it was made faster.

    .venv/bin/python -m tests.engine_golden          # (re)write tests/golden/engine.jsonl.gz

Each line of the file is one case: ``source`` (where the case comes from), ``digest`` (sha256 of
the case's JSON text, first 16 hex digits), ``input`` (that text) and ``output`` (the line
``priorauth check --batch`` writes for it: the determination, or the case's error record).
The cases are the shared examples, 10,000 random cases of ``bench/engine.py``'s generator
(seed 13), 2,000 of the property tests' strategies (derandomized), and a few hundred broken
ones. Random cases dated before their policy's first effective date are left out: those have
no policy version in effect, so they are an error by design.

``tests/test_engine_golden.py`` re-checks every input and compares the output byte for byte.
The file keeps its inputs so that it stays valid whatever becomes of the generators.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import importlib.util
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coverage.errors import InvalidCase
from coverage.policies.service import Checker

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "engine.jsonl.gz"
EXAMPLES = REPO / "tests" / "examples"
#: The first effective date of each shipped policy when the file was written.
FIRST_EFFECTIVE = {
    "standard-commercial": "2025-06-01",
    "strict-commercial": "2025-06-01",
    "ketamine-inclusive": "2025-06-01",
    "medicare-part-b": "2026-01-01",
}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def output_line(checker: Checker, text: str) -> str:
    """What ``priorauth check --batch`` writes for one case (its line number is 1)."""
    try:
        record: Any = checker.check(text).to_dict()
    except InvalidCase as error:
        record = {"line": 1, "errors": error.problems}
    return json.dumps(record, separators=(",", ":"))


def _dated_in_force(case: Any) -> bool:
    if not isinstance(case, dict):
        return True
    policy_id = (case.get("coverage") or {}).get("policy_id") if isinstance(case.get("coverage"), dict) else None
    first = FIRST_EFFECTIVE.get(policy_id) if isinstance(policy_id, str) else None
    as_of = case.get("as_of")
    return first is None or not isinstance(as_of, str) or as_of >= first


def _bench_generator() -> Any:
    spec = importlib.util.spec_from_file_location("bench_engine", REPO / "bench" / "engine.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_case


def _hypothesis_cases(count: int) -> list[dict[str, Any]]:
    from hypothesis import HealthCheck, given, settings

    from tests.test_engine_properties import any_valid_case

    found: list[dict[str, Any]] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(any_valid_case())
    def collect(case: dict[str, Any]) -> None:
        found.append(copy.deepcopy(case))

    collect()
    return found


BREAKS: list[tuple[tuple[Any, ...], Any]] = [
    (("as_of",), "2026-02-30"),
    (("as_of",), None),
    (("case_id",), ""),
    (("patient",), None),
    (("patient", "birth_date"), "yesterday"),
    (("coverage", "policy_id"), "no-such-policy"),
    (("coverage", "plan_type"), "gold"),
    (("request", "treatment"), "psilocybin"),
    (("request", "dose_mg"), -5),
    (("request", "dose_mg"), None),
    (("request", "kind"), 3),
    (("request", "start_date"), "2026/01/01"),
    (("diagnoses",), "F33.2"),
    (("medication_trials", 0, "daily_dose_mg"), "lots"),
    (("medication_trials", 0, "outcome"), "maybe"),
    (("medication_trials", 0, "start"), "2099-01-01"),
    (("assessments", 0, "score"), 999),
    (("assessments", 0, "instrument"), "gad7"),
    (("history", "psychosis"), "perhaps"),
    (("suicidality", "documented"), 12),
    (("unexpected",), 1),
]


def _broken(rng: random.Random, case: dict[str, Any]) -> str:
    case = copy.deepcopy(case)
    for path, value in rng.sample(BREAKS, rng.randrange(1, 4)):
        target: Any = case
        for part in path[:-1]:
            listed = isinstance(target, list) and isinstance(part, int) and part < len(target)
            if listed or (isinstance(target, dict) and part in target):
                target = target[part]
            else:
                target = None
                break
        if isinstance(target, dict):
            if value is None and rng.random() < 0.5:
                target.pop(path[-1], None)
            else:
                target[path[-1]] = value
    text = json.dumps(case)
    if rng.random() < 0.05:
        text = text[: rng.randrange(1, len(text))]
    return text


def golden_inputs() -> Iterator[tuple[str, str]]:
    """(source, case text) for every case of the file, in order."""
    for path in sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".expected.json")):
        yield f"example:{path.stem}", path.read_text()
    make_case = _bench_generator()
    rng = random.Random(13)
    kept = 0
    number = 0
    cases: list[dict[str, Any]] = []
    while kept < 10_000:
        case = make_case(rng, number)
        number += 1
        if _dated_in_force(case):
            kept += 1
            cases.append(case)
            yield "bench", json.dumps(case)
    for case in _hypothesis_cases(2_000):
        if _dated_in_force(case):
            yield "property", json.dumps(case)
    breaker = random.Random(14)
    for index in range(300):
        yield "broken", _broken(breaker, cases[index * 7])


def write(checker: Checker, target: Path = GOLDEN) -> int:
    count = 0
    with gzip.open(target, "wt", encoding="utf-8", compresslevel=9) as out:
        for source, text in golden_inputs():
            line = {"source": source, "digest": digest(text), "input": text, "output": output_line(checker, text)}
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
            count += 1
    return count


def read(target: Path = GOLDEN) -> Iterator[dict[str, str]]:
    with gzip.open(target, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


if __name__ == "__main__":
    from coverage.drugs import default_drug_table
    from coverage.policies.loader import load_registry

    written = write(Checker(load_registry(None), default_drug_table()))
    print(f"{written} cases written to {GOLDEN.relative_to(REPO)}", file=sys.stderr)
