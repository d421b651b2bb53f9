"""Bounded text and identifiers: the limits every case field and every command option obeys.

One place says how long a piece of text may be and which characters it may hold, so the case
models (pydantic) and the commands (typed by staff) refuse the same things:

- no control characters (C0, DEL, C1) and no invisible direction marks or overrides
  (U+200E, U+200F, U+2028-U+202E, U+2066-U+2069): they hide what a name or reason really says,
  and a NUL breaks PostgreSQL;
- every text has a maximum length (:data:`BOUNDS`), every list a maximum number of items;
- a database id is a whole number from 1 to 2,147,483,647 (a 32-bit integer column).
"""

from __future__ import annotations

import re
from typing import Final

from coverage.errors import InvalidInput

#: The characters refused in any text, as a regular-expression class (Python's and Rust's syntax).
FORBIDDEN_CLASS: Final = r"\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069"
#: A whole text without forbidden characters (pydantic's ``pattern``).
CLEAN_TEXT_PATTERN: Final = rf"^[^{FORBIDDEN_CLASS}]*$"
_FORBIDDEN = re.compile(rf"[{FORBIDDEN_CLASS}]")

#: The clinic's reference for a course (``case_id``): letters, digits, ``.``, ``_``, ``-``.
CASE_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_CASE_ID = re.compile(CASE_ID_PATTERN)

#: The largest id a 32-bit integer column holds (PostgreSQL ``integer``).
MAX_ID: Final = 2**31 - 1

#: The most units an answer can carry (mg of J0013 for years of sessions fit well below it).
MAX_UNITS = 100_000

#: Maximum lengths, by kind of text (characters).
BOUNDS: Final[dict[str, int]] = {
    "id": 64,  # patient ids, case ids, policy ids
    "code": 16,  # ICD-10-CM codes
    "short": 40,  # member and group numbers, REMS ids, references, authorization numbers
    "name": 100,  # a given or family name, a drug name
    "actor": 120,  # who made a change (``--by``)
    "title": 200,  # payer, prescriber, setting names, document titles
    "text": 2000,  # reasons, notes, the payer's question
}
#: Maximum number of items in a case's lists.
LIST_BOUNDS: Final[dict[str, int]] = {"diagnoses": 20, "medication_trials": 50, "assessments": 100}
#: The largest case document read from a file or a batch line (bytes).
MAX_CASE_BYTES: Final = 256 * 1024


def text_problem(value: str, *, kind: str = "text") -> str | None:
    """What is wrong with a text of ``kind`` (too long, a forbidden character), or ``None``."""
    limit = BOUNDS[kind]
    if len(value) > limit:
        return f"at most {limit} characters (got {len(value)})"
    if _FORBIDDEN.search(value):
        return "contains a control character or an invisible direction mark"
    return None


def clean_text(field: str, value: str, *, kind: str = "text", required: bool = True) -> str:
    """``value`` stripped, or :class:`InvalidInput` naming ``field`` (empty counts when ``required``)."""
    text = value.strip()
    problem = text_problem(text, kind=kind)
    if problem is None and required and not text:
        problem = "required"
    if problem is not None:
        raise InvalidInput([f"{field}: {problem}"])
    return text


def optional_text(field: str, value: str | None, *, kind: str = "text") -> str | None:
    """Like :func:`clean_text`, but ``None`` or blank is ``None``."""
    if value is None:
        return None
    text = clean_text(field, value, kind=kind, required=False)
    return text or None


def parse_id(field: str, value: str | int) -> int:
    """A database id from 1 to :data:`MAX_ID`, or one line naming ``field``."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidInput([f"{field}: {value!r} is not an id (a whole number)"])
    number = int(text)
    if not 1 <= number <= MAX_ID:
        raise InvalidInput([f"{field}: {text} is not an id (1 to {MAX_ID})"])
    return number


def is_case_id(value: str) -> bool:
    """Whether ``value`` is a valid ``case_id``."""
    return _CASE_ID.fullmatch(value) is not None
