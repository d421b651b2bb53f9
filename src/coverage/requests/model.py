"""A course of treatment and its requests: the aggregate that owns a request's whole life (pure domain).

A :class:`Course` is one patient's treatment under one ``case_id``: the chain of its
:class:`Request`\\ s (the initial one, then continuations), and its :class:`Session`\\ s. A
request holds its case versions, evaluations, submissions, the payer's answers, its
authorizations, send tasks, sign-offs, documents and its append-only :class:`Event` trail.

Every move is a method here; services load the course, call one method and commit. Nothing
else assigns a status or writes an event. Each move checks its rule and raises a one-line
:class:`~coverage.errors.PriorAuthError` (ids only, never PHI) before it changes anything.
The rules are ``lifecycle.md``'s thirteen; the status table is :mod:`coverage.requests.lifecycle`.

This module imports no infrastructure: the store maps these classes onto tables
(:mod:`coverage.store.orm`), and :mod:`coverage.store.fake` keeps them in memory for tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from coverage.errors import IllegalTransition, InvalidInput
from coverage.requests import clocks as clk
from coverage.requests.lifecycle import (
    AMENDABLE,
    ANSWER_TARGETS,
    APPROVING,
    DECIDED,
    OUTCOME_STATUS,
    PLAIN_MOVES,
    SENDABLE,
    SENT_TO,
    WITH_PAYER,
    Decision,
    ReadStatus,
    Status,
    can_move,
    parse_status,
)

#: Events a ``requests undo`` can reverse (the others record facts that have their own correction).
UNDOABLE: Final = frozenset({"submit", "answer", "amend", "attach", "move", "signoff", "evaluate"})
#: The default reason of an expedited request (29 CFR 2560.503-1(m)(1): the urgent-care standard).
DEFAULT_EXPEDITED_REASON: Final = (
    "Applying the standard time frame could seriously jeopardize the patient's life, health or ability "
    "to regain maximum function."
)


#: No payer authorizes more than two years at once: a longer span is a typing mistake.
MAX_AUTHORIZATION_DAYS: Final = 731


@dataclass(frozen=True, slots=True)
class When:
    """The moment of a move: now (aware UTC) and the clinic's today, in the clinic's time zone."""

    now: dt.datetime
    today: dt.date
    timezone: str


@dataclass(frozen=True, slots=True)
class PayerTerms:
    """How fast the payer must answer and how long an appeal may wait: the directory's, or the defaults."""

    turnaround_days: int
    urgent_turnaround_hours: int
    appeal_window_days: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """An evaluation's result as a move needs it: the outcome and, when it fails, why (criterion ids)."""

    outcome: str
    failing: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        if self.outcome == "meets_criteria":
            return "meets criteria"
        if self.outcome == "no_pa_required":
            return "no prior authorization required"
        return f"{self.outcome}: " + ("; ".join(self.failing) if self.failing else "see the determination")


# --- the parts of a request ---------------------------------------------------------------------


@dataclass(eq=False)
class CaseVersion:
    """The case JSON as taken in: a new version on the same request when staff add information."""

    case_id: str
    version: int
    patient_id: int
    document: dict[str, Any]
    sha256: str
    received_at: dt.datetime
    received_by: str
    request_id: int | None = None
    superseded: bool = False
    id: int | None = None


@dataclass(eq=False)
class Evaluation:
    """The engine's determination of a case version, as of the day of the act."""

    case_version: CaseVersion
    evaluated_on: dt.date
    policy_id: str | None
    policy_version: str | None
    policy_hash: str | None
    outcome: str
    next_step: str
    result: dict[str, Any]
    created_at: dt.datetime
    id: int | None = None
    request_id: int | None = None


@dataclass(eq=False)
class Submission:
    """One sending of the request, of the information asked for, or of an appeal."""

    channel: str
    reference: str | None
    sent_on: dt.date
    submitted_at: dt.datetime
    by: str
    purpose: str  # request, information, appeal
    idempotency_key: str | None = None
    voided: bool = False
    id: int | None = None
    request_id: int | None = None


@dataclass(eq=False)
class Authorization:
    """Granted by an approving answer: number, valid dates, units of its billing code."""

    number: str
    valid_from: dt.date
    valid_to: dt.date
    code: str
    units_authorized: int
    partial: bool = False
    #: Units counted before sessions were recorded (the old ``requests use``): an undated adjustment.
    units_adjustment: int = 0
    voided: bool = False
    superseded: bool = False
    created_at: dt.datetime | None = None
    id: int | None = None
    request_id: int | None = None

    @property
    def live(self) -> bool:
        return not self.voided and not self.superseded

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.valid_to


@dataclass(eq=False)
class Answer:
    """One decision of the payer, with its date, reference and terms."""

    decision: Decision
    decided_on: dt.date
    recorded_at: dt.datetime
    by: str
    reference: str | None = None
    reason: str | None = None
    info_requested: str | None = None
    respond_by: dt.date | None = None
    authorization_number: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    units: int | None = None
    appeal: bool = False
    idempotency_key: str | None = None
    voided: bool = False
    authorization: Authorization | None = None
    id: int | None = None
    request_id: int | None = None

    def same_as(self, other: Answer) -> bool:
        """The same decision, number, dates and units (recording it again changes nothing)."""
        return (
            self.decision == other.decision
            and self.authorization_number == other.authorization_number
            and self.valid_from == other.valid_from
            and self.valid_to == other.valid_to
            and self.units == other.units
            and (self.decision != "denied" or self.reason == other.reason)
            and (self.decision != "pended" or self.info_requested == other.info_requested)
        )


