"""The worklist: what needs a person on a day, most urgent first, from requests, sessions and payments.

It sits above the requests and the payments (it reads both; neither imports it). Each course's
work rows are worked out by :mod:`coverage.requests.work` whenever the course changes and stored
with it, so a day's worklist is a query (visible that day), plus the self-pay installments
overdue. Rows worked out with other clock settings than today's are worked out again first.

Sorted by due date (overdue first, earlier before later), then expedited first, then kind, then
request id; what still ties keeps the stored rows' order (see ``WorkRepository.visible``), the
failed runs and the installments after them. The web app's pages take the same order from the
database (:func:`page`), page by page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from coverage.payments.ledger import PlanRecord
from coverage.requests.views import WorkItem
from coverage.requests.work import KINDS, RANK
from coverage.store.repositories import VisibleWork, WorkFilter
from coverage.store.uow import UnitOfWork

__all__ = ["KINDS", "RUN_STALE", "WorkFilter", "WorkPage", "build", "matches", "order", "page", "rebuild"]

#: A flow run still ``running`` in the records after this long lost its process without a word (a
#: request's run takes seconds; a sending claim is taken back after the same 10 minutes).
RUN_STALE = dt.timedelta(minutes=10)


def rebuild(uow: UnitOfWork) -> int:
    """Work out every course's rows again (inside an open unit of work); the number of courses."""
    courses = uow.courses.open_courses()
    for course in courses:
        assert course.id is not None
        uow.work.replace(course.id, uow.projection.rows(course))
    uow.work.mark(uow.projection.signature)
    return len(courses)


@dataclass(frozen=True, slots=True)
class WorkPage:
    """One page of the worklist: its items, how many items in all, the page's number and the number of pages."""

    items: list[WorkItem]
    total: int
    number: int
    pages: int


def order(item: WorkItem) -> tuple[dt.date, bool, int, int]:
    """The worklist's sort key; ties keep the order :meth:`WorkRepository.visible` gives, stored rows first."""
    return (item.due, item.urgency != "expedited", RANK[item.kind], item.request_id)


def build(as_of: dt.date, *, uow: UnitOfWork, zone: str) -> list[WorkItem]:
    """What needs a person on ``as_of``, most urgent first (times shown in the clinic's ``zone``)."""
    with uow:
        _refresh(uow)
        payers = {p.id: p.name for p in uow.payers.all()}
        items = _items(uow.work.visible(as_of), uow=uow, payers=payers)
        items.extend(_added(as_of, uow=uow, payers=payers, zone=zone))
    items.sort(key=order)
    return items


