"""Plain one-line problems for policy and billing files, from pydantic's and YAML's errors."""

from __future__ import annotations

import yaml
from pydantic import ValidationError

from coverage.cases import format_loc


def yaml_problem(error: Exception) -> str:
    """``not valid YAML: line L, column C: what`` (never the parser's ``"<byte string>"``)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        what = " ".join(part for part in (error.context, error.problem) if part)
        text = f"line {mark.line + 1}, column {mark.column + 1}: {what}"
    else:
        text = str(error).replace('in "<byte string>", ', "").replace('in "<unicode string>", ', "")
    return f"not valid YAML: {' '.join(text.split())}"


def _message(item: dict[str, object]) -> str:
    kind = item["type"]
    context = item.get("ctx")
    ctx = context if isinstance(context, dict) else {}
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "union_tag_invalid":
        field = str(ctx.get("discriminator", "id")).strip("'")
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        return f"unknown {field} {ctx.get('tag')!r} (expected one of: {expected})"
    if kind == "union_tag_not_found":
        return f"no {str(ctx.get('discriminator', 'id')).strip(chr(39))}: say which criterion this is"
    return str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def validation_problems(error: ValidationError, source: str, whole: str) -> list[str]:
    """``source: field.path: problem`` per error; ``whole`` names the file's top level (``policy``)."""
    problems = []
    for item in error.errors(include_url=False):
        loc = [part for part in item["loc"] if not (isinstance(part, str) and part.startswith("function-"))]
        where = format_loc(loc) if loc else whole
        if not where.isprintable():  # an unknown key may hold anything: never print it raw
            where = repr(where)
        problems.append(f"{source}: {where}: {' '.join(_message(dict(item)).split())}")
    return problems
