"""Repositories: what a unit of work offers the services. Each has an interface, a SQL implementation
(here) and an in-memory one (:mod:`coverage.store.fake`). They add and query; they never commit.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.orm import RelationshipProperty, Session, lazyload, undefer
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.interfaces import ORMOption

from coverage.requests.lifecycle import FINAL
from coverage.requests.model import Course, Evaluation, Request
from coverage.requests.work import RANK, WorkRow
from coverage.store import tables as t
from coverage.store.tables import Account, Coverage, LedgerEntry, Patient, Payer, PaymentPlan, PlanInstallment


def among(session: Session, column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``: one parameter, whatever the count.

    An ``IN`` list of hundreds of ids is a statement of its own for every count, rendered again and
    parsed again by the driver (which caches short statements only); the array keeps it short.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def insert_many(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert these rows (dicts with the same keys); on PostgreSQL as one statement, one array per column.

    ``INSERT ... SELECT * FROM unnest(...)``: one short statement whatever the number of rows,
    instead of one execution per row. Elsewhere, and for a few rows, an ``executemany``.
    """
    if len(rows) < 2 or session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    arrays = [bindparam(None, [row[name] for row in rows], type_=ARRAY(table.c[name].type)) for name in names]
    values = func.unnest(*arrays).table_valued(*names).render_derived()
    session.execute(insert(table).from_select(names, select(*(values.c[name] for name in names))))


def payer_name_key(name: str) -> str:
    """How payer names are compared: case-folded, single spaces."""
    return " ".join(name.split()).casefold()


# --- interfaces -------------------------------------------------------------------------------


class PatientRepository(ABC):
    """Patients and their coverages."""

    @abstractmethod
    def get(self, patient_id: int) -> Patient | None: ...

    @abstractmethod
    def by_external_id(self, external_id: str) -> Patient | None: ...

    @abstractmethod
    def add(self, patient: Patient) -> Patient: ...

    @abstractmethod
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
        """The patient's coverage with exactly these terms, if stored before."""

    @abstractmethod
    def add_coverage(self, coverage: Coverage) -> Coverage: ...

    @abstractmethod
    def coverage(self, coverage_id: int) -> Coverage | None: ...

    @abstractmethod
    def many(self, patient_ids: Collection[int]) -> dict[int, Patient]:
        """Patients by id, in one query."""

    @abstractmethod
    def many_coverages(self, coverage_ids: Collection[int]) -> dict[int, Coverage]:
        """Coverages by id, in one query."""

    @abstractmethod
    def payer_names(self, coverage_ids: Collection[int]) -> dict[int, str | None]:
        """The payer each coverage names, by coverage id, in one query (no coverage objects)."""


class PayerRepository(ABC):
    """The payer directory."""

    @abstractmethod
    def get(self, payer_id: int) -> Payer | None: ...

    @abstractmethod
    def by_name(self, name: str) -> Payer | None: ...

    @abstractmethod
    def all(self) -> Sequence[Payer]: ...

    @abstractmethod
    def add(self, payer: Payer) -> Payer: ...


