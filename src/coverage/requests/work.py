"""What a course asks of a person, as rows with the days they show (pure: the worklist's one source).

Every time a course changes, its rows are worked out again here and stored with it (the unit of
work does it on commit), so the worklist of a day is a query: rows visible on that day, most
urgent first. A row is visible from ``visible_from`` until ``visible_until`` (inclusive, open
when ``None``): a day-bound condition (an answer overdue, an authorization near its end) is a
window of days, a state-bound one (80 % of the units used) shows from the day it arose.

Kinds (lifecycle.md):

- ``send``: an open send task (it replaces ready_to_submit for that request); due when opened;
- ``signoff``: a sending waits for a clinician; due when asked;
- ``ready_to_submit``: ready (or an appeal drafted) with nothing else to wait for;
- ``answer_overdue``: with the payer past the answer's due date (shows the day after it);
- ``information_requested``: pended; due the payer's respond-by date;
- ``appeal_deadline``: denied (internal appeal) or appeal denied (external review); due the deadline;
- ``expiring``: the authorization ends within the warning days or has used the warning share of its
  units, and the course has no later request; due its end;
- ``continuation_due``: the authorization ended and the course has no later request;
- ``session_without_authorization``: a session nothing covers, in a course that needs one;
- ``incomplete``: a draft, with what is missing or not met.

(``installment_overdue`` and ``run_failed`` come from the payments and the workflow's runs.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from coverage.requests import clocks as clk
from coverage.requests import model as m
from coverage.requests.lifecycle import APPROVING, WITH_PAYER

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
_FOREVER = None


@dataclass(frozen=True, slots=True)
class Projection:
    """The settings rows are worked out with; other settings make the stored rows stale."""

    clocks: clk.ClockSettings = field(default_factory=clk.ClockSettings)
    timezone: str = "America/New_York"

    @property
    def signature(self) -> str:
        c = self.clocks
        return f"v1 {c.expiry_warning_days} {c.units_warning_ratio} {c.appeal_window_days} {self.timezone}"

    def rows(self, course: m.Course) -> list[WorkRow]:
        return course_rows(course, self.clocks, self.timezone)


@dataclass(frozen=True, slots=True)
class WorkRow:
    """One thing a person must do about a request, and the days it shows."""

    request_id: int
    kind: str
    due: dt.date
    visible_from: dt.date
    visible_until: dt.date | None
    detail: str


def _day(moment: dt.datetime, timezone: str) -> dt.date:
    return clk.clinic_today(timezone, now=moment)


def request_rows(request: m.Request, clocks: clk.ClockSettings, timezone: str) -> Iterator[WorkRow]:
    """The rows of one request."""
    assert request.id is not None
    rid, status = request.id, request.status
    changed = _day(request.status_changed_at, timezone)

    def row(
        kind: str, due: dt.date, detail: str, start: dt.date | None = None, until: dt.date | None = None
    ) -> WorkRow:
        return WorkRow(rid, kind, due, start or min(due, changed), until, detail)

    task = request.open_task
    if task is not None:
        where = f" to {task.destination}" if task.destination else " (destination not in the payer directory)"
        tries = f"; {len(task.failures)} failed attempt(s)" if task.failures else ""
        detail = f"send the {task.purpose} by {task.channel}{where}: {task.pages} pages{tries}"
        yield row("send", task.opened_on, detail, task.opened_on)
        return
    pending = request.pending_signoff
    if pending is not None:
        asked = _day(pending.requested_at, timezone)
        yield row("signoff", asked, f"a clinician signs off sending {pending.sending}", asked)
        return
    if status in ("ready", "appeal_drafted"):
        what = "appeal drafted" if status == "appeal_drafted" else "meets criteria"
        yield row("ready_to_submit", changed, f"{what}: send it (`priorauth requests send {rid}`)", changed)
    elif status in WITH_PAYER and request.due_at is not None:
        due = _day(request.due_at, timezone)
        what = "appeal decision" if status == "appeal_submitted" else "answer"
        yield row("answer_overdue", due, f"the payer's {what} was due {due}", due + dt.timedelta(days=1))
    elif status == "pended":
        answer = request.latest_answer
        decided = answer.decided_on if answer is not None else changed
        due = (answer.respond_by if answer is not None else None) or decided
        question = (answer.info_requested if answer is not None else None) or "information requested"
        yield row("information_requested", due, question, min(decided, due))
    elif status in ("denied", "appeal_denied"):
        deadline = request.appeal_deadline(clocks.appeal_window_days)
        denial = request.last_denial
        if deadline is not None and denial is not None:
            what = "external review" if status == "appeal_denied" else "appeal"
            reason = f": {denial.reason}" if denial.reason else ""
            yield row("appeal_deadline", deadline, f"{what} by {deadline}{reason}", denial.decided_on)
    elif status in APPROVING:
        yield from _authorization_rows(request, clocks, timezone, row)
    elif status == "draft":
        rejected = _rejected_signoff(request)
        if rejected is not None:
            detail = (
                f"sign-off rejected by {rejected.by}: {rejected.note}; correct the case and "
                f"`priorauth requests amend {rid} CASE.json` (or undo the rejection)"
            )
            yield row("incomplete", changed, detail, changed)
            return
        evaluation = request.evaluation
        found = m.outcome_of(evaluation.result) if evaluation is not None else None
        missing = found.reason if found is not None else "not evaluated"
        if found is not None and found.outcome == "not_covered":
            # Nothing to complete: the plan excludes it. Self-pay, or appeal the exclusion once denied.
            missing = f"not covered by the plan ({', '.join(found.failing) or 'exclusion'}): offer self-pay "
            missing += f"(`priorauth plan {rid}`) or send it to get a denial to appeal"
        yield row("incomplete", changed, missing, changed)


def _rejected_signoff(request: m.Request) -> m.SignOff | None:
    """The clinician's rejection that put the request back to draft, if that is the latest change."""
    last = request.events[-1] if request.events else None
    if last is None or last.action != "signoff" or last.to_status != "draft":
        return None
    return next((s for s in reversed(request.signoffs) if s.status == "rejected"), None)


