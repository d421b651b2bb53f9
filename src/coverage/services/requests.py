"""Request services: intake, amend, attach, submit, sign-off, answers, appeal, moves, undo, continue, reading.

Each changing service opens the unit of work it is given, loads the course, makes one move of
the domain and commits once; a concurrent change makes it raise
:class:`~coverage.errors.StaleVersion` and write nothing. Errors and log lines carry ids only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coverage.determinations import Determination
from coverage.errors import IllegalTransition, InvalidInput, NotFound, PriorAuthError, StaleVersion, StorageError
from coverage.fields import MAX_UNITS, clean_text, optional_text
from coverage.requests import model as m
from coverage.requests.lifecycle import (
    APPROVING,
    CHANNELS,
    DECISIONS,
    OPEN,
    PLAIN_MOVES,
    WITH_PAYER,
    Decision,
    parse_status,
)
from coverage.requests.views import (
    Names,
    RequestDetail,
    RequestRow,
    RequestView,
    request_detail,
    request_row,
    request_view,
)
from coverage.services.context import Context, actor
from coverage.store.repositories import payer_name_key
from coverage.store.tables import Coverage, Patient
from coverage.store.uow import UnitOfWork

if TYPE_CHECKING:
    from coverage.cases import Case
    from coverage.policies.service import Checker

log = logging.getLogger(__name__)


# --- loading -----------------------------------------------------------------------------------


def load(uow: UnitOfWork, request_id: int) -> tuple[m.Course, m.Request]:
    """The course holding a request, and the request (inside an open unit of work)."""
    course = uow.courses.by_request(request_id)
    if course is None:
        raise NotFound(f"request {request_id}: no such request")
    return course, course.request(request_id)


def names(uow: UnitOfWork, request: m.Request) -> Names:
    """The patient's clinic id and the payer's name, for views."""
    return names_of(uow, [request])[request.id or 0]


def names_of(uow: UnitOfWork, requests: Sequence[m.Request]) -> dict[int, Names]:
    """:func:`names` of many requests, in three queries."""
    patients = uow.patients.many({r.patient_id for r in requests})
    coverages = uow.patients.many_coverages({r.coverage_id for r in requests if r.payer_id is None})
    payers = {p.id: p.name for p in uow.payers.all()} if any(r.payer_id is not None for r in requests) else {}
    found = {}
    for request in requests:
        patient = patients.get(request.patient_id)
        payer_name = payers.get(request.payer_id) if request.payer_id is not None else None
        if payer_name is None and request.coverage_id in coverages:
            payer_name = coverages[request.coverage_id].payer_name
        found[request.id or 0] = Names(patient.external_id if patient is not None else "", payer_name)
    return found


def case_of(request: m.Request, checker: Checker) -> Case:
    """The current case version, validated again (PHI: stays inside the service or task)."""
    return checker.parse(json.dumps(request.current_version.document))


def evaluate(case: Case, checker: Checker, today: dt.date) -> Determination:
    """Rule 1: the records evaluate a stored case as of the day of the act, not its ``as_of``."""
    return checker.determine(case.model_copy(update={"as_of": today}))


def evaluation_of(version: m.CaseVersion, determination: Determination, when: m.When) -> m.Evaluation:
    return m.Evaluation(
        case_version=version,
        evaluated_on=when.today,
        policy_id=determination.policy_id,
        policy_version=determination.policy_version,
        policy_hash=determination.policy_hash,
        outcome=determination.outcome,
        next_step=determination.next_step,
        result=determination.to_dict(),
        created_at=when.now,
    )


def outcome(determination: Determination) -> m.Outcome:
    return m.outcome_of(determination.to_dict())


# --- intake and amend ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What intake did: a new request, an amended one, or a continuation; its status and determination."""

    request_id: int
    status: str
    determination: Determination
    case_version: int
    action: str  # new, amended, continuation

    @property
    def new_request(self) -> bool:
        return self.action != "amended"

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "status": self.status,
            "case_version": self.case_version,
            "action": self.action,
            "new_request": self.new_request,
            "determination": self.determination.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class _Taken:
    case: Case
    document: dict[str, Any]
    sha256: str
    determination: Determination