@dataclass(eq=False)
class SendFailure:
    """A failed attempt to send (a busy fax line, a portal down)."""

    at: dt.datetime
    by: str
    reason: str
    id: int | None = None
    task_id: int | None = None


@dataclass(eq=False)
class SendTask:
    """Prepared documents waiting for a person to send them by fax, portal or phone."""

    channel: str
    destination: str | None
    documents: list[str]
    pages: int
    opened_on: dt.date
    opened_at: dt.datetime
    purpose: str  # request, information, appeal
    closed_at: dt.datetime | None = None
    closed_reason: str | None = None
    submission: Submission | None = None
    failures: list[SendFailure] = field(default_factory=list)
    id: int | None = None
    request_id: int | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass(eq=False)
class SignOff:
    """A clinician's review of a prepared sending: pending, approved, rejected, or withdrawn by an undo."""

    requested_at: dt.datetime
    case_version: int
    sending: int
    status: str = "pending"
    decided_at: dt.datetime | None = None
    by: str | None = None
    note: str | None = None
    id: int | None = None
    request_id: int | None = None


@dataclass(eq=False)
class Document:
    """A file of the request: a letter, the packet, a fax cover, a notice, or an outside PDF attached."""

    kind: str
    control_number: str
    sha256: str
    size: int
    pages: int | None
    dated: dt.date | None
    created_at: dt.datetime
    title: str | None = None
    key: str | None = None
    path: str | None = None
    case_version: int | None = None
    withdrawn: bool = False
    id: int | None = None
    request_id: int | None = None


@dataclass(eq=False)
class Event:
    """One line of the append-only audit trail: who, when, from, to, why."""

    action: str
    from_status: str | None
    to_status: str
    at: dt.datetime
    by: str
    reason: str | None = None
    payer_reference: str | None = None
    idempotency_key: str | None = None
    undoes_event_id: int | None = None
    id: int | None = None
    request_id: int | None = None


@dataclass(eq=False)
class Session:
    """One treatment given, charged to the authorization of its course in force on its date."""

    date: dt.date
    units: int
    code: str | None
    recorded_at: dt.datetime
    by: str
    dose_mg: int | None = None
    request_id: int | None = None
    authorization: Authorization | None = None
    voided: bool = False
    void_reason: str | None = None
    id: int | None = None
    course_id: int | None = None


# --- the request ------------------------------------------------------------------------------


