"""An in-memory unit of work for the domain and service tests: the same interface, no database.

Objects live in dictionaries; a flush or a commit numbers new ones, as a database would. There
is no isolation and no rollback of objects already changed: the moves check every rule before
they change anything, and the SQL tests cover what only a database does (locks, constraints).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self

from coverage.requests.lifecycle import FINAL
from coverage.requests.model import Course, Request
from coverage.requests.work import RANK, Projection, WorkRow
from coverage.store.repositories import (
    AccountRepository,
    ClaimRepository,
    CourseRepository,
    PatientRepository,
    PayerRepository,
    PlanRepository,
    RequestFacts,
    RunRecord,
    RunRepository,
    VisibleWork,
    WorkFilter,
    WorkRepository,
    payer_name_key,
)
from coverage.store.tables import Account, Coverage, Patient, Payer, PaymentPlan
from coverage.store.uow import UnitOfWork


class _Numbers:
    """Ids per kind of object, as a database's sequences give them."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def give(self, thing: Any) -> None:
        if getattr(thing, "id", None) is None:
            counter = self._counters.setdefault(type(thing).__name__, itertools.count(1))
            thing.id = next(counter)


class FakePatients(PatientRepository):
    def __init__(self) -> None:
        self.rows: list[Patient] = []
        self.coverages: list[Coverage] = []

    def get(self, patient_id: int) -> Patient | None:
        return next((p for p in self.rows if p.id == patient_id), None)

    def by_external_id(self, external_id: str) -> Patient | None:
        return next((p for p in self.rows if p.external_id == external_id), None)

    def add(self, patient: Patient) -> Patient:
        self.rows.append(patient)
        return patient

    def find_coverage(
        self,
        patient_id: int,
        *,
        plan_type: str,
        policy_id: str | None,
        payer_name: str | None,
        member_id: str | None,
        group_number: str | None,
    ) -> Coverage | None:
        wanted = (patient_id, plan_type, policy_id, payer_name, member_id, group_number)
        found = [
            c
            for c in self.coverages
            if (c.patient_id, c.plan_type, c.policy_id, c.payer_name, c.member_id, c.group_number) == wanted
        ]
        return found[-1] if found else None

    def add_coverage(self, coverage: Coverage) -> Coverage:
        self.coverages.append(coverage)
        return coverage

    def coverage(self, coverage_id: int) -> Coverage | None:
        return next((c for c in self.coverages if c.id == coverage_id), None)

    def many(self, patient_ids: Collection[int]) -> dict[int, Patient]:
        return {p.id: p for p in self.rows if p.id in patient_ids}

    def many_coverages(self, coverage_ids: Collection[int]) -> dict[int, Coverage]:
        return {c.id: c for c in self.coverages if c.id in coverage_ids}

    def payer_names(self, coverage_ids: Collection[int]) -> dict[int, str | None]:
        return {c.id: c.payer_name for c in self.coverages if c.id in coverage_ids}


class FakePayers(PayerRepository):
    def __init__(self) -> None:
        self.rows: list[Payer] = []

    def get(self, payer_id: int) -> Payer | None:
        return next((p for p in self.rows if p.id == payer_id), None)

    def by_name(self, name: str) -> Payer | None:
        key = payer_name_key(name)
        return next((p for p in self.rows if p.name_key == key), None)

    def all(self) -> Sequence[Payer]:
        return sorted(self.rows, key=lambda p: p.name_key)

    def add(self, payer: Payer) -> Payer:
        payer.name_key = payer_name_key(payer.name)
        self.rows.append(payer)
        return payer


