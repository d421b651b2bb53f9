"""Send one request to its payer: re-evaluate today, make the documents, then a gateway or a person sends it.

Staff start it for a request id (a ready request, a pended one whose information is ready, or a
drafted appeal). When a clinician's sign-off is required the run stops after the documents,
with the sign-off pending on the worklist; once approved (``priorauth requests signoff``) the
run is started again. No run waits. Re-running is safe: documents already made are reused and
a request already sent is not sent again.
"""

from __future__ import annotations

from prefect import flow, task

from coverage.services import sending
from coverage.workflow.runtime import WORKFLOW_ACTOR, runtime
from flows.hooks import HOOKS, begin, claimant, contained  # the project root is on sys.path wherever flows run


@task(name="prepare-documents", persist_result=False)
def prepare_documents(request_id: int, sign_off: bool) -> sending.Prepared:
    """Re-evaluate the stored case, make the letter, packet and fax cover (reused when unchanged)."""
    rt = runtime()
    return sending.prepare(
        request_id,
        uow=rt.uow(),
        checker=rt.checker,
        clinic=rt.clinic,
        store=rt.store,
        ctx=rt.ctx,
        by=WORKFLOW_ACTOR,
        gateway_for=rt.gateway,
        sign_off=sign_off,
        template_dir=rt.settings.template_dir,
    )


# Retried: safe, since the gateway is called under this run's sending claim and with the same
# idempotency key, and the records store a submission key once.
@task(name="submit-to-payer", persist_result=False, retries=2, retry_delay_seconds=2)
def submit_to_payer(prepared: sending.Prepared) -> sending.Prepared:
    """Send through the payer's gateway, under this run's claim, and record the submission under its key."""
    rt = runtime()
    return sending.submit_electronically(
        prepared, uow=rt.uow(), ctx=rt.ctx, by=WORKFLOW_ACTOR, gateway_for=rt.gateway, claimant=claimant()
    )


@flow(name="prior-authorization", persist_result=False, log_prints=False, **HOOKS)
@contained
async def prior_authorization(request_id: int, sign_off: bool = False) -> dict[str, object]:
    """Re-evaluate, make the documents, stop for a sign-off if required, then submit or open a send task."""
    begin("prior-authorization", request_id)
    prepared = prepare_documents(request_id, sign_off)
    if prepared.state == "ready":
        prepared = submit_to_payer(prepared)
    return prepared.to_dict()
