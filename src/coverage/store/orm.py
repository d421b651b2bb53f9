"""The domain's classes mapped onto the tables (SQLAlchemy imperative mapping), once per process.

:mod:`coverage.requests.model` stays free of SQLAlchemy: this module tells the ORM which table
holds each class and how the parts of a course hang together. What the lists and the worklist
read is loaded with a course (``selectin``), so they never run a query per row; a request's
events, documents and case documents are loaded when read.
"""

from __future__ import annotations

from sqlalchemy.orm import deferred, relationship

from coverage.requests import model as m
from coverage.store import tables as t

_mapped = False


def map_domain() -> None:
    """Map the aggregate's classes (idempotent)."""
    global _mapped  # noqa: PLW0603  # classes are mapped once per process, like declarative ones
    if _mapped:
        return
    registry = t.Base.registry
    registry.map_imperatively(
        m.Course,
        t.courses,
        version_id_col=t.courses.c.version,
        properties={
            "requests": relationship(m.Request, back_populates="course", order_by=t.pa_requests.c.id, lazy="selectin"),
            "sessions": relationship(m.Session, order_by=t.treatment_sessions.c.id, lazy="selectin"),
        },
    )
    registry.map_imperatively(
        m.Request,
        t.pa_requests,
        version_id_col=t.pa_requests.c.version,
        properties={
            "course": relationship(m.Course, back_populates="requests"),
            "case_versions": relationship(m.CaseVersion, order_by=t.cases.c.version, lazy="selectin"),
            "evaluations": relationship(m.Evaluation, order_by=t.determinations.c.id, lazy="selectin"),
            "submissions": relationship(m.Submission, order_by=t.submissions.c.id, lazy="selectin"),
            "answers": relationship(m.Answer, order_by=t.answers.c.id, lazy="selectin"),
            "authorizations": relationship(m.Authorization, order_by=t.authorizations.c.id, lazy="selectin"),
            "send_tasks": relationship(m.SendTask, order_by=t.send_tasks.c.id, lazy="selectin"),
            "signoffs": relationship(m.SignOff, order_by=t.signoffs.c.id, lazy="selectin"),
            # Read by the moves and by one request's page, not by lists and the worklist: loaded when read.
            "documents": relationship(m.Document, order_by=t.documents.c.id),
            "events": relationship(m.Event, order_by=t.status_events.c.id),
        },
    )
    # A case version's document is read when its case is (a letter, an amend), not to list requests.
    registry.map_imperatively(m.CaseVersion, t.cases, properties={"document": deferred(t.cases.c.document)})
    registry.map_imperatively(
        m.Evaluation,
        t.determinations,
        properties={
            "case_version": relationship(m.CaseVersion, lazy="joined", innerjoin=True),
            "result": deferred(t.determinations.c.result),
        },
    )
    registry.map_imperatively(m.Submission, t.submissions)
    registry.map_imperatively(m.Authorization, t.authorizations)
    registry.map_imperatively(
        m.Answer, t.answers, properties={"authorization": relationship(m.Authorization, lazy="joined")}
    )
    registry.map_imperatively(
        m.SendTask,
        t.send_tasks,
        properties={
            "submission": relationship(m.Submission, lazy="joined"),
            "failures": relationship(m.SendFailure, order_by=t.send_failures.c.id, lazy="selectin"),
        },
    )
    registry.map_imperatively(m.SendFailure, t.send_failures)
    registry.map_imperatively(m.SignOff, t.signoffs)
    registry.map_imperatively(m.Document, t.documents, exclude_properties=["content"])
    registry.map_imperatively(m.Event, t.status_events)
    registry.map_imperatively(
        m.Session, t.treatment_sessions, properties={"authorization": relationship(m.Authorization, lazy="joined")}
    )
    _mapped = True
