"""Taking in a folder of ``*.json`` cases or a ``.jsonl`` file, a slice at a time.

The flow passes the path and a slice (start, stop) only: each task reads its own cases, so no
case crosses the orchestration boundary. A case that does not validate is reported by its
position and the fields at fault, never its values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from coverage.errors import InvalidInput, PriorAuthError
from coverage.services import requests as services
from coverage.workflow.runtime import Runtime

log = logging.getLogger(__name__)


def _source(path: Path) -> Path:
    if not path.exists():
        raise InvalidInput([f"path: {path} does not exist"])
    if not (path.is_dir() or path.suffix == ".jsonl"):
        raise InvalidInput([f"path: {path} is neither a folder of .json cases nor a .jsonl file"])
    return path


def _items(path: Path) -> Iterator[bytes]:
    if path.is_dir():
        for file in sorted(path.glob("*.json")):
            if not file.name.endswith(".expected.json"):
                yield file.read_bytes()
        return
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield line


def count_cases(path: str) -> int:
    """How many cases the folder or ``.jsonl`` file holds."""
    return sum(1 for _ in _items(_source(Path(path))))


@dataclass(slots=True)
class IntakeSlice:
    """What a slice of cases became: request ids by status, and the positions that failed."""

    request_ids: list[int] = field(default_factory=list)
    statuses: dict[int, str] = field(default_factory=dict)
    invalid: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)


def _fields(error: PriorAuthError) -> tuple[str, ...]:
    """The fields an error names (the part before each ``:``), without the values it quotes."""
    return tuple(sorted({line.split(":", 1)[0].strip() for line in error.lines()}))


def intake_slice(path: str, start: int, stop: int, *, rt: Runtime, by: str) -> IntakeSlice:
    """Intake the cases at positions ``start`` to ``stop - 1``; one bad case does not stop the others."""
    result = IntakeSlice()
    for position, raw in enumerate(islice(_items(_source(Path(path))), start, stop), start=start):
        try:
            taken = services.intake(raw, uow=rt.uow(), checker=rt.checker, ctx=rt.ctx, by=by)
        except PriorAuthError as error:
            result.invalid.append((position, _fields(error)))
            log.warning("intake: case at position %s refused (%s)", position, ", ".join(_fields(error)))
            continue
        result.request_ids.append(taken.request_id)
        result.statuses[taken.request_id] = taken.status
    return result