def _take(case_text: bytes | str, checker: Checker, when: m.When) -> _Taken:
    """Validate a case, refuse one from the future, and evaluate it as of today."""
    case = checker.parse(case_text)
    if case.as_of > when.today:
        raise InvalidInput(
            [f"as_of: {case.as_of} is after today ({when.today}); a case records facts already gathered"]
        )
    raw = case_text.encode("utf-8") if isinstance(case_text, str) else case_text
    return _Taken(
        case, json.loads(raw), "sha256:" + hashlib.sha256(raw).hexdigest(), evaluate(case, checker, when.today)
    )


def _identity(case: Case) -> tuple[str, str, str | None, str | None, str]:
    cov = case.coverage
    payer = payer_name_key(cov.payer_name) if cov.payer_name else None
    return (case.patient.id, case.request.treatment, cov.policy_id, payer, cov.plan_type)


def _check_same_course(request: m.Request, taken: _Taken) -> None:
    """Rule 5: an amend never changes the patient, the treatment or the payer."""
    before = request.current_version.document
    previous = _identity_of_document(before)
    now = _identity(taken.case)
    labels = ("patient.id", "request.treatment", "coverage.policy_id", "coverage.payer_name", "coverage.plan_type")
    changed = [label for label, old, new in zip(labels, previous, now, strict=True) if old != new]
    if taken.case.case_id != request.case_id:
        changed.insert(0, "case_id")
    if changed:
        raise InvalidInput(
            [
                f"{label}: differs from request {request.id}'s case; take it in as a new case instead"
                for label in changed
            ]
        )


def _identity_of_document(document: dict[str, Any]) -> tuple[str, str, str | None, str | None, str]:
    coverage = document.get("coverage") or {}
    payer = coverage.get("payer_name")
    return (
        document["patient"]["id"],
        document["request"]["treatment"],
        coverage.get("policy_id"),
        payer_name_key(payer) if payer else None,
        coverage["plan_type"],
    )


def _patient_and_coverage(uow: UnitOfWork, case: Case, now: dt.datetime) -> tuple[Patient, Coverage]:
    """The case's patient (created or updated) and coverage (reused when identical), linked to the directory."""
    patient = uow.patients.by_external_id(case.patient.id)
    if patient is None:
        patient = uow.patients.add(Patient(external_id=case.patient.id, created_at=now))
    patient.given_name = case.patient.given_name
    patient.family_name = case.patient.family_name
    patient.birth_date = case.patient.birth_date
    patient.updated_at = now
    uow.flush()
    cov = case.coverage
    payer = uow.payers.by_name(cov.payer_name) if cov.payer_name else None
    coverage = uow.patients.find_coverage(
        patient.id,
        plan_type=cov.plan_type,
        policy_id=cov.policy_id,
        payer_name=cov.payer_name,
        member_id=cov.member_id,
        group_number=cov.group_number,
    )
    if coverage is None:
        coverage = uow.patients.add_coverage(
            Coverage(
                patient_id=patient.id,
                plan_type=cov.plan_type,
                policy_id=cov.policy_id,
                payer_name=cov.payer_name,
                member_id=cov.member_id,
                group_number=cov.group_number,
                created_at=now,
            )
        )
    coverage.payer_id = payer.id if payer is not None else None
    uow.flush()
    return patient, coverage


def _version(uow: UnitOfWork, taken: _Taken, patient: Patient, when: m.When, by: str) -> m.CaseVersion:
    return m.CaseVersion(
        case_id=taken.case.case_id,
        version=uow.courses.next_case_version(taken.case.case_id),
        patient_id=patient.id,
        document=taken.document,
        sha256=taken.sha256,
        received_at=when.now,
        received_by=by,
    )


