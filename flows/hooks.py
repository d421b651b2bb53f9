"""What every flow does at its start and end: note it in the records (``coverage.workflow.runs``).

A flow calls :func:`begin` first; its state hooks note the end. The hooks never raise (a hook's
error would hide the run's own), and write ids, states and error type names only. When the runtime
cannot be built (a document store not writable, a clinic file that does not load) the start and
the end are still noted with the records database alone, so that run shows on the worklist too.
"""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from prefect.context import SyncClientContext
from prefect.logging.handlers import APILogHandler
from prefect.runtime import flow_run
from prefect.states import Failed

from coverage.errors import PriorAuthError
from coverage.workflow import runs
from coverage.workflow.runtime import records_only, run_records, runtime

log = logging.getLogger("coverage.workflow.runs")


def run_id() -> str:
    """This flow run's id (a process's own id outside Prefect's engine)."""
    return str(flow_run.get_id() or "local")


def claimant() -> str:
    """Who holds a sending claim: this flow run (a retry or a re-run after a crash is the same run)."""
    return f"flow-run:{run_id()}"


class RunLogHandler(APILogHandler):
    """Prefect's API log handler for our ``coverage.*`` loggers, inside flow and task runs only."""

    def emit(self, record: logging.LogRecord) -> None:
        from prefect.context import FlowRunContext, TaskRunContext

        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return  # a command's own log line, not a run's
        super().emit(record)


def route_logs() -> None:
    """Send the ``coverage.*`` log lines (ids and counts only) of this process's runs to Prefect's run logs,
    at INFO; they also reach the worker's log through the run's output. Idempotent."""
    logger = logging.getLogger("coverage")
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    if not any(isinstance(h, APILogHandler) for h in logger.handlers):
        logger.addHandler(RunLogHandler())


def begin(flow: str, request_id: int | None = None) -> int:
    """Route our log lines to the run, and note this run's start in the records; past the attempt cap it fails."""
    route_logs()
    try:
        rt = runtime()
    except PriorAuthError:
        _begin_in_the_records_only(flow, request_id)
        raise
    return runs.begin(run_id(), flow, request_id, rt=rt)


def _begin_in_the_records_only(flow: str, request_id: int | None) -> None:
    """Note the start of a run whose runtime cannot be built, so its failure (noted by the hook) is seen."""
    try:
        with records_only() as records:  # the runtime just failed: not built a second time
            runs.begin(run_id(), flow, request_id, rt=records)
    except runs.RunGivenUp:
        pass  # noted; the run fails with the runtime's error either way
    except Exception as error:  # the runtime's own error is the one the run fails with
        log.warning("run %s: its start was not recorded (%s)", run_id(), type(error).__name__)


def _hook(state_name: str) -> Callable[[Any, Any, Any], None]:
    def hook(_flow: Any, run: Any, state: Any) -> None:
        try:
            reason = runs.reason_of(getattr(state, "message", None)) if state_name != "completed" else None
            with run_records() as records:
                runs.end(str(run.id), state_name, rt=records, reason=reason)
        except Exception as error:  # a hook must not hide the run's own outcome
            log.warning("run %s: its end was not recorded (%s)", run.id, type(error).__name__)

    hook.__name__ = f"record_{state_name}"
    return hook


#: The state hooks every flow gets: ``@flow(..., **HOOKS)``.
HOOKS: dict[str, Any] = {
    "on_completion": [_hook("completed")],
    "on_failure": [_hook("failed")],
    "on_crashed": [_hook("crashed")],
}


P = ParamSpec("P")
R = TypeVar("R")


def contained(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A flow body whose errors end the run Failed with a PHI-free message, and nothing pickled.

    Prefect's flow engine pickles a raised exception into its result storage (``PREFECT_HOME/storage``,
    world-readable) even with ``persist_result=False``, and copies its message into the state and its
    events. So the body's exceptions are caught here: the run ends ``Failed`` with the error's type
    (and, for our own errors, their one line, which never holds PHI). Crashes (interrupts, a killed
    process) are not caught: they stay crashes.
    """

    @functools.wraps(fn)
    async def body(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            # One Prefect client for the run's sync tasks: without it each task opens its own (and
            # loads the CA bundle again, ~60 ms a task on this machine).
            with SyncClientContext.get_or_create():
                return await fn(*args, **kwargs)
        except PriorAuthError as error:
            message = f"{type(error).__name__}: {error.lines()[0] if error.lines() else ''}"
        except Exception as error:  # any other error: its type only (its message may quote values)
            message = type(error).__name__
        log.warning("run %s failed: %s", run_id(), message.split(":", 1)[0])
        return Failed(message=message)  # type: ignore[return-value]  # Prefect takes a returned state as the run's

    # The flow's parameter types, resolved where the flow is defined (its module's names, not ours).
    body.__annotations__ = typing.get_type_hints(fn)
    body.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]  # read by Prefect
    del body.__wrapped__  # Prefect reads the signature above, not fn's strings
    return body