class CourseRepository(ABC):
    """Courses with everything of their requests and sessions: the aggregate the services change."""

    @abstractmethod
    def add(self, course: Course) -> Course: ...

    @abstractmethod
    def by_request(self, request_id: int) -> Course | None:
        """The course that holds the request."""

    @abstractmethod
    def by_case_id(self, case_id: str) -> Course | None: ...

    @abstractmethod
    def by_session(self, session_id: int) -> Course | None:
        """The course a session belongs to."""

    @abstractmethod
    def next_case_version(self, case_id: str) -> int:
        """One more than the highest stored version of the case id (1 for a new one)."""

    @abstractmethod
    def answer_holder(self, idempotency_key: str) -> int | None:
        """The request that holds an answer applied under this key, if any (voided answers too)."""

    def by_requests(self, request_ids: Collection[int]) -> dict[int, Course]:
        """The courses holding these requests, by request id (a batch: one query on a database)."""
        found: dict[int, Course] = {}
        for request_id in request_ids:
            course = self.by_request(request_id)
            if course is not None:
                found[request_id] = course
        return found

    def answer_holders(self, idempotency_keys: Collection[str]) -> dict[str, int]:
        """The request that holds each answer key already applied."""
        return {k: holder for k in idempotency_keys if (holder := self.answer_holder(k)) is not None}

    @abstractmethod
    def submission_holder(self, idempotency_key: str) -> int | None:
        """The request that holds a sending recorded under this key, if any."""

    @abstractmethod
    def event_key_used(self, idempotency_key: str) -> bool: ...

    @abstractmethod
    def open_courses(self) -> Sequence[Course]:
        """Courses with a request that is not final: where the day's work can come from."""

    @abstractmethod
    def requests(
        self,
        *,
        statuses: Collection[str] | None = None,
        payer_id: int | None = None,
        request_ids: Collection[int] | None = None,
    ) -> Sequence[Request]:
        """Requests with their courses loaded, oldest first."""

    @abstractmethod
    def facts(self, *, statuses: Collection[str] | None = None, payer_id: int | None = None) -> list[RequestFacts]:
        """Every request (in ``statuses``, of ``payer_id``) as a list shows it, oldest first."""

    @abstractmethod
    def due_for_check(self, statuses: Collection[str], *, checked_before: dt.datetime, limit: int) -> list[int]:
        """Ids of requests in ``statuses`` that no check looked at since ``checked_before``; soonest due first."""

    @abstractmethod
    def mark_checked(self, request_ids: Collection[int], at: dt.datetime) -> None:
        """Note that a check looked at these requests (not a change: no version bump)."""

    @abstractmethod
    def document_content(self, document_id: int) -> bytes | None:
        """The bytes of a document stored in the database by an earlier version."""

    @abstractmethod
    def current_cases(
        self,
        policy_id: str,
        *,
        statuses: Collection[str],
        approving: Collection[str],
        sent: Collection[str],
        batch: int = 1000,
    ) -> Iterator[tuple[int, str]]:
        """(request id, its current case version as JSON text) for the requests under ``policy_id``, by id.

        The requests in ``statuses``, and those in ``approving`` that no continuation in ``sent``
        follows. Streamed ``batch`` rows at a time: no course is loaded.
        """


@dataclass(frozen=True, slots=True)
class WorkFilter:
    """The worklist's filters (empty: any): a kind, the payer's name as the worklist shows it, a status."""

    kind: str = ""
    payer: str = ""
    status: str = ""


@dataclass(frozen=True, slots=True)
class VisibleWork:
    """A work row visible on a day, with what the worklist shows of its request."""

    row: WorkRow
    case_id: str
    status: str
    urgency: str
    payer_id: int | None
    coverage_id: int | None = None


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """One request as a list shows it, read in one query: no aggregate is loaded."""

    request_id: int
    course_id: int
    case_id: str
    kind: str
    status: str
    urgency: str
    due_at: dt.datetime | None
    patient_id: str
    payer_name: str | None
    auth_number: str | None
    auth_valid_from: dt.date | None
    auth_valid_to: dt.date | None
    auth_code: str | None
    auth_units: int | None
    auth_used: int


class WorkRepository(ABC):
    """The stored work rows of the courses (:mod:`coverage.requests.work`)."""

    @abstractmethod
    def replace(self, course_id: int, rows: Sequence[WorkRow]) -> None:
        """The course's rows, instead of those stored."""

    def replace_many(self, rows_by_course: Mapping[int, Sequence[WorkRow]]) -> None:
        """Several courses' rows at once (a batch: two statements on a database)."""
        for course_id, rows in rows_by_course.items():
            self.replace(course_id, rows)

    @abstractmethod
    def visible(
        self, as_of: dt.date, *, only: WorkFilter | None = None, offset: int = 0, limit: int | None = None
    ) -> list[VisibleWork]:
        """Rows visible on ``as_of`` (those ``only`` lets through), most urgent first.

        The worklist's order: due day, expedited first, the kind's rank (``RANK``), request id; rows
        of one request that still tie are shown in the order they became visible, then stored.
        """

    @abstractmethod
    def count(self, as_of: dt.date, *, only: WorkFilter | None = None) -> int:
        """How many rows :meth:`visible` lists."""

    @abstractmethod
    def signature(self) -> str | None:
        """The settings the stored rows were worked out with (``None``: never)."""

    @abstractmethod
    def mark(self, signature: str) -> None:
        """Note that every row was worked out with these settings."""


