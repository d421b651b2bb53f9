"""Scheduled re-authorization: continuation requests for authorizations near expiry, out of units or ended."""

from __future__ import annotations

import datetime as dt

from prefect import flow, task

from coverage.workflow import renewals as service
from coverage.workflow.runtime import WORKFLOW_ACTOR, runtime
from flows.hooks import HOOKS, begin, contained  # the project root is on sys.path wherever flows run


@task(name="authorizations-due-for-renewal", persist_result=False)
def due_for_renewal(as_of: dt.date | None) -> list[int]:
    rt = runtime()
    return service.due_for_renewal(as_of or rt.ctx.today(), rt=rt)


@task(name="draft-continuations", persist_result=False)
def draft_continuations(request_ids: list[int]) -> list[service.Continuation]:
    return service.draft_continuations(request_ids, rt=runtime(), by=WORKFLOW_ACTOR)


@flow(name="renewals", persist_result=False, log_prints=False, **HOOKS)
@contained
async def renewals(as_of: dt.date | None = None, batch_size: int = 100) -> dict[str, int]:
    """A continuation for every authorization the worklist says is expiring or ended (as of the clinic's today)."""
    begin("renewals")
    due = due_for_renewal(as_of)
    drafted = 0
    for start in range(0, len(due), batch_size):
        drafted += len(draft_continuations(due[start : start + batch_size]))
    return {"due": len(due), "drafted": drafted}