def _expedited_reason(expedited: bool, reason: str | None) -> str | None:
    text = optional_text("--expedited-reason", reason)
    if text is not None and not expedited:
        raise InvalidInput(["--expedited-reason: give it with --expedited"])
    if not expedited:
        return None
    return text or m.DEFAULT_EXPEDITED_REASON


def intake(
    case_text: bytes | str,
    *,
    uow: UnitOfWork,
    checker: Checker,
    ctx: Context,
    by: str,
    expedited: bool = False,
    expedited_reason: str | None = None,
    at: dt.datetime | None = None,
) -> IntakeResult:
    """Validate, store and evaluate a case (rule 6): a new course, an amend of its open request, or a
    continuation of its approved one. Nothing is written unless everything is."""
    by, when = actor(by), ctx.when(at)
    reason = _expedited_reason(expedited, expedited_reason)
    taken = _take(case_text, checker, when)
    case = taken.case
    with uow:
        course = uow.courses.by_case_id(case.case_id)
        if course is not None:
            owner = uow.patients.get(course.patient_id)
            if owner is None or owner.external_id != case.patient.id:
                raise InvalidInput(["case_id: already the course of another patient"])
        patient, coverage = _patient_and_coverage(uow, case, when.now)
        version = _version(uow, taken, patient, when, by)
        evaluation = evaluation_of(version, taken.determination, when)
        result = outcome(taken.determination)
        if course is None:
            course = uow.courses.add(
                m.Course(
                    case_id=case.case_id,
                    patient_id=patient.id,
                    treatment=case.request.treatment,
                    created_at=when.now,
                    updated_at=when.now,
                )
            )
            previous, action = None, "new"
        else:
            previous, action = _intake_target(course, case)
        if action == "amended":
            assert previous is not None
            _check_same_course(previous, taken)
            if reason is not None:
                previous.urgency, previous.expedited_reason = "expedited", reason
            previous.amend(version, evaluation, result, when, by)
            request = previous
        else:
            if action == "new" and case.request.treatment != course.treatment:
                raise InvalidInput([f"request.treatment: this course is {course.treatment}"])
            request = m.Request.taken_in(
                course,
                kind=case.request.kind if action == "new" else "continuation",
                indication=case.request.indication,
                version=version,
                evaluation=evaluation,
                outcome=result,
                coverage_id=coverage.id,
                payer_id=coverage.payer_id,
                expedited_reason=reason,
                previous=previous,
                when=when,
                by=by,
            )
        uow.flush()
        assert request.id is not None
        request_id, status = request.id, request.status
        uow.commit()
    log.info("intake: request %s is %s (%s)", request_id, status, action)
    return IntakeResult(request_id, status, taken.determination, version.version, action)


def _intake_target(course: m.Course, case: Case) -> tuple[m.Request | None, str]:
    """Rule 6: which request a known case id's intake lands on, or why it is refused."""
    latest = course.latest
    rid = latest.id
    if latest.status == "cancelled":
        return None, "new"
    if latest.status in OPEN:
        return latest, "amended"
    if latest.status in WITH_PAYER:
        raise IllegalTransition(
            f"request {rid} is with the payer ({latest.status}): "
            f"record its answer first (`priorauth requests record {rid} ...`)"
        )
    if latest.status in APPROVING:
        if case.request.kind == "continuation":
            course.can_continue(latest)
            return latest, "continuation"
        raise IllegalTransition(
            f"request {rid} is {latest.status}: for the next period, "
            f"`priorauth requests continue {rid}` (or a case of kind continuation)"
        )
    fits = {
        "denied": f"`priorauth requests amend {rid} CASE.json` adds evidence; `priorauth requests appeal {rid}`",
        "appeal_drafted": f"`priorauth requests amend {rid} CASE.json` adds evidence to the appeal",
        "appeal_denied": f"`priorauth requests appeal {rid}` or `priorauth requests transition {rid} external_review`",
        "external_review": f"`priorauth requests record {rid}` when the reviewer decides",
        "not_required": "no prior authorization is needed: record sessions with `priorauth sessions add`",
        "payment_plan": f"the course is self-pay: `priorauth plan {rid}`",
    }
    raise IllegalTransition(f"request {rid} is {latest.status}: {fits.get(latest.status, 'cancel it first')}")