class AccountRepository(ABC):
    """Patients' accounts with their ledgers. ``for_update`` locks the account's row (PostgreSQL):
    every write to a ledger takes it first, so concurrent writers queue and each sees the others' rows."""

    @abstractmethod
    def for_patient(self, patient_id: int, *, for_update: bool = False) -> Account | None: ...

    @abstractmethod
    def get(self, account_id: int, *, for_update: bool = False) -> Account | None: ...

    @abstractmethod
    def add(self, account: Account) -> Account: ...

    @abstractmethod
    def by_entry(self, entry_id: int) -> int | None:
        """The id of the account an entry is on."""


class PlanRepository(ABC):
    """Payment plans with their installments (their payments are ledger entries of the account)."""

    @abstractmethod
    def get(self, plan_id: int, *, for_update: bool = False) -> PaymentPlan | None:
        """A plan; ``for_update`` locks its row (PostgreSQL) so two payments cannot both pass the balance check."""

    @abstractmethod
    def add(self, plan: PaymentPlan) -> PaymentPlan: ...

    @abstractmethod
    def for_request(self, request_id: int) -> Sequence[PaymentPlan]: ...

    @abstractmethod
    def active_for_request(self, request_id: int) -> PaymentPlan | None: ...

    @abstractmethod
    def for_account(self, account_id: int) -> Sequence[PaymentPlan]: ...

    def active_for_account(self, account_id: int) -> PaymentPlan | None:
        active = [p for p in self.for_account(account_id) if p.status == "active"]
        return active[-1] if active else None

    @abstractmethod
    def active_with_installments_due_before(self, as_of: dt.date) -> Sequence[PaymentPlan]: ...

    def chain(self, plan: PaymentPlan) -> list[PaymentPlan]:
        """The plans ``plan`` replaced, most recent first (restructuring history)."""
        earlier = []
        current = plan
        while current.replaces_plan_id is not None:
            previous = self.get(current.replaces_plan_id)
            assert previous is not None  # a foreign key
            earlier.append(previous)
            current = previous
        return earlier


# --- SQL ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A flow run as our flows recorded it (ids, states and error types only)."""

    flow_run_id: str
    flow: str
    request_id: int | None
    state: str
    attempts: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    reason: str | None


class ClaimRepository(ABC):
    """Sending claims: at most one run hands a request to a gateway at a time."""

    @abstractmethod
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
        """Claim the request's sending when it is still at ``version`` (when given), still sendable, and
        unclaimed (or claimed by ``claimant``, or by a claim older than ``stale_before``)."""

    @abstractmethod
    def release(self, request_id: int, claimant: str) -> None: ...


class RunRepository(ABC):
    """Our flow runs' starts and ends."""

    @abstractmethod
    def started(self, flow_run_id: str, flow: str, request_id: int | None, at: dt.datetime) -> int:
        """Note a start (again, after a crash: one more attempt); the number of attempts."""

    @abstractmethod
    def ended(self, flow_run_id: str, state: str, at: dt.datetime, reason: str | None = None) -> None: ...

    @abstractmethod
    def unresolved(self, stale_before: dt.datetime) -> list[RunRecord]:
        """Each request's latest run when it failed, crashed, or is still running since before ``stale_before``."""


