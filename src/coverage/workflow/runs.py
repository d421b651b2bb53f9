"""Our flow runs in the records: a start and an end per run, so a failed or crashed run is seen.

Each flow notes its start (:func:`begin`: a run started again after a crash counts one more
attempt; past :data:`MAX_ATTEMPTS` it is given up, since nothing in Prefect caps the automation's
re-runs) and its end (the flows' state hooks call :func:`end`). A request's latest run that failed,
crashed, or has been running without an end for :data:`coverage.worklist.RUN_STALE` shows on the worklist as
``run_failed``. Only ids, states and error type names are written: never a message that could
quote a value.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Protocol

from coverage.errors import PriorAuthError

if TYPE_CHECKING:
    from coverage.services.context import Context
    from coverage.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: How many times one flow run may start (a first start and two re-runs after crashes).
MAX_ATTEMPTS = 3
#: The states :func:`end` records.
ENDS = frozenset({"completed", "failed", "crashed"})
_ERROR_TYPE = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:Error|Exception|Exit|Interrupt|GivenUp))\b")


class RunRecords(Protocol):
    """What notes a run: a unit of work on the records and the clock (a ``Runtime``, or the records alone)."""

    @property
    def ctx(self) -> Context: ...

    def uow(self) -> UnitOfWork: ...


class RunGivenUp(PriorAuthError):
    """A flow run that crashed too often: it stays on the worklist for a person."""


def begin(flow_run_id: str, flow: str, request_id: int | None, *, rt: RunRecords) -> int:
    """Note a run's start; the attempt number. Raises :class:`RunGivenUp` past :data:`MAX_ATTEMPTS`."""
    with rt.uow() as uow:
        attempts = uow.runs.started(flow_run_id, flow, request_id, rt.ctx.when().now)
        uow.commit()
    if attempts > MAX_ATTEMPTS:
        raise RunGivenUp(f"run started {attempts} times: given up after {MAX_ATTEMPTS} attempts (see the worklist)")
    if attempts > 1:
        log.warning("%s run %s: attempt %s", flow, flow_run_id, attempts)
    return attempts


def reason_of(message: str | None) -> str | None:
    """The error's type name in a state message (``ConfigurationError``), never the message itself."""
    if not message:
        return None
    found = _ERROR_TYPE.search(message)
    return found.group(1) if found else None


def end(flow_run_id: str, state: str, *, rt: RunRecords, reason: str | None = None) -> None:
    """Note a run's end: ``completed``, ``failed`` or ``crashed``."""
    if state not in ENDS:
        raise ValueError(state)
    with rt.uow() as uow:
        uow.runs.ended(flow_run_id, state, rt.ctx.when().now, reason[:200] if reason else None)
        uow.commit()