def amend(
    request_id: int, case_text: bytes | str, *, uow: UnitOfWork, checker: Checker, ctx: Context, by: str
) -> IntakeResult:
    """Rule 5: a new case version on the same request, re-evaluated today; an open send task closes."""
    by, when = actor(by), ctx.when()
    taken = _take(case_text, checker, when)
    with uow:
        _, request = load(uow, request_id)
        _check_same_course(request, taken)
        patient, _ = _patient_and_coverage(uow, taken.case, when.now)
        version = _version(uow, taken, patient, when, by)
        request.amend(
            version, evaluation_of(version, taken.determination, when), outcome(taken.determination), when, by
        )
        status = request.status
        uow.commit()
    return IntakeResult(request_id, status, taken.determination, version.version, "amended")


# --- sendings -----------------------------------------------------------------------------------


def _channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise InvalidInput([f"--channel: {channel!r} is not one of {', '.join(CHANNELS)}"])
    return channel


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """A sending recorded (or found under its idempotency key)."""

    request_id: int
    submission_id: int
    status: str
    recorded: bool


def submit(
    request_id: int,
    *,
    uow: UnitOfWork,
    ctx: Context,
    channel: str,
    by: str,
    reference: str | None = None,
    sent_on: dt.date | None = None,
    idempotency_key: str | None = None,
    at: dt.datetime | None = None,
) -> SubmitResult:
    """Rule 3: record a sending made by a person or a gateway; an open send task closes.

    With an ``idempotency_key`` already recorded, the earlier sending is returned, nothing written.
    """
    by, when = actor(by), ctx.when(at)
    channel = _channel(channel)
    reference = optional_text("--reference", reference, kind="short")
    with uow:
        if idempotency_key is not None:
            holder = uow.courses.submission_holder(idempotency_key)
            if holder is not None:
                if holder != request_id:
                    raise InvalidInput([f"idempotency_key: already used for request {holder}"])
                _, request = load(uow, request_id)
                done = next(s for s in request.submissions if s.idempotency_key == idempotency_key)
                return SubmitResult(request_id, done.id or 0, request.status, recorded=False)
        _, request = load(uow, request_id)
        submission = request.submit(
            channel=channel,
            reference=reference,
            sent_on=sent_on or when.today,
            terms=ctx.terms(uow, request),
            signoff_required=ctx.signoff_required,
            when=when,
            by=by,
            idempotency_key=idempotency_key,
        )
        uow.flush()
        result = SubmitResult(request_id, submission.id or 0, request.status, recorded=True)
        uow.commit()
    return result


def send_failed(request_id: int, reason: str, *, uow: UnitOfWork, ctx: Context, by: str) -> RequestView:
    """A failed attempt to send; the task stays open."""
    by, when = actor(by), ctx.when()
    reason = clean_text("--reason", reason)
    with uow:
        _, request = load(uow, request_id)
        request.send_failed(reason, when, by)
        view = request_view(request, names(uow, request), as_of=when.today, now=when.now, clocks=ctx.clocks)
        uow.commit()
    return view


def signoff(
    request_id: int, *, approve: bool, uow: UnitOfWork, ctx: Context, by: str, note: str | None = None
) -> RequestView:
    """Rule 4: a clinician approves or rejects the prepared sending (an event, no waiting process)."""
    by, when = actor(by), ctx.when()
    note = optional_text("--note", note)
    with uow:
        _, request = load(uow, request_id)
        request.decide_signoff(approve=approve, note=note, when=when, by=by, required=ctx.signoff_required)
        view = request_view(request, names(uow, request), as_of=when.today, now=when.now, clocks=ctx.clocks)
        uow.commit()
    return view


