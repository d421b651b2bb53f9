"""What to do after a denial: appeal, the other treatment, or a payment plan (pure).

An appeal is worth drafting when the payer's stated reason is answered by documentation we
hold: every criterion the reason disputes is ``met`` in our determination. A reason is read by
its code (the sandbox's and most payers' coded reasons) or, for a reason typed in by staff, by
the words it uses. Otherwise, or after a final denial, the request falls back: the other
treatment is suggested when it meets the policy's criteria, and a payment plan is offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from coverage.determinations import Determination

Action = Literal["appeal", "fall_back"]

#: Coded denial reasons and the criteria each one disputes; ``None`` disputes every criterion.
REASON_CODES: dict[str, tuple[str, ...] | None] = {
    "D01": ("failed_trials", "augmentation_trials"),
    "D02": None,
    "D03": (),  # not a covered benefit: no documentation answers it
}

#: Words in a free-text reason and the criteria they point at (checked in this order).
REASON_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"not a covered benefit|not covered|exclu|investigational|experimental", ()),
    (r"trial|antidepressant|adequate dose|duration|failure|failed", ("failed_trials", "augmentation_trials")),
    (r"augment", ("augmentation_trials",)),
    (r"severity|score|phq|madrs|ham-?d|rating", ("severity",)),
    (r"rems|enrol|certif", ("rems",)),
    (r"prescrib|psychiatr|specialist", ("prescriber",)),
    (r"diagnos|icd", ("diagnosis",)),
    (r"response|improvement|continuation", ("response",)),
    (r"suicid", ("suicidality",)),
    (r"concurrent|oral antidepressant", ("concurrent_antidepressant",)),
)


@dataclass(frozen=True, slots=True)
class Fallback:
    """The next move after a denial, and why; falling back always offers a payment plan."""

    action: Action
    disputed: tuple[str, ...]
    reason: str
    alternative_treatment: str | None = None


def disputed_criteria(reason_code: str | None, reason: str | None, determination: Determination) -> tuple[str, ...]:
    """The criteria a denial reason disputes (all of them when the reason names none we know)."""
    every = tuple(c.id for c in determination.criteria if c.id != "coverage")
    if reason_code and reason_code.upper() in REASON_CODES:
        named = REASON_CODES[reason_code.upper()]
        return every if named is None else named
    text = (reason or "").lower()
    found: list[str] = []
    for pattern, criteria in REASON_WORDS:
        if re.search(pattern, text):
            if not criteria:
                return ()
            found.extend(c for c in criteria if c not in found)
    return tuple(found) if found else every


def decide_fallback(
    determination: Determination, *, reason_code: str | None, reason: str | None, final: bool
) -> Fallback:
    """Appeal when our documentation answers the reason and the denial is not final; else fall back."""
    if not final and determination.outcome in ("meets_criteria", "no_pa_required"):
        disputed = disputed_criteria(reason_code, reason, determination)
        held = {c.id: c.status for c in determination.criteria}
        answered = [c for c in disputed if held.get(c) == "met"]
        if disputed and len(answered) == len([c for c in disputed if c in held]) and answered:
            return Fallback("appeal", tuple(answered), "our documentation meets every criterion the denial disputes")
    alternative = next(
        (a for a in determination.alternatives if a.outcome in ("meets_criteria", "no_pa_required")), None
    )
    why = "final denial" if final else "the denial is not answered by the documentation we hold"
    if alternative is not None:
        why += f"; {alternative.treatment} meets the policy's criteria"
        return Fallback("fall_back", (), why + "; payment plan offered", alternative.treatment)
    return Fallback("fall_back", (), why + "; no covered alternative; payment plan offered")