@dataclass(eq=False)
class Request:
    """One ask to one payer for one period of treatment, and everything that happened to it."""

    kind: str
    status: str
    treatment: str
    indication: str
    case_id: str
    patient_id: int
    coverage_id: int
    created_at: dt.datetime
    updated_at: dt.datetime
    status_changed_at: dt.datetime
    payer_id: int | None = None
    urgency: str = "standard"
    expedited_reason: str | None = None
    previous_request_id: int | None = None
    signoff_required: bool = False
    #: The payer's appeal window (days), noted when a denial is recorded.
    appeal_window_days: int | None = None
    due_at: dt.datetime | None = None
    checked_at: dt.datetime | None = None
    case_versions: list[CaseVersion] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    authorizations: list[Authorization] = field(default_factory=list)
    send_tasks: list[SendTask] = field(default_factory=list)
    signoffs: list[SignOff] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    course: Course | None = None
    version: int = 1
    id: int | None = None
    course_id: int | None = None

    @classmethod
    def taken_in(
        cls,
        course: Course,
        *,
        kind: str,
        indication: str,
        version: CaseVersion,
        evaluation: Evaluation,
        outcome: Outcome,
        coverage_id: int,
        payer_id: int | None,
        expedited_reason: str | None,
        previous: Request | None,
        when: When,
        by: str,
        action: str = "intake",
    ) -> Request:
        """A new request of the course, from its first case version, evaluated today (rule 1)."""
        status = OUTCOME_STATUS.get(outcome.outcome, "draft")
        request = cls(
            kind=kind,
            status=status,
            treatment=course.treatment,
            indication=indication,
            case_id=course.case_id,
            patient_id=course.patient_id,
            coverage_id=coverage_id,
            payer_id=payer_id,
            urgency="expedited" if expedited_reason else "standard",
            expedited_reason=expedited_reason,
            previous_request_id=previous.id if previous is not None else None,
            created_at=when.now,
            updated_at=when.now,
            status_changed_at=when.now,
        )
        course.add(request)
        request.case_versions.append(version)
        request.evaluations.append(evaluation)
        what = "continuation of request " + str(previous.id) if previous is not None else action
        event = request._record(
            action, status, when, by, reason=f"{what}: case version {version.version}, {outcome.reason}"
        )
        event.from_status = None
        return request

    # --- reading --------------------------------------------------------------------------------

    @property
    def stored_status(self) -> Status:
        return parse_status(self.status)

    @property
    def expedited(self) -> bool:
        return self.urgency == "expedited"

    @property
    def live_versions(self) -> list[CaseVersion]:
        return [v for v in self.case_versions if not v.superseded]

    @property
    def current_version(self) -> CaseVersion:
        versions = self.live_versions
        if not versions:  # pragma: no cover - intake always stores one; undo never supersedes it
            raise IllegalTransition(f"request {self.id}: has no case version")
        return max(versions, key=lambda v: v.version)

    @property
    def evaluation(self) -> Evaluation | None:
        """The latest evaluation of the current case version."""
        current = self.current_version
        found = [e for e in self.evaluations if e.case_version is current]
        return found[-1] if found else None

    @property
    def live_submissions(self) -> list[Submission]:
        return [s for s in self.submissions if not s.voided]

    @property
    def live_answers(self) -> list[Answer]:
        return [a for a in self.answers if not a.voided]

    @property
    def latest_answer(self) -> Answer | None:
        answers = self.live_answers
        return answers[-1] if answers else None

    @property
    def live_authorizations(self) -> list[Authorization]:
        return [a for a in self.authorizations if a.live]

    @property
    def current_authorization(self) -> Authorization | None:
        """The authorization that counts now: the latest granted, not voided nor superseded."""
        live = self.live_authorizations
        return live[-1] if live else None

    @property
    def open_task(self) -> SendTask | None:
        return next((task for task in reversed(self.send_tasks) if task.open), None)

    @property
    def sending(self) -> int:
        """The number of the next sending (1 for the first)."""
        return len(self.live_submissions) + 1

    @property
    def signoff(self) -> SignOff | None:
        """The sign-off of the current sending and case version, if one was asked for."""
        version = self.current_version.version
        found = [s for s in self.signoffs if s.sending == self.sending and s.case_version == version]
        return found[-1] if found else None

    @property
    def pending_signoff(self) -> SignOff | None:
        return next((s for s in self.signoffs if s.status == "pending"), None)

    @property
    def live_documents(self) -> list[Document]:
        return [d for d in self.documents if not d.withdrawn]

    def document(self, control_number: str) -> Document | None:
        return next((d for d in self.documents if d.control_number == control_number), None)

    @property
    def last_dated_act(self) -> dt.date | None:
        """The day of the latest sending or answer: nothing later may be dated before it."""
        days = [s.sent_on for s in self.live_submissions] + [a.decided_on for a in self.live_answers]
        return max(days) if days else None

    @property
    def last_denial(self) -> Answer | None:
        return next((a for a in reversed(self.live_answers) if a.decision == "denied"), None)

    def appeal_deadline(self, default_window_days: int) -> dt.date | None:
        """The last day to appeal (denied) or to ask for external review (appeal denied)."""
        denial = self.last_denial
        if denial is None or self.status not in ("denied", "appeal_denied", "appeal_drafted"):
            return None
        if denial.appeal:
            return clk.external_review_deadline(denial.decided_on)
        return clk.appeal_deadline(denial.decided_on, window_days=self._window(default_window_days))

    def _window(self, default_window_days: int) -> int:
        return self.appeal_window_days or default_window_days

    # --- events ---------------------------------------------------------------------------------

    def _record(
        self,
        action: str,
        to: Status | str,
        when: When,
        by: str,
        *,
        reason: str | None = None,
        payer_reference: str | None = None,
        idempotency_key: str | None = None,
        undoes: Event | None = None,
    ) -> Event:
        """Append the event of a move and apply its status: the only place a status is assigned."""
        event = Event(
            action=action,
            from_status=self.status,
            to_status=to,
            at=when.now,
            by=by,
            reason=reason,
            payer_reference=payer_reference,
            idempotency_key=idempotency_key,
            undoes_event_id=undoes.id if undoes is not None else None,
        )
        self.events.append(event)
        if to != self.status:
            self.status = to
            self.status_changed_at = when.now
        self.updated_at = when.now
        if self.course is not None:
            self.course.updated_at = when.now
        return event

    def _move(self, target: Status, action: str, when: When, by: str, **details: Any) -> Event:
        current = self.stored_status
        if not can_move(current, target):
            raise IllegalTransition(f"request {self.id}: cannot go from {current} to {target} ({self._allowed()})")
        return self._record(action, target, when, by, **details)

    def _allowed(self) -> str:
        from coverage.requests.lifecycle import TRANSITIONS

        targets = sorted(TRANSITIONS[self.stored_status] - {self.stored_status})
        return "allowed: " + ", ".join(targets) if targets else "it is final"

    # --- evaluation -----------------------------------------------------------------------------

    def _status_for(self, outcome: Outcome) -> Status:
        return OUTCOME_STATUS.get(outcome.outcome, "draft")

    def evaluate(self, evaluation: Evaluation, outcome: Outcome, when: When, by: str) -> bool:
        """Re-evaluate before a sending (rule 1): a ready or pended request that no longer meets the
        criteria goes back to draft with the failing criteria as the reason. True when it may be sent."""
        latest = self.evaluation
        if latest is None or latest.result != evaluation.result:
            self.evaluations.append(evaluation)
        if self.status in ("ready", "pended") and outcome.outcome != "meets_criteria":
            self._move("draft", "evaluate", when, by, reason=f"re-evaluated on {when.today}: {outcome.reason}")
            return False
        return True

    def amend(self, version: CaseVersion, evaluation: Evaluation, outcome: Outcome, when: When, by: str) -> Event:
        """A new case version on this request (rule 5): re-evaluated; an open send task closes."""
        current = self.stored_status
        if current not in AMENDABLE:
            raise IllegalTransition(
                f"request {self.id}: is {current}; a case can be amended in {', '.join(sorted(AMENDABLE))}"
            )
        target: Status = current if current in ("denied", "appeal_drafted") else self._status_for(outcome)
        if target != current and not can_move(current, target):
            raise IllegalTransition(f"request {self.id}: cannot go from {current} to {target} ({self._allowed()})")
        version.request_id = self.id
        self.case_versions.append(version)
        self.evaluations.append(evaluation)
        event = self._record("amend", target, when, by, reason=f"case version {version.version}: {outcome.reason}")
        self._close_task("amended", when)
        return event

    def attach(self, document: Document, when: When, by: str) -> Event:
        """An outside PDF joins the enclosures (rule 5); a pended request is ready to send again."""
        current = self.stored_status
        if current not in AMENDABLE:
            raise IllegalTransition(
                f"request {self.id}: is {current}; documents can be attached in {', '.join(sorted(AMENDABLE))}"
            )
        if document not in self.documents:
            self.documents.append(document)
        target: Status = "ready" if current == "pended" else current
        event = self._record("attach", target, when, by, reason=f"attached {document.title} ({document.pages} p.)")
        self._close_task("attached", when)
        return event

    def _close_task(self, reason: str, when: When, submission: Submission | None = None) -> None:
        task = self.open_task
        if task is not None:
            task.closed_at = when.now
            task.closed_reason = reason
            task.submission = submission

    # --- sign-off -------------------------------------------------------------------------------

    def needs_signoff(self, required: bool) -> bool:
        """Whether the current sending waits for a clinician (rule 4)."""
        if not (required or self.signoff_required) or self.status not in SENDABLE:
            return False
        signoff = self.signoff
        return signoff is None or signoff.status != "approved"

    def ask_signoff(self, when: When, by: str) -> SignOff:
        """Open the sign-off of the current sending (at most one pending per request)."""
        pending = self.pending_signoff
        if pending is not None:
            return pending
        signoff = SignOff(requested_at=when.now, case_version=self.current_version.version, sending=self.sending)
        self.signoffs.append(signoff)
        self._record("signoff_requested", self.status, when, by, reason="waiting for a clinician's sign-off")
        return signoff

    def decide_signoff(self, *, approve: bool, note: str | None, when: When, by: str, required: bool = False) -> Event:
        """A clinician's approve or reject: an approval lets the sending go on, a rejection returns to draft."""
        if self.status not in SENDABLE:
            raise IllegalTransition(f"request {self.id}: is {self.status}; there is nothing to sign off")
        if not approve and not note:
            raise InvalidInput(["--note: a rejection says what to change"])
        signoff = self.pending_signoff
        if signoff is None:
            if not self.needs_signoff(required):
                raise IllegalTransition(
                    f"request {self.id}: no sign-off was asked for "
                    f"(`priorauth requests send {self.id} --sign-off` asks for one)"
                )
            signoff = self.ask_signoff(when, by)
        signoff.status = "approved" if approve else "rejected"
        signoff.decided_at, signoff.by, signoff.note = when.now, by, note
        verdict = "approved" if approve else "rejected"
        reason = f"sign-off {verdict}" + (f": {note}" if note else "")
        # ready and pended may go back to draft (the table); an appeal stays drafted.
        target: Status = self.stored_status if approve or self.status == "appeal_drafted" else "draft"
        event = self._record("signoff", target, when, by, reason=reason)
        if not approve:
            self._close_task("sign-off rejected", when)
        return event

    # --- sending --------------------------------------------------------------------------------

    def _check_sendable(self, *, signoff_required: bool) -> None:
        if self.status not in SENDABLE:
            raise IllegalTransition(
                f"request {self.id}: is {self.status}; only {', '.join(sorted(SENDABLE))} can be sent"
            )
        if self.needs_signoff(signoff_required):
            raise IllegalTransition(
                f"request {self.id}: waits for a clinician's sign-off (`priorauth requests signoff {self.id}`)"
            )

    def _purpose(self) -> str:
        return {"appeal_drafted": "appeal", "pended": "information"}.get(self.status, "request")

    def open_send_task(
        self,
        *,
        channel: str,
        destination: str | None,
        documents: list[str],
        pages: int,
        signoff_required: bool,
        when: When,
        by: str,
    ) -> SendTask:
        """The documents wait for a person to send them (rule 3); the status does not change."""
        self._check_sendable(signoff_required=signoff_required)
        task = self.open_task
        if task is not None and task.documents == documents and task.channel == channel:
            return task
        if task is not None:
            task.closed_at, task.closed_reason = when.now, "replaced by a new preparation"
        task = SendTask(
            channel=channel,
            destination=destination,
            documents=list(documents),
            pages=pages,
            opened_on=when.today,
            opened_at=when.now,
            purpose=self._purpose(),
        )
        self.send_tasks.append(task)
        where = f" to {destination}" if destination else ""
        self._record("send_task", self.status, when, by, reason=f"send by {channel}{where}: {pages} pages")
        return task

    def send_failed(self, reason: str, when: When, by: str) -> SendTask:
        """A failed attempt: noted on the open task, which stays open."""
        task = self.open_task
        if task is None:
            raise IllegalTransition(f"request {self.id}: has no open send task (`priorauth requests send {self.id}`)")
        task.failures.append(SendFailure(at=when.now, by=by, reason=reason))
        self._record("send_failed", self.status, when, by, reason=f"send by {task.channel} failed: {reason}")
        return task

    def submit(
        self,
        *,
        channel: str,
        reference: str | None,
        sent_on: dt.date,
        terms: PayerTerms,
        signoff_required: bool,
        when: When,
        by: str,
        idempotency_key: str | None = None,
    ) -> Submission:
        """Record a sending (rule 3): the request, the information asked for, or the appeal is with the payer."""
        self._check_sendable(signoff_required=signoff_required)
        if sent_on > when.today:
            raise InvalidInput([f"--sent-on: {sent_on} is in the future"])
        last = self.last_dated_act
        if last is not None and sent_on < last:
            raise InvalidInput([f"--sent-on: {sent_on} is before the latest sending or answer ({last})"])
        earliest, what = self._prepared_on()
        if sent_on < earliest:
            raise InvalidInput([f"--sent-on: {sent_on} is before {what} ({earliest})"])
        purpose = self._purpose()
        submission = Submission(
            channel=channel,
            reference=reference,
            sent_on=sent_on,
            submitted_at=when.now,
            by=by,
            purpose=purpose,
            idempotency_key=idempotency_key,
        )
        self.submissions.append(submission)
        target = SENT_TO[self.stored_status]
        self._move(
            target, "submit", when, by, reason=f"{purpose} sent by {channel} on {sent_on}", payer_reference=reference
        )
        self._close_task("sent", when, submission)
        self._restart_clock(terms, when)
        return submission

    def _prepared_on(self) -> tuple[dt.date, str]:
        """The earliest day this sending can have left: the day its send task's documents were made,
        or (a sending made outside the tool, entered later) the day its case's facts were gathered."""
        task = self.open_task
        if task is not None:
            return task.opened_on, "the documents it sends were made"
        as_of = self.current_version.document.get("as_of")
        gathered = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else dt.date.min
        return gathered, "the case's facts were gathered"

    def _restart_clock(self, terms: PayerTerms, when: When) -> None:
        """The answer is due from the latest sending (rule 5: the clock restarts at each sending)."""
        if self.status not in WITH_PAYER or not self.live_submissions:
            self.due_at = None
            return
        sent = self._sent_at(self.live_submissions[-1], when)
        if self.status == "appeal_submitted":
            self.due_at = clk.appeal_decision_due(
                sent, expedited=self.expedited, urgent_turnaround_hours=terms.urgent_turnaround_hours
            )
        else:
            self.due_at = clk.answer_due(
                sent,
                expedited=self.expedited,
                turnaround_days=terms.turnaround_days,
                urgent_turnaround_hours=terms.urgent_turnaround_hours,
            )

    @staticmethod
    def _sent_at(submission: Submission, when: When) -> dt.datetime:
        """When a sending happened: its recording time if it was recorded that day, else the day's start."""
        recorded = submission.submitted_at
        if clk.clinic_today(when.timezone, now=recorded) == submission.sent_on:
            return recorded
        return clk.start_of_day(submission.sent_on, when.timezone)

    # --- answers --------------------------------------------------------------------------------

    def record_answer(
        self, answer: Answer, *, code: str | None, terms: PayerTerms, when: When, by: str
    ) -> tuple[Answer, bool]:
        """Record the payer's decision once (rule 7); ``(answer, False)`` when the same one was recorded."""
        if answer.idempotency_key is not None:
            applied = next((a for a in self.answers if a.idempotency_key == answer.idempotency_key), None)
            if applied is not None:
                return applied, False
        latest, last_change = self.latest_answer, self.last_undoable()
        if latest is not None and latest.same_as(answer) and last_change is not None and last_change.action == "answer":
            return latest, False
        if answer.decided_on > when.today:
            raise InvalidInput([f"--decided-on: {answer.decided_on} is in the future"])
        sent = [s.sent_on for s in self.live_submissions]
        if sent and answer.decided_on < max(sent):
            raise InvalidInput([f"--decided-on: {answer.decided_on} is before the latest sending ({max(sent)})"])
        if answer.respond_by is not None and answer.respond_by < answer.decided_on:
            raise InvalidInput([f"--respond-by: {answer.respond_by} is before the decision ({answer.decided_on})"])
        self._check_terms(answer, sent)
        if answer.decision == "modified":
            return self._modify(answer, terms=terms, when=when, by=by), True
        current = self.stored_status
        targets = ANSWER_TARGETS.get(current)
        if targets is None:
            if current in DECIDED:
                then = {"denied": ", or appeal it", "appeal_denied": ", or ask for external review"}.get(
                    current, ", or record a continuation" if current in APPROVING else ""
                )
                raise IllegalTransition(f"request {self.id} is {current}{self._decided_detail()}: undo it first{then}")
            raise IllegalTransition(f"request {self.id}: is {current}; the payer has nothing to answer")
        target = targets.get(answer.decision)
        if target is None:
            raise IllegalTransition(f"request {self.id}: an answer to {current} cannot be {answer.decision}")
        granting = answer.decision in ("approved", "partially_approved")
        if granting and (answer.authorization_number is None or answer.valid_from is None or answer.valid_to is None):
            raise InvalidInput(["--auth-number: an approval needs its number and dates"])
        if granting and answer.units is None:
            raise InvalidInput(["--units: an approval needs its units (or --sessions)"])
        answer.appeal = current == "appeal_submitted"
        answer.recorded_at, answer.by = when.now, by
        self.answers.append(answer)
        if granting:
            self._grant(answer, code=code, when=when)
        if answer.decision == "denied":
            self.appeal_window_days = terms.appeal_window_days
        # Every target of ANSWER_TARGETS is a move of the table, or the same status (pended again).
        self._record("answer", target, when, by, reason=self._answer_reason(answer), payer_reference=answer.reference)
        self.due_at = None
        return answer, True

    def _check_terms(self, answer: Answer, sent: list[dt.date]) -> None:
        """What only some answers carry, and authorization dates a payer can have given."""
        problems = []
        if answer.decision != "pended":
            for option, value in (("--info-requested", answer.info_requested), ("--respond-by", answer.respond_by)):
                if value is not None:
                    problems.append(f"{option}: only a pended answer asks for information")
        if answer.valid_from is not None and answer.valid_to is not None:
            if answer.valid_to < answer.valid_from:
                problems.append(f"--to: {answer.valid_to} is before --from {answer.valid_from}")
            elif (answer.valid_to - answer.valid_from).days >= MAX_AUTHORIZATION_DAYS:
                days = (answer.valid_to - answer.valid_from).days + 1
                problems.append(f"--to: {days} days is longer than any authorization (two years); check the dates")
            if sent and answer.valid_to < min(sent):
                problems.append(f"--to: {answer.valid_to} is before the request was sent ({min(sent)})")
        if problems:
            raise InvalidInput(problems)

    def _decided_detail(self) -> str:
        auth = self.current_authorization
        return f" ({auth.number})" if auth is not None and self.status in APPROVING else ""

    def _answer_reason(self, answer: Answer) -> str:
        day = f" on {answer.decided_on}"
        if answer.decision == "denied":
            return f"denied{day}: {answer.reason}"
        if answer.decision == "pended":
            by = f" by {answer.respond_by}" if answer.respond_by else ""
            return f"pended{day}: {answer.info_requested}{by}"
        if answer.authorization_number:
            return (
                f"{answer.decision.replace('_', ' ')}{day}: {answer.authorization_number} "
                f"{answer.valid_from} to {answer.valid_to}, {answer.units} units"
            )
        return f"{answer.decision.replace('_', ' ')}{day}"

    def _grant(self, answer: Answer, *, code: str | None, when: When) -> None:
        assert answer.authorization_number is not None  # checked by record_answer
        assert answer.valid_from is not None
        assert answer.valid_to is not None
        assert answer.units is not None
        for earlier in self.live_authorizations:
            earlier.superseded = True  # an appeal won over a partial approval: one current authorization
        authorization = Authorization(
            number=answer.authorization_number,
            valid_from=answer.valid_from,
            valid_to=answer.valid_to,
            code=code or "",
            units_authorized=answer.units,
            partial=answer.decision == "partially_approved",
            created_at=when.now,
        )
        self.authorizations.append(authorization)
        answer.authorization = authorization
        if self.course is not None:
            self.course.recharge()

    def _modify(self, answer: Answer, *, terms: PayerTerms, when: When, by: str) -> Answer:
        """Rule 7: new dates or units of an authorization already granted, as a new answer."""
        auth = self.current_authorization
        if self.status not in APPROVING or auth is None:
            raise IllegalTransition(f"request {self.id}: is {self.status}; only an approved request can be modified")
        if answer.authorization_number not in (None, auth.number):
            raise InvalidInput([f"--auth-number: request {self.id}'s authorization is {auth.number}"])
        answer.authorization_number = auth.number
        answer.valid_from = answer.valid_from or auth.valid_from
        answer.valid_to = answer.valid_to or auth.valid_to
        answer.units = auth.units_authorized if answer.units is None else answer.units
        if answer.valid_to < answer.valid_from:
            raise InvalidInput([f"--to: {answer.valid_to} is before --from {answer.valid_from}"])
        answer.recorded_at, answer.by, answer.authorization = when.now, by, auth
        self.answers.append(answer)
        auth.valid_from, auth.valid_to, auth.units_authorized = answer.valid_from, answer.valid_to, answer.units
        if self.course is not None:
            self.course.recharge()
        self._record(
            "answer", self.status, when, by, reason=self._answer_reason(answer), payer_reference=answer.reference
        )
        del terms
        return answer

    # --- plain moves ----------------------------------------------------------------------------

    def appeal(self, when: When, by: str, reason: str | None = None) -> Event:
        """Draft the appeal of a denial, a final internal denial, or a partial approval."""
        return self._move("appeal_drafted", "move", when, by, reason=reason or "appeal drafted")

    def move(self, target: Status, when: When, by: str, *, reason: str | None = None, key: str | None = None) -> Event:
        """A move that carries no payer data: appeal drafted, external review, payment plan, cancelled."""
        if target not in PLAIN_MOVES:
            raise InvalidInput([f"status: {target} has its own command"])
        if target == "cancelled" and self.course is not None and self.course.builds_on(self):
            raise IllegalTransition(f"request {self.id}: a later request of the course builds on it")
        event = self._move(target, "move", when, by, reason=reason, idempotency_key=key)
        if target not in SENDABLE:
            self._close_task(f"request {target}", when)
        return event

    def follow_up(self, when: When, by: str, *, key: str) -> Event:
        """Note that the payer's answer is overdue and someone should call (no change of state)."""
        # The clinic's day the answer was due (never UTC's).
        due = clk.clinic_today(when.timezone, now=self.due_at).isoformat() if self.due_at is not None else "unknown"
        reason = f"follow-up: the payer's answer was due {due}; call the payer"
        return self._record("follow_up", self.status, when, by, reason=reason, idempotency_key=key)

    # --- undo -----------------------------------------------------------------------------------

    def last_undoable(self) -> Event | None:
        """The latest change of state not yet undone (back to intake, not past it)."""
        undone = {e.undoes_event_id for e in self.events if e.undoes_event_id is not None}
        for event in reversed(self.events):
            if event.action in UNDOABLE and event.id not in undone:
                return event
        return None

    def undo(self, reason: str, *, terms: PayerTerms, when: When, by: str) -> Event:
        """Reverse the last change of state (rule 11); nothing is deleted and the undo is an event."""
        event = self.last_undoable()
        if event is None:
            raise IllegalTransition(f"request {self.id}: nothing to undo (back at intake)")
        back = event.from_status
        assert back is not None  # only intake has no from-status, and intake is not undoable
        what = event.action
        closed_by_it = self._task_closed_by(event)
        if what == "submit":
            submission = self.live_submissions[-1]
            submission.voided = True
            # A task opened after this sending prepared the next one: it goes; the sent one reopens.
            self._close_task("the sending it followed was undone", when)
            for task in self.send_tasks:
                if task.submission is submission:
                    task.closed_at = task.closed_reason = task.submission = None
        elif what == "answer":
            self._undo_answer()
        elif what == "amend":
            self.current_version.superseded = True
            self._close_task("the amend it held was undone", when)
        elif what == "attach":
            attached = next(d for d in reversed(self.documents) if d.kind == "attachment" and not d.withdrawn)
            attached.withdrawn = True
            self._close_task("the attachment it held was undone", when)
        elif what == "signoff":
            # The decision is withdrawn: the same sending waits for a clinician again.
            signoff = next(s for s in reversed(self.signoffs) if s.status in ("approved", "rejected"))
            signoff.status = "withdrawn"
            self.signoffs.append(
                SignOff(requested_at=when.now, case_version=signoff.case_version, sending=signoff.sending)
            )
            self._close_task("the sign-off it followed was undone", when)
            closed_by_it = None
        undo = self._record("undo", back, when, by, reason=f"undo {what} ({event.reason or event.to_status}): {reason}")
        undo.undoes_event_id = event.id
        if closed_by_it is not None and self.open_task is None and back in SENDABLE:
            closed_by_it.closed_at = closed_by_it.closed_reason = None  # its documents are current again
        self._restart_clock(terms, when)
        return undo

    def _task_closed_by(self, event: Event) -> SendTask | None:
        """The send task an amend, attach or move closed (the latest one closed then)."""
        if event.action not in ("amend", "attach", "move"):
            return None
        closed = [t for t in self.send_tasks if t.closed_at is not None and t.submission is None]
        if not closed:
            return None
        task = max(closed, key=lambda t: t.closed_at or event.at)
        return task if _same_moment(task.closed_at, event.at) else None

    def _undo_answer(self) -> None:
        answer = self.live_answers[-1]
        if self.course is not None and self.course.builds_on(self):
            raise IllegalTransition(
                f"request {self.id}: a continuation builds on this answer; cancel the continuation first"
            )
        answer.voided = True
        auth = answer.authorization
        if answer.decision == "modified" and auth is not None:
            earlier = [a for a in self.live_answers if a.authorization is auth]
            source = earlier[-1]
            assert source.valid_from is not None
            assert source.valid_to is not None
            assert source.units is not None
            auth.valid_from, auth.valid_to, auth.units_authorized = source.valid_from, source.valid_to, source.units
        elif auth is not None:
            auth.voided = True
            superseded = [a for a in self.authorizations if a.superseded and not a.voided]
            if superseded:
                superseded[-1].superseded = False  # the partial approval the appeal replaced counts again
        if self.course is not None:
            self.course.recharge()

    # --- checks ---------------------------------------------------------------------------------

    def check_invariants(self) -> list[str]:
        """What is inconsistent in this request (empty when every rule holds)."""
        problems = []
        if self.events and self.events[-1].to_status != self.status:
            problems.append(f"request {self.id}: events end in {self.events[-1].to_status}, stored {self.status}")
        if len(self.live_authorizations) > 1:
            problems.append(f"request {self.id}: {len(self.live_authorizations)} current authorizations")
        keys = [a.idempotency_key for a in self.answers if a.idempotency_key]
        if len(keys) != len(set(keys)):
            problems.append(f"request {self.id}: an answer applied twice")
        if sum(1 for s in self.signoffs if s.status == "pending") > 1:
            problems.append(f"request {self.id}: two pending sign-offs")
        if sum(1 for t in self.send_tasks if t.open) > 1:
            problems.append(f"request {self.id}: two open send tasks")
        if self.status in APPROVING and self.current_authorization is None:
            problems.append(f"request {self.id}: {self.status} without an authorization")
        return problems

    def read_status(self, as_of: dt.date, clocks: clk.ClockSettings) -> ReadStatus:
        """The status as of a day: an approving request reads expiring or expired from its authorization."""
        auth = self.current_authorization
        if self.status not in APPROVING or auth is None:
            return self.stored_status
        used = self.units_used(auth)
        return (
            clk.authorization_alert(
                valid_to=auth.valid_to, units=auth.units_authorized, units_used=used, as_of=as_of, clocks=clocks
            )
            or self.stored_status
        )

    def units_used(self, auth: Authorization) -> int:
        course = self.course
        charged = course.units_charged(auth) if course is not None else 0
        return auth.units_adjustment + charged