class SqlPatients(PatientRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, patient_id: int) -> Patient | None:
        return self.session.get(Patient, patient_id)

    def by_external_id(self, external_id: str) -> Patient | None:
        return self.session.scalars(select(Patient).where(Patient.external_id == external_id)).one_or_none()

    def add(self, patient: Patient) -> Patient:
        self.session.add(patient)
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
        query = select(Coverage).where(
            Coverage.patient_id == patient_id,
            Coverage.plan_type == plan_type,
            Coverage.policy_id.is_(None) if policy_id is None else Coverage.policy_id == policy_id,
            Coverage.payer_name.is_(None) if payer_name is None else Coverage.payer_name == payer_name,
            Coverage.member_id.is_(None) if member_id is None else Coverage.member_id == member_id,
            Coverage.group_number.is_(None) if group_number is None else Coverage.group_number == group_number,
        )
        return self.session.scalars(query.order_by(Coverage.id.desc()).limit(1)).first()

    def add_coverage(self, coverage: Coverage) -> Coverage:
        self.session.add(coverage)
        return coverage

    def coverage(self, coverage_id: int) -> Coverage | None:
        return self.session.get(Coverage, coverage_id)

    def many(self, patient_ids: Collection[int]) -> dict[int, Patient]:
        query = select(Patient).where(Patient.id.in_(list(patient_ids)))
        return {p.id: p for p in self.session.scalars(query)} if patient_ids else {}

    def many_coverages(self, coverage_ids: Collection[int]) -> dict[int, Coverage]:
        query = select(Coverage).where(Coverage.id.in_(list(coverage_ids)))
        return {c.id: c for c in self.session.scalars(query)} if coverage_ids else {}

    def payer_names(self, coverage_ids: Collection[int]) -> dict[int, str | None]:
        query = select(Coverage.id, Coverage.payer_name).where(Coverage.id.in_(list(coverage_ids)))
        return {i: name for i, name in self.session.execute(query)} if coverage_ids else {}  # noqa: C416


class SqlPayers(PayerRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, payer_id: int) -> Payer | None:
        return self.session.get(Payer, payer_id)

    def by_name(self, name: str) -> Payer | None:
        return self.session.scalars(select(Payer).where(Payer.name_key == payer_name_key(name))).one_or_none()

    def all(self) -> Sequence[Payer]:
        return self.session.scalars(select(Payer).order_by(Payer.name_key)).all()

    def add(self, payer: Payer) -> Payer:
        payer.name_key = payer_name_key(payer.name)
        self.session.add(payer)
        return payer


def _load_parts(session: Session, owners: Sequence[object], kind: type, part: str, *options: ORMOption) -> None:
    """Load a one-to-many ``part`` of these ``owners`` (of class ``kind``) in one query, as ``selectinload`` does.

    The owners' ids go as :func:`among` them (one array on PostgreSQL, where ``selectinload``
    renders and the driver parses an ``IN`` list of up to 500 ids for each part). An owner whose
    part is already loaded (or changed) in this session keeps it, as with ``selectinload``.
    """
    relation: RelationshipProperty[Any] = inspect(kind).relationships[part]
    ((local, remote),) = relation.local_remote_pairs
    owner_key = relation.parent.get_property_by_column(local).key
    item_key = relation.mapper.get_property_by_column(remote).key
    todo = [owner for owner in owners if part not in inspect(owner).dict]
    if not todo:
        return
    query = select(relation.mapper).where(among(session, remote, {getattr(owner, owner_key) for owner in todo}))
    if relation.order_by:
        query = query.order_by(*relation.order_by)
    found: dict[object, list[object]] = defaultdict(list)
    for item in session.scalars(query.options(*options)):
        found[getattr(item, item_key)].append(item)
    for owner in todo:
        set_committed_value(owner, part, found.get(getattr(owner, owner_key), []))


def _eager_parts(kind: type) -> list[str]:
    """The one-to-many parts the mapping loads with each object of ``kind`` (``lazy="selectin"``)."""
    relations: list[RelationshipProperty[Any]] = list(inspect(kind).relationships)
    return [r.key for r in relations if r.lazy == "selectin"]


