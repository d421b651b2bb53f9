"""Random sequences of moves through the services and the aggregate, on the in-memory unit of work.

After every step: one current authorization per request, units used equal the unvoided sessions
charged (plus the old adjustment), no authorization charged beyond its units, the events
replay to the stored status, no payer answer applied twice; and a refused move changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from coverage.errors import PriorAuthError
from coverage.policies.service import Checker
from coverage.requests import model as m
from coverage.services import requests as services
from coverage.services import sessions
from coverage.services.context import Context
from coverage.store.fake import FakeUnitOfWork
from coverage.store.tables import Payer
from tests.conftest import backdate_intake, case_gathered, today

CHECKER: Checker | None = None
DECISIONS = ["approved", "partially_approved", "modified", "pended", "denied", "not_required"]


def _checker() -> Checker:
    global CHECKER  # noqa: PLW0603  # built once for every example of the machine
    if CHECKER is None:
        from coverage.drugs import default_drug_table
        from coverage.policies.loader import load_registry

        CHECKER = Checker(load_registry(None), default_drug_table())
    return CHECKER


def _fingerprint(course: m.Course) -> Any:
    """Everything a move could change, to check that a refused move changed nothing."""
    return [
        (
            r.status,
            len(r.events),
            len(r.case_versions),
            [(s.voided, s.sent_on) for s in r.submissions],
            [(a.decision, a.voided) for a in r.answers],
            [
                (a.number, a.valid_from, a.valid_to, a.units_authorized, a.voided, a.superseded)
                for a in r.authorizations
            ],
            [(t.closed_at, len(t.failures)) for t in r.send_tasks],
            [(s.status, s.note) for s in r.signoffs],
        )
        for r in course.requests
    ] + [(s.voided, id(s.authorization)) for s in course.sessions]


class Lifecycle(RuleBasedStateMachine):
    """A clerk, a payer and a nurse at work on one course."""

    def __init__(self) -> None:
        super().__init__()
        self.uow = FakeUnitOfWork()
        self.ctx = Context(timezone="UTC")
        self.keys = 0

    @initialize()
    def take_in(self) -> None:
        with self.uow:
            self.uow.payers.add(
                Payer(name="Example Health Plan", channel="fax", turnaround_days=10, urgent_turnaround_hours=72)
            )
            self.uow.commit()
        text = json.dumps(case_gathered("EX-01-meets"))
        services.intake(text, uow=self.uow, checker=_checker(), ctx=self.ctx, by="intake")
        backdate_intake(self.uow, 30)  # sessions up to 25 days ago: after the patient's first intake

    # --- helpers --------------------------------------------------------------------------------

    @property
    def course(self) -> m.Course:
        return self.uow.courses.rows[0]

    def request_id(self, pick: int) -> int:
        requests = self.course.requests
        found = requests[pick % len(requests)].id
        assert found is not None
        return found

    def attempt(self, move: Any) -> None:
        """Run a move; when refused, nothing may have changed."""
        before = _fingerprint(self.course)
        try:
            move()
        except PriorAuthError:
            assert _fingerprint(self.course) == before

    # --- the moves ----------------------------------------------------------------------------

    @rule(pick=st.integers(0, 3), days_ago=st.integers(0, 3), channel=st.sampled_from(["fax", "portal"]))
    def submit(self, pick: int, days_ago: int, channel: str) -> None:
        rid = self.request_id(pick)
        sent_on = today() - dt.timedelta(days=days_ago)
        self.attempt(
            lambda: services.submit(rid, uow=self.uow, ctx=self.ctx, channel=channel, by="clerk", sent_on=sent_on)
        )

    @rule(pick=st.integers(0, 3), reason=st.sampled_from(["line busy", "portal down"]))
    def send_failed(self, pick: int, reason: str) -> None:
        rid = self.request_id(pick)
        self.attempt(lambda: services.send_failed(rid, reason, uow=self.uow, ctx=self.ctx, by="clerk"))

    @rule(pick=st.integers(0, 3))
    def open_send_task(self, pick: int) -> None:
        rid = self.request_id(pick)

        def move() -> None:
            when = self.ctx.when()
            with self.uow:
                _, request = services.load(self.uow, rid)
                request.open_send_task(
                    channel="fax",
                    destination="555-0100",
                    documents=[f"{rid}-LMN-{request.sending}"],
                    pages=4,
                    signoff_required=False,
                    when=when,
                    by="workflow",
                )
                self.uow.commit()

        self.attempt(move)

    @rule(
        pick=st.integers(0, 3),
        decision=st.sampled_from(DECISIONS),
        sessions_granted=st.integers(1, 10),
        starts_in=st.integers(-20, 5),
        days=st.integers(1, 120),
        number=st.sampled_from(["A-1", "A-2"]),
        keyed=st.booleans(),
    )
    def answer(
        self, pick: int, decision: str, sessions_granted: int, starts_in: int, days: int, number: str, keyed: bool
    ) -> None:
        rid = self.request_id(pick)
        start = today() + dt.timedelta(days=starts_in)
        self.keys += 1
        answer = services.AnswerInput(
            decision=decision,  # type: ignore[arg-type]  # one of the literal's values
            reason="not necessary" if decision == "denied" else None,
            info_requested="recent PHQ-9" if decision == "pended" else None,
            auth_number=number if decision in ("approved", "partially_approved", "modified") else None,
            valid_from=start if decision != "pended" and decision != "denied" else None,
            valid_to=start + dt.timedelta(days=days) if decision not in ("pended", "denied") else None,
            sessions=sessions_granted if decision in ("approved", "partially_approved", "modified") else None,
            idempotency_key=f"answer:{self.keys % 5}" if keyed else None,
        )
        self.attempt(lambda: services.record_answer(rid, answer, uow=self.uow, ctx=self.ctx, by="clerk"))

    @rule(pick=st.integers(0, 3), status=st.sampled_from(["appeal_drafted", "external_review", "cancelled"]))
    def move(self, pick: int, status: str) -> None:
        rid = self.request_id(pick)
        self.attempt(lambda: services.transition(rid, status, uow=self.uow, ctx=self.ctx, by="clerk"))

    @rule(pick=st.integers(0, 3), phq9=st.integers(0, 27))
    def amend(self, pick: int, phq9: int) -> None:
        rid = self.request_id(pick)
        with self.uow:
            _, request = services.load(self.uow, rid)
            document = json.loads(json.dumps(request.current_version.document))
        document["assessments"].append({"instrument": "phq9", "score": phq9, "date": str(today())})
        text = json.dumps(document)
        self.attempt(lambda: services.amend(rid, text, uow=self.uow, checker=_checker(), ctx=self.ctx, by="clerk"))

    @rule(pick=st.integers(0, 3), approve=st.booleans())
    def signoff(self, pick: int, approve: bool) -> None:
        rid = self.request_id(pick)
        self.attempt(
            lambda: services.signoff(rid, approve=approve, uow=self.uow, ctx=self.ctx, by="dr", note="reviewed")
        )

    @rule(pick=st.integers(0, 3))
    def undo(self, pick: int) -> None:
        rid = self.request_id(pick)
        self.attempt(lambda: services.undo(rid, "a mistake", uow=self.uow, ctx=self.ctx, by="clerk"))

    @precondition(lambda self: len(self.course.requests) < 4)
    @rule(pick=st.integers(0, 3))
    def continue_course(self, pick: int) -> None:
        rid = self.request_id(pick)
        self.attempt(lambda: services.continue_request(rid, uow=self.uow, checker=_checker(), ctx=self.ctx, by="clerk"))

    @rule(pick=st.integers(0, 3), days_ago=st.integers(-1, 25), dose=st.sampled_from([None, 56, 84]))
    def session(self, pick: int, days_ago: int, dose: int | None) -> None:
        rid = self.request_id(pick)
        day = today() - dt.timedelta(days=days_ago)
        self.attempt(lambda: sessions.add(rid, day=day, dose_mg=dose, uow=self.uow, ctx=self.ctx, by="nurse"))

    @precondition(lambda self: bool(self.course.sessions))
    @rule(pick=st.integers(0, 50))
    def void_session(self, pick: int) -> None:
        session = self.course.sessions[pick % len(self.course.sessions)]
        assert session.id is not None
        sid = session.id
        self.attempt(lambda: sessions.void(sid, "typo", uow=self.uow, ctx=self.ctx, by="nurse"))

    # --- what must always hold -----------------------------------------------------------------

    @invariant()
    def consistent(self) -> None:
        course = self.course
        assert course.check_invariants() == []
        for request in course.requests:
            assert request.events[-1].to_status == request.status
            assert request.events[0].from_status is None
            live = request.live_authorizations
            assert len(live) <= 1
            for auth in request.authorizations:
                charged = sum(s.units for s in course.sessions if not s.voided and s.authorization is auth)
                assert course.units_charged(auth) == charged
                if auth.live:
                    assert charged + auth.units_adjustment <= auth.units_authorized
                else:
                    assert charged == 0
            keys = [a.idempotency_key for r in course.requests for a in r.answers if a.idempotency_key]
            assert len(keys) == len(set(keys))
        for session in course.sessions:
            if session.authorization is not None:
                assert session.authorization.covers(session.date)


Lifecycle.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLifecycle = pytest.mark.filterwarnings("ignore::DeprecationWarning")(Lifecycle.TestCase)
