"""Take in a folder of ``*.json`` cases or a ``.jsonl`` file, in slices: each task reads its own cases."""

from __future__ import annotations

from prefect import flow, task
from prefect.client.schemas.objects import State
from prefect.states import Completed, Failed

from coverage.workflow import intake as service
from coverage.workflow.runtime import WORKFLOW_ACTOR, runtime
from flows.hooks import HOOKS, begin, contained  # the project root is on sys.path wherever flows run


@task(name="count-cases", persist_result=False)
def count_cases(path: str) -> int:
    return service.count_cases(path)


@task(name="intake-cases", persist_result=False)
def intake_cases(path: str, start: int, stop: int) -> service.IntakeSlice:
    return service.intake_slice(path, start, stop, rt=runtime(), by=WORKFLOW_ACTOR)


@flow(name="intake-batch", persist_result=False, log_prints=False, **HOOKS)
@contained
async def intake_batch(path: str, batch_size: int = 100) -> State[dict[str, int]]:
    """Validate, store and evaluate every case; Failed when any case was refused (counts only in the result;
    each refused case's position and fields at fault are in the run's logs)."""
    begin("intake-batch")
    total = count_cases(path)
    counts = {"cases": total, "taken": 0, "refused": 0}
    for start in range(0, total, batch_size):
        taken = intake_cases(path, start, min(start + batch_size, total))
        counts["taken"] += len(taken.statuses)
        counts["refused"] += len(taken.invalid)
    if counts["refused"]:
        message = f"{counts['refused']} of {total} cases refused; their positions are in the run's logs"
        return Failed(message=message, data=counts)
    return Completed(message=f"{counts['taken']} cases taken in", data=counts)