def page(
    as_of: dt.date, *, uow: UnitOfWork, number: int, size: int, only: WorkFilter | None = None, zone: str
) -> WorkPage:
    """Page ``number`` (from 1; past the last: the last) of the worklist with the filters, as :func:`build` orders it.

    The stored rows are sorted, filtered and paged by the database; the rows added here (failed runs,
    overdue installments: a few) are merged in. With ``e`` of them, page rows at ``offset`` come from
    the stored rows ``offset - e`` to ``offset + size``.
    """
    only = only or WorkFilter()
    with uow:
        _refresh(uow)
        payers = {p.id: p.name for p in uow.payers.all()}
        added = sorted((i for i in _added(as_of, uow=uow, payers=payers, zone=zone) if matches(i, only)), key=order)
        total = uow.work.count(as_of, only=only) + len(added)
        pages = max(1, -(-total // size))
        number = min(max(1, number), pages)
        offset = (number - 1) * size
        first = max(0, offset - len(added))
        stored = _items(
            uow.work.visible(as_of, only=only, offset=first, limit=offset + size - first), uow=uow, payers=payers
        )
    # A stable sort: stored rows keep their order and come before the added rows they tie with, as in build.
    merged = sorted(stored + added, key=order)
    return WorkPage(merged[offset - first : offset - first + size], total, number, pages)


def matches(item: WorkItem, only: WorkFilter) -> bool:
    """Whether ``item`` passes the filters (as :meth:`WorkRepository.visible` filters the stored rows)."""
    return (
        (not only.kind or item.kind == only.kind)
        and (not only.payer or item.payer_name == only.payer)
        and (not only.status or item.status == only.status)
    )


def _refresh(uow: UnitOfWork) -> None:
    """Work the rows out again if they were worked out with other clock settings (inside an open unit of work)."""
    if uow.work.signature() != uow.projection.signature:
        rebuild(uow)
        uow.commit()


def _items(visible: list[VisibleWork], *, uow: UnitOfWork, payers: dict[int, str]) -> list[WorkItem]:
    # A payer not in the directory shows as the case names it.
    unlisted = {v.coverage_id for v in visible if v.payer_id is None and v.coverage_id is not None}
    named = uow.patients.payer_names(unlisted) if unlisted else {}
    return [
        WorkItem(
            v.row.kind,
            v.row.request_id,
            v.row.due,
            v.row.detail,
            v.case_id,
            v.status,
            v.urgency,
            payers.get(v.payer_id) if v.payer_id is not None else named.get(v.coverage_id or 0),
        )
        for v in visible
    ]


def _added(as_of: dt.date, *, uow: UnitOfWork, payers: dict[int, str], zone: str) -> list[WorkItem]:
    """The items not stored as work rows: failed runs, then overdue installments."""
    from coverage.services.payments import overdue_plans  # the payments' own rules, read when some are due

    items = _failed_runs(as_of, uow=uow, payers=payers, zone=zone)
    plans = overdue_plans(as_of, uow=uow) if uow.plans.active_with_installments_due_before(as_of) else []
    if plans:
        requests = {r.id: r for r in uow.courses.requests(request_ids=[p.request_id for p in plans])}
        for plan in plans:
            request = requests.get(plan.request_id)
            if request is not None:
                payer = payers.get(request.payer_id) if request.payer_id is not None else None
                items.extend(
                    _installment(
                        plan,
                        as_of,
                        case_id=request.case_id,
                        status=request.status,
                        urgency=request.urgency,
                        payer=payer,
                    )
                )
    return items


def _failed_runs(as_of: dt.date, *, uow: UnitOfWork, payers: dict[int, str], zone: str) -> list[WorkItem]:
    """``run_failed``: a request whose latest flow run failed, crashed, or never reported its end."""
    runs = uow.runs.unresolved(dt.datetime.now(dt.UTC) - RUN_STALE)
    if not runs:
        return []
    requests = {r.id: r for r in uow.courses.requests(request_ids=[r.request_id for r in runs if r.request_id])}
    items: list[WorkItem] = []
    for run in runs:
        request = requests.get(run.request_id)
        if request is None or request.id is None:
            continue
        at = run.ended_at or run.started_at
        state = "running with no end recorded" if run.state == "running" else run.state
        because = f" ({run.reason})" if run.reason else ""
        detail = (
            f"{run.flow} run {state}{because} at {at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M %Z}, "
            f"attempt {run.attempts} (Prefect run {run.flow_run_id})"
        )
        payer = payers.get(request.payer_id) if request.payer_id is not None else None
        items.append(
            WorkItem("run_failed", request.id, as_of, detail, request.case_id, request.status, request.urgency, payer)
        )
    return items


def _installment(
    plan: PlanRecord, as_of: dt.date, *, case_id: str, status: str, urgency: str, payer: str | None
) -> Iterator[WorkItem]:
    late = plan.overdue(as_of)
    if not late:
        return
    owed = sum((s.remaining for s in late), Decimal("0.00"))
    count = f"{len(late)} installment{'s' if len(late) > 1 else ''}"
    detail = f"plan {plan.id}: {count} overdue, {owed} owed"
    yield WorkItem("installment_overdue", plan.request_id, late[0].due_date, detail, case_id, status, urgency, payer)
