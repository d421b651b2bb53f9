"""Send one request to its payer: evaluate, documents, optional clinician sign-off, submit, record.

Staff start it for a request id (a ready request, a pended one whose information is ready, or
a drafted appeal). Re-running it is safe: documents already made for the same inputs are
reused and a request already sent is not sent again.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.flow_runs import apause_flow_run
from prefect.input import RunInput

from coverage.workflow import exchange, prepare
from coverage.workflow.runtime import WORKFLOW_ACTOR, runtime


class SignOff(RunInput):
    """The clinician's answer: send it or not (``reviewer``: a staff id or initials, never a patient's)."""

    approved: bool = False
    reviewer: str = ""
    note: str = ""


@task(name="prepare-documents", persist_result=False)
def prepare_documents(request_id: int) -> prepare.Prepared:
    """Re-check the stored case, render the letter, packet and fax cover (reused when unchanged)."""
    rt = runtime()
    return prepare.prepare_submission(
        request_id, uow=rt.uow(), checker=rt.checker, clinic=rt.clinic, documents_dir=rt.documents_dir
    )


@task(name="submit-to-payer", persist_result=False, retries=2, retry_delay_seconds=2)
def submit_to_payer(request_id: int) -> list[exchange.SubmitResult]:
    """Send through the payer's gateway and record the submission under its idempotency key."""
    rt = runtime()
    return exchange.submit_requests(
        [request_id], uow=rt.uow(), gateway_for=rt.gateway, by=WORKFLOW_ACTOR, clocks=rt.clocks
    )


@flow(name="prior-authorization", persist_result=False, log_prints=False)
async def prior_authorization(request_id: int, sign_off: bool = False) -> dict[str, object]:
    """Evaluate, assemble the packet, render the letter and fax cover, sign-off, submit, record."""
    prepared = prepare_documents(request_id)
    if not prepared.documents:  # already sent: a re-run sends nothing twice
        return {"request_id": request_id, "submitted": False, "status": prepared.status, "documents": []}
    if sign_off:
        answer = await apause_flow_run(
            wait_for_input=SignOff.with_initial_data(description=prepare.sign_off_summary(prepared)),
            timeout=7 * 24 * 3600,
            poll_interval=5,
        )
        if not answer.approved:
            return {"request_id": request_id, "submitted": False, "documents": list(prepared.control_numbers)}
    sent = submit_to_payer(request_id)
    return {
        "request_id": request_id,
        "submitted": bool(sent),
        "needs_staff": any(s.needs_staff for s in sent),
        "documents": list(prepared.control_numbers),
    }
