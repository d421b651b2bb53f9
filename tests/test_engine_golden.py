"""Every determination stays byte-identical to the golden file (``tests/engine_golden.py``).

The file holds the engine's outputs from before it was compiled for speed: the shared
examples, 10,000 random cases, property-test cases and a few hundred broken ones.
"""

from __future__ import annotations

from coverage.policies.service import Checker
from tests.engine_golden import digest, output_line, read


def test_every_golden_output_is_reproduced_byte_for_byte(checker: Checker) -> None:
    differing: list[str] = []
    count = 0
    for line in read():
        count += 1
        assert digest(line["input"]) == line["digest"]
        if output_line(checker, line["input"]) != line["output"]:
            differing.append(f"{line['source']} {line['digest']}")
    assert count > 11_000
    assert differing == []


def test_the_golden_file_covers_every_outcome_and_errors() -> None:
    outputs = [line["output"] for line in read()]
    for outcome in (
        "meets_criteria",
        "does_not_meet_criteria",
        "missing_documentation",
        "no_pa_required",
        "not_covered",
    ):
        assert any(f'"outcome":"{outcome}"' in o for o in outputs), outcome
    assert sum('"errors":' in o for o in outputs) >= 250