def _same_moment(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    """Equal instants, whether or not the store gave them back with their zone (SQLite does not)."""
    if a is None or b is None:
        return False
    return _naive_utc(a) == _naive_utc(b)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


# --- the course -------------------------------------------------------------------------------


@dataclass(eq=False)
class Course:
    """One patient's treatment under one ``case_id``: its chain of requests and its sessions."""

    case_id: str
    patient_id: int
    treatment: str
    created_at: dt.datetime
    updated_at: dt.datetime
    requests: list[Request] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    version: int = 1
    id: int | None = None

    def add(self, request: Request) -> Request:
        if request not in self.requests:
            self.requests.append(request)
        request.course = self
        return request

    def can_continue(self, request: Request) -> None:
        """Rule 8: a continuation follows the course's latest request when it is approving."""
        if request.status not in APPROVING:
            raise IllegalTransition(
                f"request {request.id}: is {request.status}; a continuation follows an approved request"
            )
        later = self.later_requests(request)
        if later:
            raise IllegalTransition(f"request {request.id}: already continued by request {later[-1].id}")
        if self.latest is not request:
            raise IllegalTransition(
                f"request {request.id}: is not the course's latest request ({self.latest.id}); continue that one"
            )

    def request(self, request_id: int) -> Request:
        found = next((r for r in self.requests if r.id == request_id), None)
        if found is None:  # pragma: no cover - repositories load a course by one of its requests
            raise LookupError(request_id)
        return found

    @property
    def latest(self) -> Request:
        """The course's newest request that is not cancelled (else the newest)."""
        live = [r for r in self.requests if r.status != "cancelled"]
        return (live or self.requests)[-1]

    def later_requests(self, request: Request) -> list[Request]:
        return [r for r in self.requests if r.previous_request_id == request.id and r.status != "cancelled"]

    def builds_on(self, request: Request) -> bool:
        """Whether a continuation builds on ``request`` (its answer cannot be undone, nor it cancelled)."""
        return bool(self.later_requests(request))

    @property
    def live_authorizations(self) -> list[Authorization]:
        return [a for r in self.requests for a in r.live_authorizations]

    @property
    def needs_authorization(self) -> bool:
        """A course whose sessions must be authorized (not self-pay, not 'no prior authorization')."""
        for request in reversed(self.requests):
            if request.status == "cancelled":
                continue
            evaluation = request.evaluation
            if request.status in ("not_required", "payment_plan"):
                return False
            return evaluation is None or evaluation.outcome not in ("no_pa_required", "not_covered")
        return False

    @property
    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions if not s.voided]

    def units_charged(self, auth: Authorization) -> int:
        return sum(s.units for s in self.live_sessions if s.authorization is auth)

    def units_left(self, auth: Authorization) -> int:
        return auth.units_authorized - auth.units_adjustment - self.units_charged(auth)

    def _authorization_for(self, session: Session) -> Authorization | None:
        """Rule 10: the live authorization covering the date with units left, the one ending first."""
        fits = [
            a
            for a in self.live_authorizations
            if a.covers(session.date) and self.units_left(a) >= session.units and (a.code in ("", session.code))
        ]
        return min(fits, key=lambda a: (a.valid_to, a.valid_from), default=None)

    def recharge(self) -> None:
        """Keep charges true after an authorization changed: sessions outside a period or beyond its
        units, or on one no longer live, become uncharged; uncharged sessions are charged in date order."""
        live = set(map(id, self.live_authorizations))
        for session in sorted(self.live_sessions, key=lambda s: (s.date, s.id or 0), reverse=True):
            auth = session.authorization
            if auth is None:
                continue
            if id(auth) not in live or not auth.covers(session.date) or self.units_left(auth) < 0:
                session.authorization = None
        for session in sorted(self.live_sessions, key=lambda s: (s.date, s.id or 0)):
            if session.authorization is None:
                session.authorization = self._authorization_for(session)
        for session in self.sessions:
            if session.voided:
                session.authorization = None

    def add_session(
        self, request: Request, *, day: dt.date, dose_mg: int | None, units: int, code: str | None, when: When, by: str
    ) -> Session:
        """A treatment given (rule 10), charged to the authorization in force on its date, if any."""
        if day > when.today:
            raise InvalidInput([f"--date: {day} is in the future"])
        session = Session(
            date=day, units=units, code=code, recorded_at=when.now, by=by, dose_mg=dose_mg, request_id=request.id
        )
        self.sessions.append(session)
        session.authorization = self._authorization_for(session)
        charged = session.authorization
        if charged is not None:
            detail = f"charged to {charged.number}"
        else:
            detail = "no authorization covers it" if self.needs_authorization else "no authorization needed"
        amount = f"{units} unit{'s' if units != 1 else ''}"
        request._record(
            "session", request.status, when, by, reason=f"session on {day}: {amount} of {code or 'service'}, {detail}"
        )
        return session

    def void_session(self, session: Session, reason: str, when: When, by: str) -> Session:
        """Correct a session recorded by mistake: it stays on record, charged to nothing."""
        if session.voided:
            raise IllegalTransition(f"session {session.id}: already voided")
        session.voided, session.void_reason, session.authorization = True, reason, None
        request = next((r for r in self.requests if r.id == session.request_id), self.latest)
        request._record(
            "session_void", request.status, when, by, reason=f"session {session.id} on {session.date} voided: {reason}"
        )
        self.recharge()
        return session

    def unauthorized_sessions(self) -> list[Session]:
        """Sessions with no authorization to charge, in a course that needs one (rule 10)."""
        if not self.needs_authorization:
            return []
        return [s for s in self.live_sessions if s.authorization is None]

    def recent_units(self, auth: Authorization, as_of: dt.date) -> int:
        since = as_of - dt.timedelta(days=clk.PACE_DAYS)
        return sum(s.units for s in self.live_sessions if s.authorization is auth and since < s.date <= as_of)

    def check_invariants(self) -> list[str]:
        """What is inconsistent in the course and its requests (empty when every rule holds)."""
        problems = [p for r in self.requests for p in r.check_invariants()]
        for auth in self.live_authorizations:
            if self.units_left(auth) < 0:
                problems.append(f"authorization {auth.number}: more units charged than granted")
        for session in self.sessions:
            if session.voided and session.authorization is not None:
                problems.append(f"session {session.id}: voided but charged")
            if session.authorization is not None and not session.authorization.live:
                problems.append(f"session {session.id}: charged to a voided authorization")
        return problems


def outcome_of(result: dict[str, Any]) -> Outcome:
    """A determination's JSON as a move reads it: its outcome, and each criterion not met with why."""
    criteria: Iterable[dict[str, Any]] = result.get("criteria", ())
    failing = tuple(f"{c['id']} {c['status']} ({c['detail']})" for c in criteria if c["status"] != "met")
    return Outcome(result["outcome"], failing)