def _authorization_rows(request: m.Request, clocks: clk.ClockSettings, timezone: str, row: object) -> Iterator[WorkRow]:
    course, auth = request.course, request.current_authorization
    if course is None or auth is None or course.later_requests(request):
        return
    make = row  # (kind, due, detail, start, until) -> WorkRow
    used = request.units_used(auth)
    command = f" (`priorauth requests continue {request.id}`)"
    ended = auth.valid_to + dt.timedelta(days=1)
    done = f"authorization {auth.number} ended {auth.valid_to}: continue it{command}"
    if auth.units_authorized > 0 and course.units_left(auth) <= 0:
        # Used up before its end date: due on the day the last unit went, not on the end date.
        spent = max((s.date for s in course.live_sessions if s.authorization is auth), default=auth.valid_from)
        detail = f"authorization {auth.number}: all {auth.units_authorized} units used on {spent}: continue it"
        yield make("expiring", spent, detail + command, spent, auth.valid_to)  # type: ignore[operator]
        yield make("continuation_due", auth.valid_to, done, ended, _FOREVER)  # type: ignore[operator]
        return
    by_units = auth.units_authorized > 0 and used >= clocks.units_warning_ratio * auth.units_authorized
    near_end = auth.valid_to - dt.timedelta(days=clocks.expiry_warning_days)
    start = min(near_end, _day(course.updated_at, timezone)) if by_units else near_end
    detail = f"authorization {auth.number} ends {auth.valid_to}, {used}/{auth.units_authorized} units used"
    yield make("expiring", auth.valid_to, detail + command, start, auth.valid_to)  # type: ignore[operator]
    yield make("continuation_due", auth.valid_to, done, ended, _FOREVER)  # type: ignore[operator]


def course_rows(course: m.Course, clocks: clk.ClockSettings, timezone: str) -> list[WorkRow]:
    """Every row of a course: its requests', and its sessions that nothing covers."""
    rows = [r for request in course.requests for r in request_rows(request, clocks, timezone)]
    for session in course.unauthorized_sessions():
        request = next((r for r in course.requests if r.id == session.request_id), course.latest)
        assert request.id is not None
        detail = f"session {session.id} on {session.date}: no authorization covers it ({session.units} units)"
        rows.append(WorkRow(request.id, "session_without_authorization", session.date, session.date, None, detail))
    return rows
