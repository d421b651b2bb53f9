"""Scheduled re-authorization: continuation requests for authorizations near expiry or out of units."""

from __future__ import annotations

import datetime as dt

from prefect import flow, task

from coverage.workflow import renewals as service
from coverage.workflow.runtime import WORKFLOW_ACTOR, runtime


@task(name="authorizations-due-for-renewal", persist_result=False)
def due_for_renewal(as_of: dt.date) -> list[int]:
    rt = runtime()
    return service.due_for_renewal(as_of, uow=rt.uow(), clocks=rt.clocks)


@task(name="draft-continuations", persist_result=False)
def draft_continuations(request_ids: list[int], as_of: dt.date) -> list[service.Continuation]:
    rt = runtime()
    return service.draft_continuations(request_ids, uow=rt.uow(), checker=rt.checker, by=WORKFLOW_ACTOR, as_of=as_of)


@flow(name="renewals", persist_result=False, log_prints=False)
async def renewals(as_of: dt.date | None = None, batch_size: int = 100) -> dict[str, int]:
    """Draft a continuation for every authorization the worklist says is expiring or ended."""
    day = as_of or dt.datetime.now(dt.UTC).date()
    due = due_for_renewal(day)
    drafted = 0
    for start in range(0, len(due), batch_size):
        drafted += len(draft_continuations(due[start : start + batch_size], day))
    return {"due": len(due), "drafted": drafted}