# --- answers ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerInput:
    """The payer's answer as typed or received; units are the billing code's (or ``sessions``)."""

    decision: Decision
    decided_on: dt.date | None = None
    reference: str | None = None
    reason: str | None = None
    info_requested: str | None = None
    respond_by: dt.date | None = None
    auth_number: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    units: int | None = None
    sessions: int | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """Where the request stands after the answer, and whether it was new."""

    request: RequestView
    recorded: bool


#: Units and sessions are at most this (a year of twice-weekly 84 mg sessions is 8,736 units).


def _check_answer(answer: AnswerInput) -> list[str]:
    problems = []
    if answer.decision not in DECISIONS:
        problems.append(f"answer: {answer.decision!r} is not one of {', '.join(DECISIONS)}")
    if answer.decision in ("approved", "partially_approved"):
        for option, value in (
            ("--auth-number", answer.auth_number),
            ("--from", answer.valid_from),
            ("--to", answer.valid_to),
        ):
            if value is None:
                problems.append(f"{option}: required with --{answer.decision.replace('_', '-')}")
        if (answer.units is None) == (answer.sessions is None):
            problems.append("--units: give the authorized units or --sessions (one of the two)")
    if (
        answer.decision == "modified"
        and answer.valid_from is None
        and answer.valid_to is None
        and answer.units is None
        and answer.sessions is None
    ):
        problems.append("--modified: give the new --from, --to, --units or --sessions")
    if answer.decision == "denied" and not (answer.reason or "").strip():
        problems.append("--reason: required with --denied (the payer's specific reason)")
    if answer.decision == "pended" and not (answer.info_requested or "").strip():
        problems.append("--info-requested: required with --pended (what the payer asks for)")
    for option, count in (("--units", answer.units), ("--sessions", answer.sessions)):
        if count is not None and not 1 <= count <= MAX_UNITS:
            problems.append(f"{option}: must be 1 to {MAX_UNITS}")
    if answer.valid_from is not None and answer.valid_to is not None and answer.valid_to < answer.valid_from:
        problems.append(f"--to: {answer.valid_to} is before --from {answer.valid_from}")
    return problems


def units_per_session(request: m.Request) -> tuple[str | None, int]:
    """The billing code of the request's sessions and its units for one session (rule 9)."""
    evaluation = request.evaluation
    billing = evaluation.result.get("billing") if evaluation is not None else None
    if not billing:
        return None, 1
    return str(billing[0]["code"]), int(billing[0]["units"])


def record_answer(
    request_id: int, answer: AnswerInput, *, uow: UnitOfWork, ctx: Context, by: str, at: dt.datetime | None = None
) -> AnswerResult:
    """Rule 7: the payer's answer, dated as the payer dated it, recorded once."""
    by, when = actor(by), ctx.when(at)
    problems = _check_answer(answer)
    if problems:
        raise InvalidInput(problems)
    with uow:
        request, recorded = _apply_answer(uow, request_id, answer, ctx=ctx, when=when, by=by)
        uow.flush()
        view = request_view(request, names(uow, request), as_of=when.today, now=when.now, clocks=ctx.clocks)
        if recorded:
            uow.commit()
    return AnswerResult(view, recorded)


def _apply_answer(
    uow: UnitOfWork,
    request_id: int,
    answer: AnswerInput,
    *,
    ctx: Context,
    when: m.When,
    by: str,
    course: m.Course | None = None,
    holders: dict[str, int] | None = None,
) -> tuple[m.Request, bool]:
    """Apply one checked answer inside an open unit of work: the request, and whether it was new.

    A batch passes the request's ``course`` and the answer keys' ``holders``, loaded for all at once.
    """
    if answer.idempotency_key is not None:
        if holders is None:
            holder = uow.courses.answer_holder(answer.idempotency_key)
        else:
            holder = holders.get(answer.idempotency_key)
        if holder is not None and holder != request_id:
            raise InvalidInput([f"idempotency_key: already applied to request {holder}"])
    if course is None:
        _, request = load(uow, request_id)
    else:
        request = course.request(request_id)
    code, per_session = units_per_session(request)
    units = answer.units if answer.sessions is None else answer.sessions * per_session
    entry = m.Answer(
        decision=answer.decision,
        decided_on=answer.decided_on or when.today,
        recorded_at=when.now,
        by=by,
        reference=optional_text("--reference", answer.reference, kind="short"),
        reason=optional_text("--reason", answer.reason),
        info_requested=optional_text("--info-requested", answer.info_requested),
        respond_by=answer.respond_by,
        authorization_number=optional_text("--auth-number", answer.auth_number, kind="short"),
        valid_from=answer.valid_from,
        valid_to=answer.valid_to,
        units=units,
        idempotency_key=answer.idempotency_key,
    )
    _, recorded = request.record_answer(entry, code=code, terms=ctx.terms(uow, request), when=when, by=by)
    return request, recorded


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """What one answer of a batch did: the request's stored status, whether it was new, or the error's type."""

    request_id: int
    status: str | None
    recorded: bool
    error: str | None = None