class FakeCourses(CourseRepository):
    def __init__(self) -> None:
        self.rows: list[Course] = []

    def _requests(self) -> Iterator[Request]:
        return (r for c in self.rows for r in c.requests)

    def add(self, course: Course) -> Course:
        self.rows.append(course)
        return course

    def by_request(self, request_id: int) -> Course | None:
        return next((c for c in self.rows if any(r.id == request_id for r in c.requests)), None)

    def by_case_id(self, case_id: str) -> Course | None:
        return next((c for c in self.rows if c.case_id == case_id), None)

    def by_session(self, session_id: int) -> Course | None:
        return next((c for c in self.rows if any(s.id == session_id for s in c.sessions)), None)

    def next_case_version(self, case_id: str) -> int:
        course = self.by_case_id(case_id)
        versions = [v.version for r in course.requests for v in r.case_versions] if course else []
        return max(versions, default=0) + 1

    def answer_holder(self, idempotency_key: str) -> int | None:
        return next((r.id for r in self._requests() for a in r.answers if a.idempotency_key == idempotency_key), None)

    def submission_holder(self, idempotency_key: str) -> int | None:
        requests = self._requests()
        return next((r.id for r in requests for s in r.submissions if s.idempotency_key == idempotency_key), None)

    def event_key_used(self, idempotency_key: str) -> bool:
        return any(e.idempotency_key == idempotency_key for r in self._requests() for e in r.events)

    def current_cases(
        self,
        policy_id: str,
        *,
        statuses: Collection[str],
        approving: Collection[str],
        sent: Collection[str],
        batch: int = 1000,
    ) -> Iterator[tuple[int, str]]:
        requests = list(self._requests())
        for request in sorted(requests, key=lambda r: r.id or 0):
            document = request.current_version.document
            if (document.get("coverage") or {}).get("policy_id") != policy_id or request.id is None:
                continue
            followed = any(r.previous_request_id == request.id and r.status in sent for r in requests)
            if request.status in statuses or (request.status in approving and not followed):
                yield request.id, json.dumps(document)

    def open_courses(self) -> Sequence[Course]:
        return [c for c in self.rows if any(r.status not in FINAL for r in c.requests)]

    def requests(
        self,
        *,
        statuses: Collection[str] | None = None,
        payer_id: int | None = None,
        request_ids: Collection[int] | None = None,
    ) -> Sequence[Request]:
        found = [
            r
            for r in self._requests()
            if (statuses is None or r.status in statuses)
            and (payer_id is None or r.payer_id == payer_id)
            and (request_ids is None or r.id in request_ids)
        ]
        return sorted(found, key=lambda r: r.id or 0)

    def facts(self, *, statuses: Collection[str] | None = None, payer_id: int | None = None) -> list[RequestFacts]:
        found = []
        for request in self.requests(statuses=statuses, payer_id=payer_id):
            auth = request.current_authorization
            found.append(
                RequestFacts(
                    request_id=request.id or 0,
                    course_id=request.course_id or 0,
                    case_id=request.case_id,
                    kind=request.kind,
                    status=request.status,
                    urgency=request.urgency,
                    due_at=request.due_at,
                    patient_id=str(request.patient_id),
                    payer_name=None,
                    auth_number=auth.number if auth else None,
                    auth_valid_from=auth.valid_from if auth else None,
                    auth_valid_to=auth.valid_to if auth else None,
                    auth_code=auth.code if auth else None,
                    auth_units=auth.units_authorized if auth else None,
                    auth_used=request.units_used(auth) if auth else 0,
                )
            )
        return found

    def due_for_check(self, statuses: Collection[str], *, checked_before: dt.datetime, limit: int) -> list[int]:
        found = [
            r
            for r in self._requests()
            if r.status in statuses and (r.checked_at is None or r.checked_at < checked_before)
        ]
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        found.sort(key=lambda r: (r.due_at is None, r.due_at or far, r.id or 0))
        return [r.id for r in found[:limit] if r.id is not None]

    def mark_checked(self, request_ids: Collection[int], at: dt.datetime) -> None:
        for request in self._requests():
            if request.id in request_ids:
                request.checked_at = at

    def document_content(self, document_id: int) -> bytes | None:
        return None


class FakeAccounts(AccountRepository):
    def __init__(self) -> None:
        self.rows: list[Account] = []

    def for_patient(self, patient_id: int, *, for_update: bool = False) -> Account | None:
        return next((a for a in self.rows if a.patient_id == patient_id), None)

    def get(self, account_id: int, *, for_update: bool = False) -> Account | None:
        return next((a for a in self.rows if a.id == account_id), None)

    def add(self, account: Account) -> Account:
        if getattr(account, "entries", None) is None:
            account.entries = []
        self.rows.append(account)
        return account

    def by_entry(self, entry_id: int) -> int | None:
        return next((a.id for a in self.rows for e in a.entries if e.id == entry_id), None)


