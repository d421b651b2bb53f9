"""Prefect automations that bring back runs whose worker died (created by ``priorauth deploy``).

A worker killed with its flow-run process leaves the run ``Running`` forever: Prefect touches no
run when a worker goes offline. Our flow runs send a heartbeat every 30 s
(``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``, set in the deployments' job variables from
``PRIORAUTH_HEARTBEAT_SECONDS``), and two automations per deployment watch them:

- a proactive one: when a run of that deployment sends neither a heartbeat nor a final state for
  90 s (``PRIORAUTH_CRASH_SILENCE_SECONDS``), the run is marked ``Crashed``, with the state name
  :data:`LOST` (a run that reported ``Crashed`` itself stops sending heartbeats too, so it is
  marked the same way);
- a reactive one on that state (its name, so no other crash, such as a worker that cannot start
  the run at all, is retried in a loop): the run is forced back to ``Scheduled``, so a live worker
  runs it again (same run id).

Two automations, not one with two actions: Prefect's actions service runs a firing's actions
concurrently, so ``Scheduled`` could land before ``Crashed`` and leave the run crashed for good
(seen under load). The second automation reacts to the ``Crashed`` event, which exists only once
the first state is set. Nothing in Prefect caps the re-runs; our flows do (a run started more
than :data:`~coverage.workflow.runs.MAX_ATTEMPTS` times fails and shows on the worklist as
``run_failed``), and every flow is idempotent.
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


#: The name of the ``Crashed`` state the silence automation sets (the reschedule automation matches it).
LOST = "Worker lost"


def automation_names(deployment: str) -> tuple[str, str]:
    """The silence automation's name and the reschedule automation's, for one deployment."""
    return f"priorauth: crash silent runs of {deployment}", f"priorauth: reschedule lost runs of {deployment}"


def _former_name(deployment: str) -> str:
    """What earlier versions named their one automation per deployment (replaced on deploy)."""
    return f"priorauth: reschedule dead runs of {deployment}"


def crash_automations(
    deployment: str, deployment_id: str, silence: dt.timedelta = SILENCE
) -> tuple[AutomationCore, AutomationCore]:
    """One deployment's automations: a run silent for ``silence`` is marked Crashed (:data:`LOST`), then
    such a run is scheduled again."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    seconds = f"{silence.total_seconds():g} s"
    of_deployment: dict[str, str | list[str]] = {"prefect.resource.id": f"prefect.deployment.{deployment_id}"}
    silent, lost = automation_names(deployment)
    crash = AutomationCore(
        name=silent,
        description=f"A run of this deployment sent no heartbeat for {seconds}: its worker died. Crash it.",
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related=of_deployment,
            after={"prefect.flow-run.heartbeat"},
            expect=set(ALIVE_OR_DONE),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=silence,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED, name=LOST, force=True, message=f"no heartbeat for {seconds}: worker gone"
            )
        ],
    )
    reschedule = AutomationCore(
        name=lost,
        description="A run of this deployment lost its worker: schedule it again for a live worker.",
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*", "prefect.state-name": LOST},
            match_related=of_deployment,
            expect={f"prefect.flow-run.{LOST}"},  # a state event is named after the state's name
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=dt.timedelta(0),
        ),
        actions=[ChangeFlowRunState(state=StateType.SCHEDULED, force=True, message="rescheduled after a crash")],
    )
    return crash, reschedule


async def ensure_crash_automations(deployments: tuple[str, ...], silence: dt.timedelta = SILENCE) -> list[str]:
    """Each deployment's two automations, replacing any of the same names; the flows covered."""
    from prefect.client.orchestration import get_client

    made: list[str] = []
    async with get_client() as client:
        for deployment in deployments:
            found = await client.read_deployment_by_name(deployment)
            for name in (*automation_names(deployment), _former_name(deployment)):
                for old in await client.read_automations_by_name(name):
                    await client.delete_automation(old.id)
            for automation in crash_automations(deployment, str(found.id), silence):
                await client.create_automation(automation)
            made.append(deployment.split("/", maxsplit=1)[0])
    return made
