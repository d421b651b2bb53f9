"""The case form: every field of the case format, read into a case document and written back.

Field names are the case format's paths (``request.dose_mg``, ``medication_trials[1].end``), so a
problem reported by the case models (``path: problem``) lands next to its field. Typed values are
turned into JSON types here (a number, a yes/no); whether they are right is left to the models.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from coverage.cases import (
    ESKETAMINE_DOSES,
    INSTRUMENT_LABELS,
)
from coverage.errors import InvalidInput
from coverage.fields import MAX_ID

YES_NO: Final = (("", "not recorded"), ("true", "yes"), ("false", "no"))


@dataclass(frozen=True, slots=True)
class Field:
    """One input of the form: its path in the case, label, kind and choices."""

    name: str  # the last part of the path
    label: str
    kind: str = "text"  # text, date, int, float, bool, choice
    choices: tuple[tuple[str, str], ...] = ()
    required: bool = False
    hint: str = ""


def _choices(*values: str) -> tuple[tuple[str, str], ...]:
    return (("", "—"), *((v, v.replace("_", " ")) for v in values))


#: The form's sections: (title, path prefix, fields). Lists are below.
SECTIONS: Final[tuple[tuple[str, str, tuple[Field, ...]], ...]] = (
    (
        "Case",
        "",
        (
            Field("case_id", "Case id", required=True, hint="letters, digits, . _ - (no spaces)"),
            Field("as_of", "Facts gathered on", "date", required=True),
            Field("episode_start", "Episode start", "date"),
        ),
    ),
    (
        "Patient",
        "patient",
        (
            Field("id", "Patient id (MRN)", required=True),
            Field("given_name", "Given name"),
            Field("family_name", "Family name"),
            Field("birth_date", "Date of birth", "date"),
            Field("sex", "Sex", "choice", _choices("female", "male", "other", "unknown")),
            Field("pregnant", "Pregnant", "bool", YES_NO),
        ),
    ),
    (
        "Coverage",
        "coverage",
        (
            Field("plan_type", "Plan type", "choice", _choices("commercial", "medicare", "medicaid", "self_pay"), True),
            Field("policy_id", "Payer policy", "choice"),
            Field("payer_name", "Payer name"),
            Field("member_id", "Member id"),
            Field("group_number", "Group number"),
            Field("out_of_network_benefits", "Out-of-network benefits", "bool", YES_NO),
            Field("account_type", "HSA/FSA", "choice", _choices("hsa", "fsa")),
        ),
    ),
    (
        "Request",
        "request",
        (
            Field("treatment", "Treatment", "choice", _choices("esketamine", "iv_ketamine"), True),
            Field("indication", "Indication", "choice", _choices("trd", "mdsi"), True),
            Field("kind", "Kind", "choice", _choices("initial", "continuation"), True),
            Field(
                "dose_mg",
                "Esketamine dose (mg)",
                "int",
                (("", "—"), *((str(d), f"{d} mg") for d in ESKETAMINE_DOSES)),
            ),
            Field("start_date", "Requested start", "date"),
            Field("therapy_start", "Therapy started (continuation)", "date"),
            Field("patient_rems_enrolled", "Patient enrolled in REMS", "bool", YES_NO),
        ),
    ),
    (
        "Prescriber",
        "request.prescriber",
        (
            Field("npi", "NPI"),
            Field("name", "Name"),
            Field(
                "specialty",
                "Specialty",
                "choice",
                _choices("psychiatry", "psychiatric_nurse_practitioner", "primary_care", "other"),
            ),
        ),
    ),
    (
        "Treatment setting",
        "request.setting",
        (
            Field("name", "Name"),
            Field("rems_certified", "REMS certified", "bool", YES_NO),
            Field("rems_id", "REMS id"),
        ),
    ),
    (
        "Safety screen: history",
        "history",
        (
            Field("aneurysmal_vascular_disease", "Aneurysmal vascular disease", "bool", YES_NO),
            Field("arteriovenous_malformation", "Arteriovenous malformation", "bool", YES_NO),
            Field("intracerebral_hemorrhage", "Intracerebral hemorrhage", "bool", YES_NO),
            Field("ketamine_hypersensitivity", "Ketamine hypersensitivity", "bool", YES_NO),
            Field("uncontrolled_hypertension", "Uncontrolled hypertension", "bool", YES_NO),
            Field("psychosis", "Psychosis", "bool", YES_NO),
            Field("psychosis_benefit_outweighs_risk", "Psychosis: benefit outweighs risk", "bool", YES_NO),
            Field(
                "substance_use_disorder",
                "Substance use disorder",
                "choice",
                _choices("none", "active", "in_remission", "in_treatment"),
            ),
        ),
    ),
    (
        "Safety screen: suicidality",
        "suicidality",
        (
            Field("acute_ideation_or_behavior", "Acute ideation or behavior", "bool", YES_NO),
            Field("documented", "Documented on", "date"),
        ),
    ),
)

#: Repeating rows: (title, list name, fields).
LISTS: Final[tuple[tuple[str, str, tuple[Field, ...]], ...]] = (
    (
        "Diagnoses",
        "diagnoses",
        (Field("code", "ICD-10 code", required=True), Field("recorded", "Recorded", "date")),
    ),
    (
        "Medication trials",
        "medication_trials",
        (
            Field("drug", "Drug", required=True),
            Field("daily_dose_mg", "Daily dose (mg)", "float", required=True),
            Field("start", "Start", "date", required=True),
            Field("end", "End", "date"),
            Field(
                "outcome",
                "Outcome",
                "choice",
                _choices("inadequate_response", "partial_response", "response", "intolerance", "unknown"),
                True,
            ),
            Field("improvement_pct", "Improvement %", "float"),
            Field("role", "Role", "choice", _choices("antidepressant", "augmentation"), True),
        ),
    ),
    (
        "Scores",
        "assessments",
        (
            Field(
                "instrument",
                "Instrument",
                "choice",
                (("", "—"), *INSTRUMENT_LABELS.items()),
                True,
            ),
            Field("score", "Score", "int", required=True),
            Field("date", "Date", "date", required=True),
        ),
    ),
)

_ROW = re.compile(r"^(diagnoses|medication_trials|assessments)\[(\d{1,3})\]\.([a-z_]+)$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _typed(kind: str, text: str) -> Any:
    """A typed form value as JSON would carry it; text that is not a number stays text (the models say so)."""
    if kind == "int":
        return int(text) if re.fullmatch(r"-?\d{1,9}", text) else text
    if kind == "float":
        return float(text) if _NUMBER.fullmatch(text) and len(text) < 20 else text
    if kind == "bool":
        return {"true": True, "false": False}.get(text, text)
    return text


def _put(document: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    target = document
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def rows_in(form: Mapping[str, str]) -> dict[str, int]:
    """How many rows of each list the form holds (the highest index given, plus one)."""
    counts = {name: 0 for _, name, _ in LISTS}
    for key in form:
        found = _ROW.match(key)
        if found:
            counts[found[1]] = max(counts[found[1]], int(found[2]) + 1)
    return counts


def case_document(form: Mapping[str, str]) -> dict[str, Any]:
    """The case document a filled form stands for (blank inputs left out, blank rows dropped)."""
    document: dict[str, Any] = {}
    for _, prefix, fields in SECTIONS:
        for field in fields:
            text = (form.get(path(prefix, field.name)) or "").strip()
            if text:
                _put(document, path(prefix, field.name), _typed(field.kind, text))
    counts = rows_in(form)
    for _, name, fields in LISTS:
        rows = []
        for index in range(min(counts[name], 200)):
            row = {}
            for field in fields:
                text = (form.get(f"{name}[{index}].{field.name}") or "").strip()
                if text:
                    row[field.name] = _typed(field.kind, text)
            if row:
                rows.append(row)
        if rows:
            document[name] = rows
    return document


def form_values(document: Mapping[str, Any]) -> dict[str, str]:
    """The form's inputs filled from a case document (for an uploaded case)."""
    values: dict[str, str] = {}

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return "" if value is None else str(value)

    for _, prefix, fields in SECTIONS:
        for field in fields:
            target: Any = document
            for part in path(prefix, field.name).split("."):
                target = target.get(part) if isinstance(target, Mapping) else None
            if target is not None:
                values[path(prefix, field.name)] = text(target)
    for _, name, fields in LISTS:
        rows = document.get(name)
        for index, row in enumerate(rows if isinstance(rows, list) else []):
            for field in fields:
                if isinstance(row, Mapping) and row.get(field.name) is not None:
                    values[f"{name}[{index}].{field.name}"] = text(row[field.name])
    return values