def record_answers(
    answers: Sequence[tuple[int, AnswerInput]],
    *,
    uow: UnitOfWork,
    ctx: Context,
    by: str,
    at: dt.datetime | None = None,
) -> list[BatchAnswer]:
    """A batch of the payers' answers (automated status checks) applied in one unit of work, one commit.

    An answer the lifecycle refuses changes nothing (every move checks its rules first) and is
    reported by its error's type; the others are applied. If the batch's commit fails (a clerk
    changed one of the requests meanwhile), the answers are applied one by one instead.
    """
    try:
        with uow:
            results = apply_answers(answers, uow=uow, ctx=ctx, by=by, at=at)
            uow.commit()
        return results
    except (StaleVersion, StorageError):
        return record_answers_one_by_one(answers, uow=uow, ctx=ctx, by=by, at=at)


def apply_answers(
    answers: Sequence[tuple[int, AnswerInput]],
    *,
    uow: UnitOfWork,
    ctx: Context,
    by: str,
    at: dt.datetime | None = None,
    courses: Mapping[int, m.Course] | None = None,
) -> list[BatchAnswer]:
    """Apply a batch of answers inside an open unit of work (the caller commits); ``courses`` when loaded."""
    by, when = actor(by), ctx.when(at)
    results: list[BatchAnswer] = []
    missing = {request_id for request_id, _ in answers} - set(courses or {})
    loaded = {**(courses or {}), **(uow.courses.by_requests(missing) if missing else {})}
    holders = uow.courses.answer_holders({a.idempotency_key for _, a in answers if a.idempotency_key})
    for request_id, answer in answers:
        problems = _check_answer(answer)
        if problems:
            results.append(BatchAnswer(request_id, None, False, InvalidInput.__name__))
            continue
        if request_id not in loaded:
            results.append(BatchAnswer(request_id, None, False, NotFound.__name__))
            continue
        try:
            request, recorded = _apply_answer(
                uow, request_id, answer, ctx=ctx, when=when, by=by, course=loaded[request_id], holders=holders
            )
        except PriorAuthError as error:
            results.append(BatchAnswer(request_id, None, False, type(error).__name__))
            continue
        results.append(BatchAnswer(request_id, request.stored_status, recorded))
    return results


def record_answers_one_by_one(
    answers: Sequence[tuple[int, AnswerInput]],
    *,
    uow: UnitOfWork,
    ctx: Context,
    by: str,
    at: dt.datetime | None = None,
) -> list[BatchAnswer]:
    """Each answer in a unit of work of its own (after a batch met a concurrent change)."""
    log.info("a batch of %s answers met a concurrent change: applied one by one", len(answers))
    results: list[BatchAnswer] = []
    for request_id, answer in answers:
        try:
            one = record_answer(request_id, answer, uow=uow, ctx=ctx, by=by, at=at)
        except PriorAuthError as error:
            results.append(BatchAnswer(request_id, None, False, type(error).__name__))
            continue
        results.append(BatchAnswer(request_id, one.request.stored_status, one.recorded))
    return results


# --- moves, undo, continue ----------------------------------------------------------------------


