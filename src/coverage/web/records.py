"""What the pages show besides the services' views: who each request is for, a search, a course's chain.

Read-only queries over the records' tables (no rule of their own): the patient's name, birth
date and member id beside each request, found in one query for a whole page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from coverage.store.tables import Coverage, Patient, courses, pa_requests

#: A name search needs this many letters or digits (``%`` alone must not list everyone).
MIN_NAME_CHARACTERS = 2


@dataclass(frozen=True, slots=True)
class Header:
    """Who a request is for (PHI: shown on pages, never in a URL or a log line)."""

    request_id: int
    course_id: int
    patient_id: str
    given_name: str | None
    family_name: str | None
    birth_date: dt.date | None
    member_id: str | None
    status: str
    kind: str
    #: The payer as the case names it (the directory's name is the work item's, when listed).
    payer_name: str | None = None

    @property
    def name(self) -> str:
        parts = [p for p in (self.family_name, self.given_name) if p]
        return ", ".join(parts) if parts else self.patient_id


def _headers_query() -> Select[Any]:
    return (
        select(
            pa_requests.c.id,
            pa_requests.c.course_id,
            Patient.external_id,
            Patient.given_name,
            Patient.family_name,
            Patient.birth_date,
            Coverage.member_id,
            pa_requests.c.status,
            pa_requests.c.kind,
            Coverage.payer_name,
        )
        .join(Patient, Patient.id == pa_requests.c.patient_id)
        .join(Coverage, Coverage.id == pa_requests.c.coverage_id)
    )


def _header(row: Row[Any]) -> Header:
    request_id, course_id, patient_id, given, family, born, member, status, kind, payer = tuple(row)
    return Header(request_id, course_id, patient_id, given, family, born, member, status, kind, payer)


class Lookup:
    """Headers, search and chains on the records database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def headers(self, request_ids: Iterable[int]) -> dict[int, Header]:
        ids = sorted(set(request_ids))
        if not ids:
            return {}
        found: dict[int, Header] = {}
        with self._sessions() as session:
            for start in range(0, len(ids), 500):
                query = _headers_query().where(pa_requests.c.id.in_(ids[start : start + 500]))
                for row in session.execute(query):
                    found[int(row[0])] = _header(row)
        return found

    def chain(self, course_id: int) -> list[Header]:
        """Every request of a course, oldest first."""
        with self._sessions() as session:
            query = _headers_query().where(pa_requests.c.course_id == course_id).order_by(pa_requests.c.id)
            return [_header(row) for row in session.execute(query)]

    def search(self, text: str, *, limit: int = 200) -> list[Header]:
        """Requests whose request id (``12`` or ``#12``), case id, member id or patient name matches, newest first.

        A name is matched word by word (``Quintero, Marisol`` as shown on the pages finds her too);
        ``%`` and ``_`` are plain characters, and a name search needs two letters or digits.
        """
        whole = text.strip()
        if not whole:
            return []
        conditions = [
            func.lower(courses.c.case_id) == whole.lower(),
            func.lower(Coverage.member_id) == whole.lower(),
            func.lower(Patient.external_id) == whole.lower(),
        ]
        number = whole.removeprefix("#").strip()
        if number.isascii() and number.isdigit() and len(number) <= 9:
            conditions.append(pa_requests.c.id == int(number))
        words = [w for w in re.split(r"[\s,;]+", whole) if any(c.isalnum() for c in w)]
        if sum(c.isalnum() for c in whole) >= MIN_NAME_CHARACTERS and words:
            name_terms = []
            for word in words[:5]:
                escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                pattern = "%" + escaped + "%"
                name_terms.append(
                    or_(
                        func.lower(Patient.given_name).like(pattern, escape="\\"),
                        func.lower(Patient.family_name).like(pattern, escape="\\"),
                    )
                )
            conditions.append(and_(*name_terms))
        query = (
            _headers_query()
            .join(courses, courses.c.id == pa_requests.c.course_id)
            .where(or_(*conditions))
            .order_by(pa_requests.c.id.desc())
            .limit(limit)
        )
        with self._sessions() as session:
            return [_header(row) for row in session.execute(query)]

    def patient_requests(self, request_id: int) -> list[Header]:
        """Every request of the patient a request is for (every course), oldest first."""
        patient = select(pa_requests.c.patient_id).where(pa_requests.c.id == request_id).scalar_subquery()
        query = _headers_query().where(pa_requests.c.patient_id == patient).order_by(pa_requests.c.id)
        with self._sessions() as session:
            return [_header(row) for row in session.execute(query)]