class FakePlans(PlanRepository):
    def __init__(self) -> None:
        self.rows: list[PaymentPlan] = []

    def get(self, plan_id: int, *, for_update: bool = False) -> PaymentPlan | None:
        return next((p for p in self.rows if p.id == plan_id), None)

    def add(self, plan: PaymentPlan) -> PaymentPlan:
        self.rows.append(plan)
        return plan

    def for_request(self, request_id: int) -> Sequence[PaymentPlan]:
        return [p for p in self.rows if p.request_id == request_id]

    def active_for_request(self, request_id: int) -> PaymentPlan | None:
        active = [p for p in self.for_request(request_id) if p.status == "active"]
        return active[-1] if active else None

    def active_with_installments_due_before(self, as_of: dt.date) -> Sequence[PaymentPlan]:
        return [p for p in self.rows if p.status == "active" and any(i.due_date < as_of for i in p.installments)]

    def for_account(self, account_id: int) -> Sequence[PaymentPlan]:
        return [p for p in self.rows if p.account_id == account_id]


class FakeWork(WorkRepository):
    def __init__(self, courses: FakeCourses, payers: FakePayers, patients: FakePatients) -> None:
        self.rows: dict[int, list[WorkRow]] = {}
        self.courses = courses
        self.payers = payers
        self.patients = patients
        self.marked: str | None = None

    def replace(self, course_id: int, rows: Sequence[WorkRow]) -> None:
        self.rows[course_id] = list(rows)

    def _payer_name(self, request: Request) -> str | None:
        if request.payer_id is not None:
            payer = self.payers.get(request.payer_id)
            return payer.name if payer is not None else None
        coverage = self.patients.coverage(request.coverage_id) if request.coverage_id is not None else None
        return coverage.payer_name if coverage is not None else None

    def _visible(self, as_of: dt.date, only: WorkFilter | None) -> list[VisibleWork]:
        requests = {r.id: r for c in self.courses.rows for r in c.requests}
        found = [
            VisibleWork(
                row,
                requests[row.request_id].case_id,
                requests[row.request_id].status,
                requests[row.request_id].urgency,
                requests[row.request_id].payer_id,
                requests[row.request_id].coverage_id,
            )
            for rows in self.rows.values()
            for row in rows
            if row.visible_from <= as_of and (row.visible_until is None or row.visible_until >= as_of)
        ]
        if only is not None:
            found = [
                v
                for v in found
                if (not only.kind or v.row.kind == only.kind)
                and (not only.status or v.status == only.status)
                and (not only.payer or self._payer_name(requests[v.row.request_id]) == only.payer)
            ]
        found.sort(
            key=lambda v: (
                v.row.due,
                v.urgency != "expedited",
                RANK[v.row.kind],
                v.row.request_id,
                v.row.visible_from,
            )
        )
        return found

    def visible(
        self, as_of: dt.date, *, only: WorkFilter | None = None, offset: int = 0, limit: int | None = None
    ) -> list[VisibleWork]:
        found = self._visible(as_of, only)
        return found[offset : None if limit is None else offset + limit]

    def count(self, as_of: dt.date, *, only: WorkFilter | None = None) -> int:
        return len(self._visible(as_of, only))

    def signature(self) -> str | None:
        return self.marked

    def mark(self, signature: str) -> None:
        self.marked = signature


