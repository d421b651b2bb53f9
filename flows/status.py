"""Scheduled status checks: every request with the payer that is due for a check, asked about in batches.

One flow run per schedule tick; each task covers a batch of up to ``batch_size`` requests (no
task or subflow per request), their answers applied in one unit of work. Answers get the
patient's notice, denials the fallback (appeal or self-pay), and overdue answers a follow-up
listed in an artifact, by request id.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, task
from prefect.artifacts import acreate_markdown_artifact

from coverage.services import requests as services
from coverage.workflow import exchange
from coverage.workflow.runtime import WORKFLOW_ACTOR, runtime
from flows.fallback import fall_back  # the project root is on sys.path wherever flows run
from flows.hooks import HOOKS, begin, contained

#: Requests asked about, and answered, per batch: one unit of work each. Each task costs Prefect
#: about as much time as thirty to sixty answers (``bench/status_checks.py``), so batches are large;
#: a clerk's write to a request in a batch waits at most for the batch's write and commit (under a second).
BATCH_SIZE = 1000


@task(name="ask-payers", persist_result=False, retries=2, retry_delay_seconds=2)
def ask_payers(started: dt.datetime, batch_size: int, recheck_minutes: int) -> exchange.CheckOutcome:
    """The next batch due for a check, asked about (one task: finding the batch is part of asking)."""
    return exchange.check_due(
        started, rt=runtime(), by=WORKFLOW_ACTOR, limit=batch_size, min_interval=dt.timedelta(minutes=recheck_minutes)
    )


@task(name="decision-notices", persist_result=False)
def decision_notices(request_ids: list[int]) -> int:
    return len(exchange.decision_notices(request_ids, rt=runtime()))


@task(name="follow-up-overdue", persist_result=False)
def follow_up(request_ids: list[int]) -> list[int]:
    rt = runtime()
    return services.follow_up(request_ids, uow=rt.uow(), ctx=rt.ctx, by=WORKFLOW_ACTOR)


@flow(name="check-status", persist_result=False, log_prints=False, **HOOKS)
@contained
async def check_status(
    batch_size: int = BATCH_SIZE, recheck_minutes: int = 240, max_batches: int = 500
) -> dict[str, int]:
    """Ask the payers about every request awaiting an answer and not checked in ``recheck_minutes``."""
    begin("check-status")
    started = dt.datetime.now(dt.UTC)
    totals = {"checked": 0, "approved": 0, "denied": 0, "pended": 0, "appeals": 0, "fallbacks": 0, "overdue": 0}
    overdue: list[int] = []
    for _ in range(max_batches):
        outcome = ask_payers(started, batch_size, recheck_minutes)
        if not outcome.due:
            break
        answered = [*outcome.decided, *outcome.pended]
        if answered:
            decision_notices(answered)
        if outcome.denied:
            results = fall_back(outcome.denied)
            totals["appeals"] += sum(r.action == "appeal" for r in results)
            totals["fallbacks"] += sum(r.action == "fall_back" for r in results)
        if outcome.overdue:
            overdue.extend(follow_up(outcome.overdue))
        totals["checked"] += len(outcome.checked)
        totals["approved"] += len(outcome.approved)
        totals["denied"] += len(outcome.denied)
        totals["pended"] += len(outcome.pended)
    totals["overdue"] = len(overdue)
    if overdue:
        await acreate_markdown_artifact(
            key="overdue-answers",
            markdown="### Payer answers overdue: call the payer\n\n" + "\n".join(f"- request {i}" for i in overdue),
            description="Requests whose payer answer is overdue (ids only).",
        )
    return totals
