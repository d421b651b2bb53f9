"""Prefect automations that bring back runs whose worker died (created by ``priorauth deploy``).

A worker killed with its flow-run process leaves the run ``Running`` forever: Prefect touches no
run when a worker goes offline. Our flow runs send a heartbeat every 30 s
(``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``, set in the deployments' job variables from
``PRIORAUTH_HEARTBEAT_SECONDS``), and one proactive automation per deployment watches them: when a
run of that deployment sends neither a heartbeat nor a final state for 90 s
(``PRIORAUTH_CRASH_SILENCE_SECONDS``), the run is marked ``Crashed`` and then forced back to ``Scheduled``, so
a live worker runs it again (same run id). A run that reported ``Crashed`` itself stops sending
heartbeats too, so the same automation reschedules it.

One automation does both, on purpose: a second one chained on ``Crashed`` fired late after a
server restart and twice for one run. Nothing in Prefect caps the re-runs; our flows do (a run
started more than :data:`~coverage.workflow.runs.MAX_ATTEMPTS` times fails and shows on the
worklist as ``run_failed``), and every flow is idempotent.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.events.schemas.automations import AutomationCore

#: The deployments ``deployments/prefect.yaml`` makes, as ``flow name/deployment name``.
DEPLOYMENTS = (
    "prior-authorization/prior-authorization",
    "check-status/check-status",
    "denial-fallback/denial-fallback",
    "renewals/renewals",
    "intake-batch/intake-batch",
)
#: How long a run may go without a heartbeat by default (three 30 s beats; ``PRIORAUTH_CRASH_SILENCE_SECONDS``).
SILENCE = dt.timedelta(seconds=90)
#: Events that show a run is alive or done (``Crashed`` is left out: a crashed run is rescheduled).
ALIVE_OR_DONE = frozenset(
    {
        "prefect.flow-run.heartbeat",
        "prefect.flow-run.Completed",
        "prefect.flow-run.Failed",
        "prefect.flow-run.Cancelled",
        "prefect.flow-run.Cancelling",
        "prefect.flow-run.Paused",
    }
)


def automation_name(deployment: str) -> str:
    return f"priorauth: reschedule dead runs of {deployment}"


def crash_automation(deployment: str, deployment_id: str, silence: dt.timedelta = SILENCE) -> AutomationCore:
    """The automation for one deployment: runs silent for ``silence`` are marked Crashed, then Scheduled again."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    seconds = f"{silence.total_seconds():g} s"
    return AutomationCore(
        name=automation_name(deployment),
        description=(
            f"A run of this deployment sent no heartbeat for {seconds}: its worker died. Crash it, run it again."
        ),
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.id": f"prefect.deployment.{deployment_id}"},
            after={"prefect.flow-run.heartbeat"},
            expect=set(ALIVE_OR_DONE),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=silence,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED, force=True, message=f"no heartbeat for {seconds}: the worker is gone"
            ),
            ChangeFlowRunState(state=StateType.SCHEDULED, force=True, message="rescheduled after a crash"),
        ],
    )


async def ensure_crash_automations(deployments: tuple[str, ...], silence: dt.timedelta = SILENCE) -> list[str]:
    """One crash automation per deployment, replacing any of the same name; the names made."""
    from prefect.client.orchestration import get_client

    made: list[str] = []
    async with get_client() as client:
        for deployment in deployments:
            found = await client.read_deployment_by_name(deployment)
            name = automation_name(deployment)
            for old in await client.read_automations_by_name(name):
                await client.delete_automation(old.id)
            automation = crash_automation(deployment, str(found.id), silence)
            await client.create_automation(automation)
            made.append(deployment.split("/", maxsplit=1)[0])
    return made
