"""After a denial, or for a case that is not covered: draft the appeal, or suggest the other treatment
and offer a payment plan (``coverage.workflow.denials``)."""

from __future__ import annotations

from prefect import flow, task

from coverage.workflow import denials
from coverage.workflow.runtime import WORKFLOW_ACTOR, runtime
from flows.hooks import HOOKS, begin, contained  # the project root is on sys.path wherever flows run


@task(name="denial-fallback", persist_result=False)
def fall_back(request_ids: list[int]) -> list[denials.FallbackResult]:
    return denials.handle_denials(request_ids, rt=runtime(), by=WORKFLOW_ACTOR)


@flow(name="denial-fallback", persist_result=False, log_prints=False, **HOOKS)
@contained
async def denial_fallback(request_id: int) -> dict[str, object]:
    """Appeal when our documentation answers the denial; else the alternative and a payment plan."""
    begin("denial-fallback", request_id)
    result = fall_back([request_id])[0]
    return {
        "request_id": request_id,
        "action": result.action,
        "status": result.status,
        "alternative_treatment": result.alternative_treatment,
        "appeal_letter": result.appeal_letter,
    }
