"""Golden HTML per template: the rendered HTML of each document kind, compared byte for byte.

Every document is dated ``DATED`` so the files do not change with the day the tests run.
Regenerate after an intended template change with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_letters_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coverage.letters import render_html
from coverage.policies.service import Checker
from tests.test_letters_support import DATED, GOLDEN_CASES, inputs_for

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize(("name", "example", "kind", "options"), GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_template_renders_its_golden_html(
    checker: Checker, name: str, example: str, kind: str, options: object
) -> None:
    from coverage.letters import LetterOptions

    assert isinstance(options, LetterOptions)
    inputs = inputs_for(checker, example)
    html, _, _ = render_html(
        kind,
        case=inputs.case,
        determination=inputs.determination,
        clinic=inputs.clinic,
        policy=inputs.policy,
        options=options,
        dated=DATED,
    )
    golden = GOLDEN / f"{name}.html"
    if UPDATE:
        golden.write_text(html, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}; run with UPDATE_GOLDEN=1"
    assert html == golden.read_text(encoding="utf-8")


def test_every_template_has_a_golden_case() -> None:
    shipped = {p.stem for p in (Path(__file__).resolve().parents[1] / "templates" / "letters").glob("*.html")}
    drawn = {name for name, *_ in GOLDEN_CASES}
    assert {name for name in shipped if not name.startswith(("_", "base"))} <= drawn
