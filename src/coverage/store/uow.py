"""The unit of work: one session, one transaction, committed once by the service that opened it.

    with uow:
        request = uow.requests.get(request_id)
        ...
        uow.commit()

Leaving the block without ``commit()`` rolls back. Repositories never commit. A lost
optimistic-locking race (SQLAlchemy's ``StaleDataError``) becomes
:class:`~coverage.errors.StaleVersion`; a unique key taken by a concurrent writer becomes
:class:`Conflict` (a ``StaleVersion`` too): reload and retry. Any other database error (a value
too long, a lost connection) becomes :class:`~coverage.errors.StorageError` naming the error's
type only: SQLAlchemy's own message quotes the statement's parameters, which may be PHI.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from coverage.errors import StaleVersion, StorageError
from coverage.store.repositories import (
    CaseRepository,
    PatientRepository,
    PayerRepository,
    RequestRepository,
)


class Conflict(StaleVersion):
    """A write refused because a concurrent writer took the same unique key first."""


def translate(error: Exception) -> Exception | None:
    """The domain error for a database error: a lost race, or a PHI-free :class:`StorageError`."""
    if isinstance(error, StaleDataError):
        return StaleVersion("the request was changed by someone else; reload it and try again")
    if isinstance(error, IntegrityError):
        constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
        where = f" ({constraint})" if constraint else ""
        return Conflict(f"the database refused a conflicting write{where}; reload and try again")
    if isinstance(error, SQLAlchemyError):
        return StorageError(f"the database refused the operation ({type(error).__name__})")
    return None


class UnitOfWork:
    """A transaction over the records, with the repositories that work inside it."""

    session: Session
    patients: PatientRepository
    payers: PayerRepository
    cases: CaseRepository
    requests: RequestRepository

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._active = False

    def __enter__(self) -> Self:
        if self._active:
            raise RuntimeError("this unit of work is already open")
        self.session = self._sessions()
        self.patients = PatientRepository(self.session)
        self.payers = PayerRepository(self.session)
        self.cases = CaseRepository(self.session)
        self.requests = RequestRepository(self.session)
        self._active = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()
            self._active = False
        if isinstance(exc, Exception):
            domain = translate(exc)
            if domain is not None:
                raise domain from None

    def flush(self) -> None:
        """Send pending writes (to get ids) without committing."""
        self.session.flush()

    def commit(self) -> None:
        """Make every write of this unit of work durable, at once."""
        self.session.commit()

    def rollback(self) -> None:
        """Forget every write since the last commit."""
        self.session.rollback()
