"""The unit of work: one transaction, committed once by the service that opened it.

    with uow:
        course = uow.courses.by_request(request_id)
        course.request(request_id).submit(...)
        uow.commit()

Leaving the block without ``commit()`` rolls back. It exposes repositories, never its session.
:class:`SqlUnitOfWork` runs on a database; :class:`~coverage.store.fake.FakeUnitOfWork` keeps
everything in memory for the domain and service tests.

A lost optimistic-locking race (SQLAlchemy's ``StaleDataError``) becomes
:class:`~coverage.errors.StaleVersion`; a unique key taken by a concurrent writer becomes
:class:`Conflict` (a ``StaleVersion`` too): reload and retry. Any other database error (a value
too long, a lost connection) becomes :class:`~coverage.errors.StorageError` naming the error's
type only: SQLAlchemy's own message quotes the statement's parameters, which may be PHI.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from sqlalchemy import event
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from coverage.errors import StaleVersion, StorageError
from coverage.requests.model import Course
from coverage.requests.work import Projection
from coverage.store.bulk import assign_ids, write_versioned_changes
from coverage.store.orm import map_domain
from coverage.store.repositories import (
    AccountRepository,
    ClaimRepository,
    CourseRepository,
    PatientRepository,
    PayerRepository,
    PlanRepository,
    RunRepository,
    SqlAccounts,
    SqlClaims,
    SqlCourses,
    SqlPatients,
    SqlPayers,
    SqlPlans,
    SqlRuns,
    SqlWork,
    WorkRepository,
)


class Conflict(StaleVersion):
    """A write refused because a concurrent writer took the same unique key first."""


def translate(error: Exception) -> Exception | None:
    """The domain error for a database error: a lost race, or a PHI-free :class:`StorageError`."""
    if isinstance(error, StaleDataError):
        return StaleVersion("the request was changed by someone else meanwhile; reload it and try again")
    if isinstance(error, IntegrityError):
        constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
        where = f" ({constraint})" if constraint else ""
        return Conflict(f"the database refused a conflicting write{where}; reload and try again")
    if isinstance(error, DataError):
        return StorageError("the database refused a value out of its range (DataError)")
    if isinstance(error, SQLAlchemyError):
        return StorageError(f"the database refused the operation ({type(error).__name__})")
    return None


class UnitOfWork(ABC):
    """A transaction over the records, with the repositories that work inside it."""

    courses: CourseRepository
    patients: PatientRepository
    payers: PayerRepository
    plans: PlanRepository
    accounts: AccountRepository
    work: WorkRepository
    claims: ClaimRepository
    runs: RunRepository
    #: How each changed course's work rows are worked out when the unit of work commits.
    projection: Projection

    @abstractmethod
    def __enter__(self) -> Self: ...

    @abstractmethod
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    @abstractmethod
    def flush(self) -> None:
        """Send pending writes (new rows get their ids) without committing."""

    @abstractmethod
    def commit(self) -> None:
        """Make every write of this unit of work durable, at once."""

    @abstractmethod
    def rollback(self) -> None:
        """Forget every write since the last commit."""


class SqlUnitOfWork(UnitOfWork):
    """A unit of work on a database session."""

    def __init__(self, sessions: sessionmaker[Session], projection: Projection | None = None) -> None:
        map_domain()
        self._sessions = sessions
        self._session: Session | None = None
        self.projection = projection or Projection()

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this unit of work is already open")
        session = self._sessions()
        self._session = session
        self.courses = SqlCourses(session)
        self.patients = SqlPatients(session)
        self.payers = SqlPayers(session)
        self.plans = SqlPlans(session)
        self.accounts = SqlAccounts(session)
        self.work = SqlWork(session)
        self.claims = SqlClaims(session)
        self.runs = SqlRuns(session)
        self._changed: dict[int, Course] = {}
        event.listen(session, "before_flush", self._note_changes)
        return self

    def _note_changes(self, session: Session, *_: object) -> None:
        """Remember every course written in this unit of work (a flush empties the session's own lists),
        and write the changed courses and requests in bulk, versions checked (:mod:`coverage.store.bulk`)."""
        dirty = list(session.dirty)
        for thing in (*session.new, *dirty):
            course = thing if isinstance(thing, Course) else getattr(thing, "course", None)
            if isinstance(course, Course):
                self._changed[id(course)] = course
        write_versioned_changes(session, dirty)
        assign_ids(session, session.new)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        assert session is not None
        try:
            session.rollback()
        finally:
            session.close()
        if isinstance(exc, Exception):
            domain = translate(exc)
            if domain is not None:
                raise domain from None

    @property
    def _open(self) -> Session:
        if self._session is None:
            raise RuntimeError("this unit of work is not open")
        return self._session

    def flush(self) -> None:
        self._open.flush()

    def commit(self) -> None:
        """Make every write durable at once, with the work rows of every course written."""
        session = self._open
        session.flush()
        rows = {course.id: self.projection.rows(course) for course in self._changed.values() if course.id is not None}
        self.work.replace_many(rows)
        self._changed.clear()
        session.commit()

    def rollback(self) -> None:
        self._open.rollback()
