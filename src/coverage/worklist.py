"""The worklist: what needs a person on a day, most urgent first, from requests, sessions and payments.

It sits above the requests and the payments (it reads both; neither imports it). Kinds, in
lifecycle.md's words:

- ``send``: an open send task (it replaces ready_to_submit for that request); due when opened;
- ``signoff``: a sending waits for a clinician; due when asked;
- ``ready_to_submit``: ready (or an appeal drafted) with nothing else to wait for;
- ``answer_overdue``: with the payer past the answer's due date;
- ``information_requested``: pended; due the payer's respond-by date;
- ``appeal_deadline``: denied (internal appeal) or appeal denied (external review); due the deadline;
- ``expiring``: the authorization ends soon or is 80 % used, and no later request; due its end;
- ``continuation_due``: the authorization ended and the course has no later request;
- ``session_without_authorization``: a session nothing covers, in a course that needs one;
- ``installment_overdue``: a self-pay installment past due; due the oldest;
- ``run_failed``: a workflow run for the request crashed or failed;
- ``incomplete``: a draft, with what is missing or not met.

Sorted by due date (overdue first, earlier before later), then expedited first, then kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from coverage.payments.ledger import PlanRecord
from coverage.requests import model as m
from coverage.requests.clocks import authorization_alert
from coverage.requests.lifecycle import APPROVING, WITH_PAYER
from coverage.requests.views import WorkItem
from coverage.services.context import Context
from coverage.store.uow import UnitOfWork

#: Tie-breaking rank of kinds on the same due day (lower first).
RANK = {
    "answer_overdue": 0,
    "information_requested": 1,
    "appeal_deadline": 1,
    "run_failed": 2,
    "signoff": 2,
    "send": 3,
    "continuation_due": 3,
    "expiring": 4,
    "session_without_authorization": 4,
    "installment_overdue": 5,
    "ready_to_submit": 6,
    "incomplete": 7,
}
KINDS = tuple(RANK)


def _request_items(request: m.Request, as_of: dt.date, ctx: Context) -> Iterator[tuple[str, dt.date, str]]:
    """(kind, due, detail) for one request."""
    status = request.status
    task = request.open_task
    if task is not None:
        where = f" to {task.destination}" if task.destination else " (destination not in the payer directory)"
        tries = f"; {len(task.failures)} failed attempt(s)" if task.failures else ""
        yield "send", task.opened_on, f"send the {task.purpose} by {task.channel}{where}: {task.pages} pages{tries}"
        return
    pending = request.pending_signoff
    if pending is not None:
        yield "signoff", pending.requested_at.date(), f"a clinician signs off sending {pending.sending}"
        return
    if status == "ready":
        yield "ready_to_submit", request.status_changed_at.date(), "meets criteria: send it (`priorauth requests send`)"
    elif status == "appeal_drafted":
        yield "ready_to_submit", request.status_changed_at.date(), "appeal drafted: send it (`priorauth requests send`)"
    elif status in WITH_PAYER and request.due_at is not None and request.due_at.date() < as_of:
        what = "appeal decision" if status == "appeal_submitted" else "answer"
        yield "answer_overdue", request.due_at.date(), f"the payer's {what} was due {request.due_at.date()}"
    elif status == "pended":
        answer = request.latest_answer
        question = answer.info_requested if answer is not None else None
        due = (answer.respond_by or answer.decided_on) if answer is not None else request.status_changed_at.date()
        yield "information_requested", due, question or "information requested"
    elif status in ("denied", "appeal_denied"):
        deadline = request.appeal_deadline(ctx.clocks.appeal_window_days)
        if deadline is not None:
            what = "external review" if status == "appeal_denied" else "appeal"
            denial = request.last_denial
            reason = f": {denial.reason}" if denial is not None and denial.reason else ""
            yield "appeal_deadline", deadline, f"{what} by {deadline}{reason}"
    elif status in APPROVING:
        yield from _authorization_items(request, as_of, ctx)
    elif status == "draft":
        evaluation = request.evaluation
        missing = m.outcome_of(evaluation.result).reason if evaluation is not None else "not evaluated"
        yield "incomplete", request.status_changed_at.date(), missing


def _authorization_items(request: m.Request, as_of: dt.date, ctx: Context) -> Iterator[tuple[str, dt.date, str]]:
    course, auth = request.course, request.current_authorization
    if course is None or auth is None or course.later_requests(request):
        return
    used = request.units_used(auth)
    alert = authorization_alert(
        valid_to=auth.valid_to, units=auth.units_authorized, units_used=used, as_of=as_of, clocks=ctx.clocks
    )
    if alert == "expiring":
        detail = f"authorization {auth.number} ends {auth.valid_to}, {used}/{auth.units_authorized} units used"
        yield "expiring", auth.valid_to, detail + f" (`priorauth requests continue {request.id}`)"
    elif alert == "expired":
        yield "continuation_due", auth.valid_to, f"authorization {auth.number} ended {auth.valid_to}: continue it"


def course_items(course: m.Course, as_of: dt.date, ctx: Context, payers: dict[int, str]) -> list[WorkItem]:
    """Every work item of one course."""
    items: list[WorkItem] = []

    def item(request: m.Request, kind: str, due: dt.date, detail: str) -> WorkItem:
        assert request.id is not None
        payer = payers.get(request.payer_id) if request.payer_id is not None else None
        return WorkItem(kind, request.id, due, detail, request.case_id, request.status, request.urgency, payer)

    for request in course.requests:
        items.extend(item(request, *found) for found in _request_items(request, as_of, ctx))
    for session in course.unauthorized_sessions():
        request = next((r for r in course.requests if r.id == session.request_id), course.latest)
        detail = f"session {session.id} on {session.date}: no authorization covers it ({session.units} units)"
        items.append(item(request, "session_without_authorization", session.date, detail))
    return items


def build(as_of: dt.date, *, uow: UnitOfWork, ctx: Context) -> list[WorkItem]:
    """What needs a person on ``as_of``, most urgent first."""
    from coverage.services.payments import overdue_plans

    items: list[WorkItem] = []
    with uow:
        payers = {p.id: p.name for p in uow.payers.all()}
        for course in uow.courses.open_courses():
            items.extend(course_items(course, as_of, ctx, payers))
        requests = {}
        plans = overdue_plans(as_of, uow=uow)
        if plans:
            requests = {r.id: r for r in uow.courses.requests(request_ids=[p.request_id for p in plans])}
        for plan in plans:
            items.extend(_installment_item(plan, requests.get(plan.request_id), as_of, payers))
    items.sort(key=lambda i: (i.due, i.urgency != "expedited", RANK[i.kind], i.request_id))
    return items


def _installment_item(
    plan: PlanRecord, request: m.Request | None, as_of: dt.date, payers: dict[int, str]
) -> Iterator[WorkItem]:
    late = plan.overdue(as_of)
    if not late or request is None:
        return
    owed = sum((s.remaining for s in late), Decimal("0.00"))
    count = f"{len(late)} installment{'s' if len(late) > 1 else ''}"
    yield WorkItem(
        "installment_overdue",
        plan.request_id,
        late[0].due_date,
        f"plan {plan.id}: {count} overdue, {owed} owed",
        request.case_id,
        request.status,
        request.urgency,
        payers.get(request.payer_id) if request.payer_id is not None else None,
    )