def field_label(where: str) -> str | None:
    """The form's label of a case path (``patient.birth_date`` → ``Patient: Birth date``), or ``None``."""
    for title, prefix, fields in SECTIONS:
        for f in fields:
            if path(prefix, f.name) == where:
                return f"{title}: {f.label}" if prefix else f.label
    row = _ROW.match(where)
    if row:
        for title, name, fields in LISTS:
            if name == row[1]:
                label = next((f.label for f in fields if f.name == row[3]), row[3].replace("_", " "))
                return f"{title} row {int(row[2]) + 1}: {label}"
    return None


def human(line: str) -> str:
    """A problem line with the field's label instead of its path, where the form has the field."""
    where, sep, what = line.partition(": ")
    label = field_label(where) if sep else None
    return f"{label}: {what}" if label else line


def field_names(form: Mapping[str, str]) -> list[str]:
    """Every input's name in a form with as many rows as ``form`` has (at least one per list)."""
    names = [path(prefix, f.name) for _, prefix, fields in SECTIONS for f in fields]
    counts = rows_in(form)
    for _, name, fields in LISTS:
        for index in range(max(1, min(counts[name], 200))):
            names += [f"{name}[{index}].{f.name}" for f in fields]
    return names


def problems_by_field(problems: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """``path: problem`` lines by field path; the lines that name no field of the form."""
    known = {path(prefix, f.name) for _, prefix, fields in SECTIONS for f in fields}
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for line in problems:
        where, _, what = line.partition(": ")
        row = _ROW.match(where)
        if where in known or row:
            by_field.setdefault(where, []).append(what)
        elif where in ("patient", "coverage", "request") or where.startswith(
            ("diagnoses", "medication_trials", "assessments")
        ):
            by_field.setdefault(where, []).append(what)
            other.append(line)
        else:
            other.append(line)
    return by_field, other


# --- small typed inputs of the action forms (one line naming the field, like the CLI's options) ----


def form_date(field: str, value: str | None, *, required: bool = False) -> dt.date | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput([f"{field}: required"])
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidInput([f"{field}: {text!r} is not a date (YYYY-MM-DD)"])


def form_count(field: str, value: str | None, *, low: int = 1, high: int = MAX_ID) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        raise InvalidInput([f"{field}: {text!r} is not a whole number"])
    number = int(text)
    if not low <= number <= high:
        raise InvalidInput([f"{field}: must be {low} to {high}"])
    return number


_PLAIN_AMOUNT = re.compile(r"\d{1,9}(\.\d{1,2})?|\.\d{1,2}", re.ASCII)


def form_amount(field: str, value: str | None) -> Decimal:
    """A plain amount received or given back, like 600.00 (``1e3`` and ``1,000`` are refused): the ledger's rule."""
    from coverage.payments.account import check_amount

    text = (value or "").strip()
    if not _PLAIN_AMOUNT.fullmatch(text):
        raise InvalidInput([f"{field}: not an amount: {text[:20]!r} (write it like 600.00)"])
    return check_amount(Decimal(text), field)


def form_money(field: str, value: str | None) -> Decimal:
    """An amount like 600.00: positive, whole cents (the plans' own rule)."""
    from coverage.payments.plans import term_problems

    text = (value or "").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or len(text) > 15:
        raise InvalidInput([f"{field}: not an amount: {text!r} (write it like 600.00)"])
    problems = [f"{field}: {problem}" for where, problem in term_problems(amount, 1) if where == "total"]
    if problems:
        raise InvalidInput(problems)
    return amount


def form_id(field: str, value: str | None) -> int:
    number = form_count(field, value)
    if number is None:
        raise InvalidInput([f"{field}: required"])
    return number