class SqlCourses(CourseRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, course: Course) -> Course:
        self.session.add(course)
        return course

    def by_request(self, request_id: int) -> Course | None:
        holder = select(t.pa_requests.c.course_id).where(t.pa_requests.c.id == request_id).scalar_subquery()
        return self.session.scalars(select(Course).where(t.courses.c.id == holder)).one_or_none()

    def by_case_id(self, case_id: str) -> Course | None:
        return self.session.scalars(select(Course).where(t.courses.c.case_id == case_id)).one_or_none()

    def by_session(self, session_id: int) -> Course | None:
        holder = select(t.treatment_sessions.c.course_id).where(t.treatment_sessions.c.id == session_id)
        return self.session.scalars(select(Course).where(t.courses.c.id == holder.scalar_subquery())).one_or_none()

    def next_case_version(self, case_id: str) -> int:
        found = self.session.scalar(select(func.max(t.cases.c.version)).where(t.cases.c.case_id == case_id))
        return int(found or 0) + 1

    def answer_holder(self, idempotency_key: str) -> int | None:
        query = select(t.answers.c.request_id).where(t.answers.c.idempotency_key == idempotency_key)
        return self.session.scalar(query)

    def by_requests(self, request_ids: Collection[int]) -> dict[int, Course]:
        if not request_ids:
            return {}
        r = t.pa_requests
        holding = select(r.c.id, r.c.course_id).where(among(self.session, r.c.id, request_ids))
        holders = dict(self.session.execute(holding).all())
        # Every part of the courses the mapping loads with them (``selectin``), and the events and the
        # evaluations' results too (an answer reads them): one query per part for the batch.
        query = select(Course).where(among(self.session, t.courses.c.id, set(holders.values())))
        courses = self.session.scalars(query.options(lazyload("*"))).all()
        for part in _eager_parts(Course):
            _load_parts(self.session, courses, Course, part, *((lazyload("*"),) if part == "requests" else ()))
        requests = [request for course in courses for request in course.requests]
        result = undefer(Evaluation.result)  # type: ignore[arg-type,misc]  # a mapped attribute
        for part in (*_eager_parts(Request), "events"):
            _load_parts(self.session, requests, Request, part, *((result,) if part == "evaluations" else ()))
        by_id = {c.id: c for c in courses}
        return {request_id: by_id[course_id] for request_id, course_id in holders.items() if course_id in by_id}

    def answer_holders(self, idempotency_keys: Collection[str]) -> dict[str, int]:
        if not idempotency_keys:
            return {}
        a = t.answers
        query = select(a.c.idempotency_key, a.c.request_id).where(
            among(self.session, a.c.idempotency_key, idempotency_keys)
        )
        return {str(key): int(holder) for key, holder in self.session.execute(query).all()}

    def submission_holder(self, idempotency_key: str) -> int | None:
        query = select(t.submissions.c.request_id).where(t.submissions.c.idempotency_key == idempotency_key)
        return self.session.scalar(query)

    def event_key_used(self, idempotency_key: str) -> bool:
        query = select(exists().where(t.status_events.c.idempotency_key == idempotency_key))
        return bool(self.session.scalar(query))

    def current_cases(
        self,
        policy_id: str,
        *,
        statuses: Collection[str],
        approving: Collection[str],
        sent: Collection[str],
        batch: int = 1000,
    ) -> Iterator[tuple[int, str]]:
        r, c, cv = t.pa_requests, t.cases, Coverage.__table__
        later = r.alias("later")
        # Uncorrelated subqueries (hashed by PostgreSQL, whose cursors otherwise favour a plan
        # that rescans for every row): the requests a sent continuation follows, and the number
        # of each request's current case version.
        followed = select(later.c.previous_request_id).where(
            later.c.previous_request_id.is_not(None), later.c.status.in_(list(sent))
        )
        current = (
            select(c.c.request_id, func.max(c.c.version).label("version"))
            .where(c.c.superseded.is_(False), c.c.request_id.is_not(None))
            .group_by(c.c.request_id)
            .subquery()
        )
        query = (
            select(r.c.id, cast(c.c.document, Text))
            .join(cv, cv.c.id == r.c.coverage_id)
            .join(current, current.c.request_id == r.c.id)
            .join(c, and_(c.c.request_id == r.c.id, c.c.version == current.c.version))
            .where(
                cv.c.policy_id == policy_id,
                or_(r.c.status.in_(list(statuses)), and_(r.c.status.in_(list(approving)), r.c.id.not_in(followed))),
            )
            .order_by(r.c.id)
            .execution_options(yield_per=batch)  # a server-side cursor on PostgreSQL
        )
        for row in self.session.execute(query):
            yield row[0], row[1]

    def open_courses(self) -> Sequence[Course]:
        live = exists().where(t.pa_requests.c.course_id == t.courses.c.id, t.pa_requests.c.status.not_in(FINAL))
        return self.session.scalars(select(Course).where(live).order_by(t.courses.c.id)).all()

    def requests(
        self,
        *,
        statuses: Collection[str] | None = None,
        payer_id: int | None = None,
        request_ids: Collection[int] | None = None,
    ) -> Sequence[Request]:
        c = t.pa_requests.c
        query = select(c.id, c.course_id)
        if statuses is not None:
            query = query.where(c.status.in_(list(statuses)))
        if payer_id is not None:
            query = query.where(c.payer_id == payer_id)
        if request_ids is not None:
            query = query.where(c.id.in_(list(request_ids)))
        wanted = {row.id: row.course_id for row in self.session.execute(query)}
        if not wanted:
            return []
        courses = self.session.scalars(select(Course).where(t.courses.c.id.in_(set(wanted.values())))).all()
        found = []
        for course in courses:
            for request in course.requests:
                if request.id in wanted:
                    # The request holds its course: the identity map keeps only what is referenced.
                    set_committed_value(request, "course", course)
                    found.append(request)
        return sorted(found, key=lambda r: r.id or 0)

    def facts(self, *, statuses: Collection[str] | None = None, payer_id: int | None = None) -> list[RequestFacts]:
        r, a, s = t.pa_requests, t.authorizations, t.treatment_sessions
        p, py, cv = Patient.__table__, Payer.__table__, Coverage.__table__
        charged = (
            select(func.coalesce(func.sum(s.c.units), 0))
            .where(s.c.authorization_id == a.c.id, s.c.voided.is_(False))
            .scalar_subquery()
        )
        query = (
            select(
                r.c.id,
                r.c.course_id,
                r.c.case_id,
                r.c.kind,
                r.c.status,
                r.c.urgency,
                r.c.due_at,
                p.c.external_id,
                func.coalesce(py.c.name, cv.c.payer_name).label("payer_name"),
                a.c.number,
                a.c.valid_from,
                a.c.valid_to,
                a.c.code,
                a.c.units_authorized,
                (func.coalesce(a.c.units_adjustment, 0) + charged).label("used"),
            )
            .join(p, p.c.id == r.c.patient_id)
            .join(cv, cv.c.id == r.c.coverage_id)
            .outerjoin(py, py.c.id == r.c.payer_id)
            .outerjoin(a, (a.c.request_id == r.c.id) & a.c.voided.is_(False) & a.c.superseded.is_(False))
            .order_by(r.c.id)
        )
        if statuses is not None:
            query = query.where(r.c.status.in_(list(statuses)))
        if payer_id is not None:
            query = query.where(r.c.payer_id == payer_id)
        return [
            RequestFacts(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                row[7],
                row[8],
                row[9],
                row[10],
                row[11],
                row[12],
                row[13],
                int(row[14] or 0) if row[9] is not None else 0,
            )
            for row in self.session.execute(query)
        ]

    def due_for_check(self, statuses: Collection[str], *, checked_before: dt.datetime, limit: int) -> list[int]:
        c = t.pa_requests.c
        query = (
            select(c.id)
            .where(c.status.in_(list(statuses)), or_(c.checked_at.is_(None), c.checked_at < checked_before))
            .order_by(c.due_at.is_(None), c.due_at, c.id)
            .limit(limit)
        )
        return list(self.session.scalars(query).all())

    def mark_checked(self, request_ids: Collection[int], at: dt.datetime) -> None:
        if request_ids:
            self.session.execute(
                update(t.pa_requests)
                .where(among(self.session, t.pa_requests.c.id, request_ids))
                .values(checked_at=at)
                .execution_options(synchronize_session=False)
            )

    def document_content(self, document_id: int) -> bytes | None:
        return self.session.scalar(select(t.documents.c.content).where(t.documents.c.id == document_id))