class FakeClaims(ClaimRepository):
    def __init__(self, courses: FakeCourses) -> None:
        self.courses = courses
        self.held: dict[int, tuple[str, int, dt.datetime]] = {}

    def take(
        self,
        request_id: int,
        *,
        version: int | None,
        sending: int,
        claimant: str,
        now: dt.datetime,
        stale_before: dt.datetime,
    ) -> bool:
        from coverage.requests.lifecycle import SENDABLE

        request = next((r for r in self.courses._requests() if r.id == request_id), None)
        if request is None or request.status not in SENDABLE or (version is not None and request.version != version):
            return False
        held = self.held.get(request_id)
        if held is not None and held[0] != claimant and held[2] >= stale_before:
            return False
        self.held[request_id] = (claimant, sending, now)
        return True

    def release(self, request_id: int, claimant: str) -> None:
        if self.held.get(request_id, ("",))[0] == claimant:
            del self.held[request_id]


class FakeRuns(RunRepository):
    def __init__(self) -> None:
        self.rows: dict[str, RunRecord] = {}

    def started(self, flow_run_id: str, flow: str, request_id: int | None, at: dt.datetime) -> int:
        old = self.rows.get(flow_run_id)
        attempts = 1 if old is None else old.attempts + 1
        self.rows[flow_run_id] = RunRecord(flow_run_id, flow, request_id, "running", attempts, at, None, None)
        return attempts

    def ended(self, flow_run_id: str, state: str, at: dt.datetime, reason: str | None = None) -> None:
        old = self.rows.get(flow_run_id)
        if old is not None:
            self.rows[flow_run_id] = RunRecord(
                old.flow_run_id, old.flow, old.request_id, state, old.attempts, old.started_at, at, reason
            )

    def unresolved(self, stale_before: dt.datetime) -> list[RunRecord]:
        latest: dict[int, RunRecord] = {}
        for row in self.rows.values():
            if row.request_id is not None:
                latest[row.request_id] = row
        return [
            r
            for r in latest.values()
            if r.state in ("failed", "crashed") or (r.state == "running" and r.started_at < stale_before)
        ]


class FakeUnitOfWork(UnitOfWork):
    """Everything in memory; ``commits`` counts the commits (a test can see that a service committed)."""

    courses: FakeCourses
    patients: FakePatients
    payers: FakePayers
    plans: FakePlans
    accounts: FakeAccounts
    work: FakeWork
    claims: FakeClaims
    runs: FakeRuns

    def __init__(self, projection: Projection | None = None) -> None:
        self.courses = FakeCourses()
        self.patients = FakePatients()
        self.payers = FakePayers()
        self.plans = FakePlans()
        self.accounts = FakeAccounts()
        self.work = FakeWork(self.courses, self.payers, self.patients)
        self.claims = FakeClaims(self.courses)
        self.runs = FakeRuns()
        self.projection = projection or Projection()
        self.commits = 0
        self._numbers = _Numbers()
        self._open = False

    def __enter__(self) -> Self:
        if self._open:
            raise RuntimeError("this unit of work is already open")
        self._open = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._open = False

    def _everything(self) -> Iterable[Any]:
        yield from self.patients.rows
        yield from self.patients.coverages
        yield from self.payers.rows
        for course in self.courses.rows:
            yield course
            for request in course.requests:
                request.course_id = course.id
                yield request
                for part in (
                    request.case_versions,
                    request.evaluations,
                    request.submissions,
                    request.authorizations,
                    request.answers,
                    request.send_tasks,
                    request.signoffs,
                    request.documents,
                    request.events,
                ):
                    for item in part:
                        if hasattr(item, "request_id"):
                            item.request_id = request.id
                        yield item
                for task in request.send_tasks:
                    yield from task.failures
            for session in course.sessions:
                session.course_id = course.id
                yield session
        for account in self.accounts.rows:
            yield account
            for entry in account.entries:
                entry.account_id = account.id
                yield entry
        for plan in self.plans.rows:
            yield plan
            yield from plan.installments

    def flush(self) -> None:
        # Parents first, so that children can take their parents' ids (as foreign keys).
        for _ in range(2):
            for thing in self._everything():
                self._numbers.give(thing)

    def commit(self) -> None:
        self.flush()
        for course in self.courses.rows:
            assert course.id is not None
            self.work.replace(course.id, self.projection.rows(course))
        self.commits += 1

    def rollback(self) -> None:
        """Nothing to forget: see the module's docstring."""