def transition(
    request_id: int,
    to_status: str,
    *,
    uow: UnitOfWork,
    ctx: Context,
    by: str,
    reason: str | None = None,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> RequestView:
    """A move that carries no payer data: appeal_drafted, external_review, payment_plan, cancelled."""
    by, when = actor(by), ctx.when()
    target = parse_status(to_status.strip())
    if target not in PLAIN_MOVES:
        raise InvalidInput([f"status: {target} is reached with its own command ({_own_command(target)})"])
    reason = optional_text("--reason", reason)
    with uow:
        if idempotency_key is not None and uow.courses.event_key_used(idempotency_key):
            _, request = load(uow, request_id)
            return request_view(request, names(uow, request), as_of=when.today, now=when.now, clocks=ctx.clocks)
        _, request = load(uow, request_id)
        if expected_version is not None and request.version != expected_version:
            raise IllegalTransition(
                f"request {request_id}: is at version {request.version}, not {expected_version}; reload it"
            )
        if target == "appeal_drafted":
            request.appeal(when, by, reason)
        else:
            request.move(target, when, by, reason=reason, key=idempotency_key)
        view = request_view(request, names(uow, request), as_of=when.today, now=when.now, clocks=ctx.clocks)
        uow.commit()
    return view


def _own_command(status: str) -> str:
    commands = {
        "submitted": "requests submit",
        "appeal_submitted": "requests submit",
        "ready": "requests amend",
        "draft": "requests amend or requests signoff --reject",
        "pended": "requests record --pended",
        "approved": "requests record --approved",
        "partially_approved": "requests record --partial",
        "denied": "requests record --denied",
        "appeal_approved": "requests record --approved",
        "appeal_denied": "requests record --denied",
        "not_required": "requests record --not-required",
    }
    return f"`priorauth {commands.get(status, 'requests show')}`"


def undo(request_id: int, reason: str, *, uow: UnitOfWork, ctx: Context, by: str) -> RequestView:
    """Rule 11: reverse the request's last change of state; the undo is recorded, nothing deleted."""
    by, when = actor(by), ctx.when()
    reason = clean_text("--reason", reason)
    with uow:
        _, request = load(uow, request_id)
        last = request.last_undoable()
        if last is not None and last.to_status == "payment_plan" and uow.plans.active_for_request(request_id):
            plan = uow.plans.active_for_request(request_id)
            assert plan is not None
            command = f"`priorauth payments cancel {plan.id}`"
            raise IllegalTransition(f"request {request_id}: plan {plan.id} is active; cancel it first ({command})")
        request.undo(reason, terms=ctx.terms(uow, request), when=when, by=by)
        view = request_view(request, names(uow, request), as_of=when.today, now=when.now, clocks=ctx.clocks)
        uow.commit()
    return view


def continue_request(
    request_id: int, *, uow: UnitOfWork, checker: Checker, ctx: Context, by: str, at: dt.datetime | None = None
) -> IntakeResult:
    """Rule 8: a continuation request from the latest case version of the course's approved request."""
    by, when = actor(by), ctx.when(at)
    with uow:
        course, request = load(uow, request_id)
        course.can_continue(request)
        auth = request.current_authorization
        if auth is None:
            raise IllegalTransition(f"request {request_id}: has no authorization to continue")
        given = [s.date for s in course.live_sessions] or [a.valid_from for a in course.live_authorizations]
        first = min(given, default=auth.valid_from)
        if first > when.today:
            raise IllegalTransition(
                f"request {request_id}: its authorization starts {first} and no session is recorded yet; "
                "a continuation is asked for once treatment has begun"
            )
        document = json.loads(json.dumps(request.current_version.document))
        document["as_of"] = when.today.isoformat()
        document["request"]["kind"] = "continuation"
        if not document["request"].get("therapy_start"):
            document["request"]["therapy_start"] = first.isoformat()
        # The next period starts the day after this one ends, or today when its units are used up.
        next_day = when.today if course.units_left(auth) <= 0 else auth.valid_to + dt.timedelta(days=1)
        document["request"]["start_date"] = max(when.today, next_day).isoformat()
        text = json.dumps(document)
        taken = _take(text, checker, when)
        patient = uow.patients.get(course.patient_id)
        assert patient is not None
        version = _version(uow, taken, patient, when, by)
        created = m.Request.taken_in(
            course,
            kind="continuation",
            indication=request.indication,
            version=version,
            evaluation=evaluation_of(version, taken.determination, when),
            outcome=outcome(taken.determination),
            coverage_id=request.coverage_id,
            payer_id=request.payer_id,
            expedited_reason=None,
            previous=request,
            when=when,
            by=by,
            action="continue",
        )
        uow.flush()
        assert created.id is not None
        result = IntakeResult(created.id, created.status, taken.determination, version.version, "continuation")
        uow.commit()
    log.info("request %s: continued as request %s", request_id, result.request_id)
    return result


# --- reading ------------------------------------------------------------------------------------


def get_request(request_id: int, *, uow: UnitOfWork, ctx: Context, as_of: dt.date | None = None) -> RequestDetail:
    """A request with its determination, sendings, answers, authorizations, documents, sessions, history."""
    when = ctx.when()
    with uow:
        _, request = load(uow, request_id)
        return request_detail(request, names(uow, request), as_of=as_of or when.today, now=when.now, clocks=ctx.clocks)


def list_requests(
    *,
    uow: UnitOfWork,
    ctx: Context,
    status: str | None = None,
    payer: str | None = None,
    as_of: dt.date | None = None,
) -> list[RequestRow]:
    """Requests, oldest first; ``status`` matches the status as of ``as_of`` (expiring, expired too)."""
    when = ctx.when()
    day = as_of or when.today
    wanted = parse_status(status, read=True) if status is not None else None
    stored = APPROVING if wanted in ("expiring", "expired") else ({wanted} if wanted is not None else None)
    with uow:
        payer_id = None
        if payer is not None:
            row = uow.payers.by_name(payer)
            if row is None:
                return []
            payer_id = row.id
        facts = uow.courses.facts(statuses=stored, payer_id=payer_id)
    rows = [request_row(f, as_of=day, now=when.now, clocks=ctx.clocks) for f in facts]
    return [r for r in rows if wanted is None or r.status == wanted]


def case_document(request_id: int, *, uow: UnitOfWork) -> dict[str, Any]:
    """The current case version's document (PHI); load it inside a task, never pass it."""
    with uow:
        _, request = load(uow, request_id)
        return dict(request.current_version.document)


# --- batches for flows --------------------------------------------------------------------------


def due_for_check(
    now: dt.datetime, *, uow: UnitOfWork, limit: int = 100, min_interval: dt.timedelta = dt.timedelta(hours=4)
) -> list[int]:
    """Ids of requests with the payer that no check looked at within ``min_interval``; soonest due first."""
    with uow:
        return uow.courses.due_for_check(
            frozenset({*WITH_PAYER, "pended"}), checked_before=now - min_interval, limit=limit
        )


def mark_checked(request_ids: Sequence[int], *, uow: UnitOfWork, at: dt.datetime) -> None:
    """Note that a status check looked at these requests (no status change, no version bump)."""
    with uow:
        uow.courses.mark_checked(request_ids, at)
        uow.commit()


def follow_up(request_ids: Sequence[int], *, uow: UnitOfWork, ctx: Context, by: str) -> list[int]:
    """Note a follow-up on each overdue request, at most once a day; the ids that got one."""
    when = ctx.when()
    noted: list[int] = []
    with uow:
        for request_id in request_ids:
            key = f"follow-up:{request_id}:{when.today.isoformat()}"
            course = uow.courses.by_request(request_id)
            if course is None or uow.courses.event_key_used(key):
                continue
            request = course.request(request_id)
            if request.status not in WITH_PAYER:
                continue
            request.follow_up(when, by, key=key)
            noted.append(request_id)
        uow.commit()
    return noted
