"""Take in a folder of ``*.json`` cases or a ``.jsonl`` file, in slices: each task reads its own cases."""

from __future__ import annotations

from prefect import flow, task

from coverage.workflow import intake as service
from coverage.workflow.runtime import WORKFLOW_ACTOR, runtime


@task(name="count-cases", persist_result=False)
def count_cases(path: str) -> int:
    return service.count_cases(path)


@task(name="intake-cases", persist_result=False)
def intake_cases(path: str, start: int, stop: int) -> service.IntakeSlice:
    return service.intake_slice(path, start, stop, rt=runtime(), by=WORKFLOW_ACTOR)


@flow(name="intake-batch", persist_result=False, log_prints=False)
async def intake_batch(path: str, batch_size: int = 100) -> dict[str, object]:
    """Validate, store and evaluate every case; returns request ids by status and refused positions."""
    total = count_cases(path)
    statuses: dict[int, str] = {}
    invalid: list[int] = []
    for start in range(0, total, batch_size):
        taken = intake_cases(path, start, min(start + batch_size, total))
        statuses.update(taken.statuses)
        invalid.extend(position for position, _ in taken.invalid)
    return {"cases": total, "requests": statuses, "invalid_positions": invalid}
