"""Repositories: queries and additions inside a unit of work's session. They never commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from coverage.store.tables import (
    Authorization,
    CaseRecord,
    Coverage,
    Determination,
    Document,
    PARequest,
    Patient,
    Payer,
    StatusEvent,
    Submission,
)


def payer_name_key(name: str) -> str:
    """How payer names are compared: case-folded, single spaces."""
    return " ".join(name.split()).casefold()


class _Repository:
    def __init__(self, session: Session) -> None:
        self.session = session


class PatientRepository(_Repository):
    """Patients and their coverages."""

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
        """The patient's coverage with exactly these terms, if stored before."""
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


class PayerRepository(_Repository):
    """The payer directory."""

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


class CaseRepository(_Repository):
    """Case documents, one row per version."""

    def latest_version(self, case_id: str) -> int:
        """The highest stored version of the case, 0 when none."""
        found = self.session.scalar(select(func.max(CaseRecord.version)).where(CaseRecord.case_id == case_id))
        return int(found or 0)

    def patient_id_of(self, case_id: str) -> int | None:
        """The patient (row id) the case's newest version belongs to, ``None`` for a new case."""
        return self.session.scalar(
            select(CaseRecord.patient_id)
            .where(CaseRecord.case_id == case_id)
            .order_by(CaseRecord.version.desc())
            .limit(1)
        )

    def get(self, case_record_id: int) -> CaseRecord | None:
        return self.session.get(CaseRecord, case_record_id)

    def add(self, record: CaseRecord) -> CaseRecord:
        self.session.add(record)
        return record


class RequestRepository(_Repository):
    """Prior-authorization requests and what hangs off them (events, answers, documents)."""

    def get(self, request_id: int) -> PARequest | None:
        return self.session.get(PARequest, request_id)

    def add(self, request: PARequest) -> PARequest:
        self.session.add(request)
        return request

    def add_child(self, row: StatusEvent | Submission | Authorization | Determination | Document) -> None:
        """Add an event, submission, authorization, determination or document."""
        self.session.add(row)

    def latest_for_case(self, case_id: str, statuses: Collection[str]) -> PARequest | None:
        """The newest request of the case whose status is one of ``statuses``."""
        query = (
            select(PARequest)
            .where(PARequest.case_id == case_id, PARequest.status.in_(statuses))
            .order_by(PARequest.id.desc())
            .limit(1)
        )
        return self.session.scalars(query).first()

    def list(
        self, *, statuses: Collection[str] | None = None, payer_id: int | None = None, limit: int | None = None
    ) -> Sequence[PARequest]:
        query = select(PARequest).order_by(PARequest.id)
        if statuses is not None:
            query = query.where(PARequest.status.in_(statuses))
        if payer_id is not None:
            query = query.where(PARequest.payer_id == payer_id)
        if limit is not None:
            query = query.limit(limit)
        return self.session.scalars(query).all()

    def due_for_check(
        self, statuses: Collection[str], *, checked_before: dt.datetime, limit: int
    ) -> Sequence[PARequest]:
        """Requests awaiting the payer that no check has looked at since ``checked_before``; soonest due first."""
        query = (
            select(PARequest)
            .where(
                PARequest.status.in_(statuses),
                or_(PARequest.checked_at.is_(None), PARequest.checked_at < checked_before),
            )
            .order_by(PARequest.due_at.is_(None), PARequest.due_at, PARequest.id)
            .limit(limit)
        )
        return self.session.scalars(query).all()

    def mark_checked(self, request_ids: Collection[int], at: dt.datetime) -> None:
        """Note that a check looked at these requests (not a change of the request: no version bump)."""
        if request_ids:
            self.session.execute(
                update(PARequest)
                .where(PARequest.id.in_(list(request_ids)))
                .values(checked_at=at)
                .execution_options(synchronize_session=False)
            )

    def events(self, request_id: int) -> Sequence[StatusEvent]:
        query = select(StatusEvent).where(StatusEvent.request_id == request_id).order_by(StatusEvent.id)
        return self.session.scalars(query).all()

    def event_by_key(self, idempotency_key: str) -> StatusEvent | None:
        query = select(StatusEvent).where(StatusEvent.idempotency_key == idempotency_key)
        return self.session.scalars(query).one_or_none()

    def submission_by_key(self, idempotency_key: str) -> Submission | None:
        query = select(Submission).where(Submission.idempotency_key == idempotency_key)
        return self.session.scalars(query).one_or_none()

    def submissions(self, request_id: int) -> Sequence[Submission]:
        query = select(Submission).where(Submission.request_id == request_id).order_by(Submission.id)
        return self.session.scalars(query).all()

    def determinations(self, request_id: int) -> Sequence[Determination]:
        query = select(Determination).where(Determination.request_id == request_id).order_by(Determination.id)
        return self.session.scalars(query).all()

    def documents(self, request_id: int) -> Sequence[Document]:
        query = select(Document).where(Document.request_id == request_id).order_by(Document.id)
        return self.session.scalars(query).all()

    def document_content(self, document_id: int) -> bytes | None:
        return self.session.scalar(select(Document.content).where(Document.id == document_id))