class SqlWork(WorkRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def replace(self, course_id: int, rows: Sequence[WorkRow]) -> None:
        w = t.work_items
        self.session.execute(delete(w).where(w.c.course_id == course_id))
        if rows:
            self.session.execute(
                insert(w),
                [
                    {
                        "course_id": course_id,
                        "request_id": r.request_id,
                        "kind": r.kind,
                        "due": r.due,
                        "visible_from": r.visible_from,
                        "visible_until": r.visible_until,
                        "detail": r.detail,
                    }
                    for r in rows
                ],
            )

    def replace_many(self, rows_by_course: Mapping[int, Sequence[WorkRow]]) -> None:
        if len(rows_by_course) < 2:
            super().replace_many(rows_by_course)
            return
        w = t.work_items
        self.session.execute(delete(w).where(among(self.session, w.c.course_id, rows_by_course)))
        values = [
            {
                "course_id": course_id,
                "request_id": r.request_id,
                "kind": r.kind,
                "due": r.due,
                "visible_from": r.visible_from,
                "visible_until": r.visible_until,
                "detail": r.detail,
            }
            for course_id, rows in rows_by_course.items()
            for r in rows
        ]
        if values:
            insert_many(self.session, w, values)

    def _visible_query(self, columns: Sequence[Any], as_of: dt.date, only: WorkFilter | None) -> Select[Any]:
        w, r = t.work_items, t.pa_requests
        query = (
            select(*columns)
            .select_from(w)
            .join(r, r.c.id == w.c.request_id)
            .where(w.c.visible_from <= as_of, or_(w.c.visible_until.is_(None), w.c.visible_until >= as_of))
        )
        if only is not None and only.kind:
            query = query.where(w.c.kind == only.kind)
        if only is not None and only.status:
            query = query.where(r.c.status == only.status)
        if only is not None and only.payer:
            # As the worklist names the payer: the directory's name, else the name the case gave.
            shown = case((r.c.payer_id.is_not(None), Payer.name), else_=Coverage.payer_name)
            query = (
                query.outerjoin(Payer, Payer.id == r.c.payer_id)
                .outerjoin(Coverage, Coverage.id == r.c.coverage_id)
                .where(shown == only.payer)
            )
        return query

    def visible(
        self, as_of: dt.date, *, only: WorkFilter | None = None, offset: int = 0, limit: int | None = None
    ) -> list[VisibleWork]:
        w, r = t.work_items, t.pa_requests
        columns = (
            w.c.request_id,
            w.c.kind,
            w.c.due,
            w.c.visible_from,
            w.c.visible_until,
            w.c.detail,
            r.c.case_id,
            r.c.status,
            r.c.urgency,
            r.c.payer_id,
            r.c.coverage_id,
        )
        query = (
            self._visible_query(columns, as_of, only)
            .order_by(
                w.c.due,
                case((r.c.urgency == "expedited", 0), else_=1),
                case(RANK, value=w.c.kind, else_=len(RANK)),
                w.c.request_id,
                w.c.visible_from,
                w.c.id,
            )
            .offset(offset)
            .limit(limit)
        )
        return [
            VisibleWork(
                WorkRow(row.request_id, row.kind, row.due, row.visible_from, row.visible_until, row.detail),
                row.case_id,
                row.status,
                row.urgency,
                row.payer_id,
                row.coverage_id,
            )
            for row in self.session.execute(query)
        ]

    def count(self, as_of: dt.date, *, only: WorkFilter | None = None) -> int:
        return int(self.session.scalar(self._visible_query([func.count()], as_of, only)) or 0)

    def signature(self) -> str | None:
        found = self.session.scalar(select(t.work_projection.c.signature).where(t.work_projection.c.id == 1))
        return str(found) if found is not None else None

    def mark(self, signature: str) -> None:
        p = t.work_projection
        self.session.execute(delete(p))
        self.session.execute(insert(p).values(id=1, signature=signature))


class SqlAccounts(AccountRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def for_patient(self, patient_id: int, *, for_update: bool = False) -> Account | None:
        query = select(Account).where(Account.patient_id == patient_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def get(self, account_id: int, *, for_update: bool = False) -> Account | None:
        query = select(Account).where(Account.id == account_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def add(self, account: Account) -> Account:
        self.session.add(account)
        return account

    def by_entry(self, entry_id: int) -> int | None:
        return self.session.scalar(select(LedgerEntry.account_id).where(LedgerEntry.id == entry_id))


class SqlPlans(PlanRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, plan_id: int, *, for_update: bool = False) -> PaymentPlan | None:
        query = select(PaymentPlan).where(PaymentPlan.id == plan_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def add(self, plan: PaymentPlan) -> PaymentPlan:
        self.session.add(plan)
        return plan

    def for_request(self, request_id: int) -> Sequence[PaymentPlan]:
        query = select(PaymentPlan).where(PaymentPlan.request_id == request_id).order_by(PaymentPlan.id)
        return self.session.scalars(query).all()

    def active_for_request(self, request_id: int) -> PaymentPlan | None:
        query = select(PaymentPlan).where(PaymentPlan.request_id == request_id, PaymentPlan.status == "active")
        return self.session.scalars(query.order_by(PaymentPlan.id.desc()).limit(1)).first()

    def for_account(self, account_id: int) -> Sequence[PaymentPlan]:
        query = select(PaymentPlan).where(PaymentPlan.account_id == account_id).order_by(PaymentPlan.id)
        return self.session.scalars(query).all()

    def active_with_installments_due_before(self, as_of: dt.date) -> Sequence[PaymentPlan]:
        due = exists().where(PlanInstallment.plan_id == PaymentPlan.id, PlanInstallment.due_date < as_of)
        query = select(PaymentPlan).where(PaymentPlan.status == "active", due).order_by(PaymentPlan.id)
        return self.session.scalars(query).all()


class SqlClaims(ClaimRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

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
        c = t.sending_claims
        # The request's row is locked (PostgreSQL) so two claims for it queue up; on SQLite the
        # claim's primary key refuses the second writer.
        if not self._sendable(request_id, version):
            return False
        held = self.session.execute(select(c.c.claimant, c.c.claimed_at).where(c.c.request_id == request_id)).first()
        if held is None:
            self.session.execute(
                insert(c).values(request_id=request_id, claimant=claimant, sending=sending, claimed_at=now)
            )
        elif held.claimant != claimant and held.claimed_at >= stale_before:
            return False
        else:
            taken = self.session.execute(
                update(c)
                .where(c.c.request_id == request_id, c.c.claimant == held.claimant, c.c.claimed_at == held.claimed_at)
                .values(claimant=claimant, sending=sending, claimed_at=now)
            )
            if not taken.rowcount:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
                return False
        # Checked again once this transaction has written: SQLite reads before a transaction's first
        # write see whatever was committed then, and a run may have sent and let go meanwhile.
        return self._sendable(request_id, version)

    def _sendable(self, request_id: int, version: int | None) -> bool:
        from coverage.requests.lifecycle import SENDABLE

        r = t.pa_requests
        found = self.session.execute(
            select(r.c.version, r.c.status).where(r.c.id == request_id).with_for_update()
        ).first()
        return found is not None and found.status in SENDABLE and (version is None or found.version == version)

    def release(self, request_id: int, claimant: str) -> None:
        c = t.sending_claims
        self.session.execute(delete(c).where(c.c.request_id == request_id, c.c.claimant == claimant))


class SqlRuns(RunRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def started(self, flow_run_id: str, flow: str, request_id: int | None, at: dt.datetime) -> int:
        w = t.workflow_runs
        found = self.session.scalar(select(w.c.attempts).where(w.c.flow_run_id == flow_run_id).with_for_update())
        if found is None:
            self.session.execute(
                insert(w).values(
                    flow_run_id=flow_run_id,
                    flow=flow,
                    request_id=request_id,
                    state="running",
                    attempts=1,
                    started_at=at,
                )
            )
            return 1
        attempts = int(found)
        self.session.execute(
            update(w)
            .where(w.c.flow_run_id == flow_run_id)
            .values(state="running", attempts=attempts + 1, started_at=at, ended_at=None, reason=None)
        )
        return attempts + 1

    def ended(self, flow_run_id: str, state: str, at: dt.datetime, reason: str | None = None) -> None:
        w = t.workflow_runs
        self.session.execute(
            update(w).where(w.c.flow_run_id == flow_run_id).values(state=state, ended_at=at, reason=reason)
        )

    def unresolved(self, stale_before: dt.datetime) -> list[RunRecord]:
        w = t.workflow_runs
        latest = (
            select(w.c.request_id, func.max(w.c.id).label("id"))
            .where(w.c.request_id.is_not(None))
            .group_by(w.c.request_id)
            .subquery()
        )
        rows = self.session.execute(
            select(w)
            .join(latest, latest.c.id == w.c.id)
            .where(
                or_(w.c.state.in_(("failed", "crashed")), (w.c.state == "running") & (w.c.started_at < stale_before))
            )
            .order_by(w.c.id)
        ).mappings()
        return [
            RunRecord(
                row["flow_run_id"],
                row["flow"],
                row["request_id"],
                row["state"],
                row["attempts"],
                row["started_at"],
                row["ended_at"],
                row["reason"],
            )
            for row in rows
        ]
