"""The worklist's order: the web app's pages, one after another, are ``priorauth worklist``'s list.

The web app sorts, filters and pages the stored work rows in the database and merges in the
items it works out itself (failed runs, overdue installments); the command line builds the whole
list in Python. Seeded with rows of every stored kind that tie on every key the worklist sorts by
(written straight to the work rows: the lifecycle tests cover how a course's rows are worked
out), expedited requests, payers from the directory and named only in a case, a failed run that
ties with a sign-off, and an overdue installment. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import html
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from coverage import worklist
from coverage.clinic import load_clinic
from coverage.requests.work import KINDS, WorkRow
from coverage.services import payments
from coverage.services.context import Context
from coverage.settings import Settings
from coverage.store import tables as t
from coverage.store.tables import PlanInstallment
from tests.conftest import case_gathered, today, write_case
from tests.web_support import PASSWORD, Browser

STORED_KINDS = tuple(k for k in KINDS if k not in ("run_failed", "installment_overdue"))
ROW = re.compile(r"<tr class=\"[^\"]*\">(.*?)</tr>", re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
TAG = re.compile(r"<[^>]+>")


@pytest.fixture
def web(database: Any, database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PRIORAUTH_DATABASE_URL", database_url)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from coverage.settings import load_settings
    from coverage.web.app import Web

    web = Web(load_settings(), database)
    web.accounts.add_user("clara", role="clerk", password=PASSWORD)
    return web


def _rows(rid: int, day: dt.date, rng: random.Random) -> list[WorkRow]:
    """A request's rows: every stored kind on three days, ties of one rank, and some not visible today."""
    rows = []
    for n, kind in enumerate(STORED_KINDS * 2):
        due = day - dt.timedelta(days=rng.choice((0, 1, 2)))
        since = due - dt.timedelta(days=rng.choice((0, 3)))
        rows.append(WorkRow(rid, kind, due, since, rng.choice((None, day, day + dt.timedelta(days=5))), f"{kind} {n}"))
    # Ties of one kind on one day, first visible on one day: the order they were stored in decides.
    rows += [WorkRow(rid, "session_without_authorization", day, day, None, f"session {n}") for n in range(3)]
    rows.append(WorkRow(rid, "signoff", day, day, None, "a clinician signs off (ties with a failed run)"))
    # Not visible today.
    rows.append(WorkRow(rid, "expiring", day, day + dt.timedelta(days=1), None, "not yet"))
    rows.append(WorkRow(rid, "incomplete", day, day - dt.timedelta(days=9), day - dt.timedelta(days=1), "gone"))
    rng.shuffle(rows)
    return rows


@pytest.fixture
def seeded(web: Any, database: Any, cli: Any, checker: Any, tmp_path: Path) -> list[int]:
    """Requests with work of every kind and ties; their ids."""
    cli("payers", "add", "Example Health Plan", "--fax", "+1 617 555 0100")
    ids = []
    names = ("EX-01-meets", "EX-02-iv-not-covered", "EX-03-subtherapeutic-dose", "EX-05-medicare", "EX-06-self-pay")
    for name in names:
        path = write_case(tmp_path / "cases", case_gathered(name), f"{name}.json")
        ids.append(int(cli("intake", str(path), "--json")["request_id"]))
    ctx, day = Context(), today()
    prices = load_clinic(Settings(clinic_file=None)).prices
    plan = payments.create_plan(ids[1], uow=web.uow(), prices=prices, start=day, by="billing", ctx=ctx, installments=6)
    worklist.build(day, uow=web.uow(), zone=web.ctx.timezone)  # the rows worked out once, with today's settings
    with database.sessions() as session, session.begin():
        # The plan's installments moved back: the first three are overdue.
        for installment in session.scalars(select(PlanInstallment).where(PlanInstallment.plan_id == plan.id)):
            installment.due_date -= dt.timedelta(days=80)
        session.execute(update(t.pa_requests).where(t.pa_requests.c.id.in_(ids[2:4])).values(urgency="expedited"))
    with web.uow() as uow:
        started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        for n, rid in enumerate(ids[::2]):
            uow.runs.started(f"run-{n}", "prior-authorization", rid, started)
            uow.runs.ended(f"run-{n}", "failed", started, "ConnectionError")
        rng = random.Random(7)
        for rid in ids:
            course = uow.courses.by_request(rid)
            assert course is not None
            assert course.id is not None
            uow.work.replace(course.id, _rows(rid, day, rng))
        payer_ids = {r.payer_id for r in uow.courses.requests(request_ids=ids)}
        uow.commit()
    assert None in payer_ids  # a payer a case names only
    assert len(payer_ids) > 1  # and one from the directory
    return ids


def _cli_list(cli: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cli("worklist", "--json")
    kinds = {i["kind"] for i in items}
    assert kinds == set(KINDS), set(KINDS) - kinds
    return items


def test_the_web_pages_one_after_another_are_the_cli_list(web: Any, cli: Any, seeded: list[int]) -> None:
    from coverage.web.app import make_app

    browser = Browser(make_app(web))
    assert browser.sign_in("clara").status_code == 200
    expected = _cli_list(cli)
    assert len(expected) > 2 * 50  # three pages
    filters: list[dict[str, str]] = [
        {},
        {"kind": "session_without_authorization"},
        {"kind": "run_failed"},
        {"status": "payment_plan"},
        {"payer": "Example Health Plan"},
        {"payer": "Medicare Part B", "kind": "signoff"},
    ]
    for only in filters:
        wanted = [i for i in expected if all(i[k if k != "payer" else "payer_name"] == v for k, v in only.items())]
        shown: list[list[str]] = []
        number = 1
        while True:
            query = "&".join(f"{k}={v.replace(' ', '+')}" for k, v in {**only, "page": str(number)}.items())
            page = browser.get(f"/?{query}")
            assert page.status_code == 200
            assert f"<p>{len(wanted)} item{'' if len(wanted) == 1 else 's'}, most urgent first.</p>" in page.text
            rows = [[html.unescape(TAG.sub("", c)).strip() for c in CELL.findall(r)] for r in ROW.findall(page.text)]
            shown += [r for r in rows if len(r) == 8]
            if "Next</a>" not in page.text:
                break
            number += 1
        assert [(r[0], r[1], r[5], r[6], r[7]) for r in shown] == [
            (
                i["due"],
                i["kind"].replace("_", " ") + (" expedited" if i["urgency"] == "expedited" else ""),
                f"#{i['request_id']}",
                i["status"].replace("_", " "),
                i["detail"],
            )
            for i in wanted
        ], only


@pytest.mark.parametrize("size", [1, 2, 7, 50])
def test_every_page_size_and_filter_gives_the_built_list(web: Any, cli: Any, seeded: list[int], size: int) -> None:
    day = today()
    everything = worklist.build(day, uow=web.uow(), zone=web.ctx.timezone)
    assert [i.to_dict() for i in everything] == _cli_list(cli)
    payers = {i.payer_name for i in everything}
    statuses = {i.status for i in everything}
    filters = [worklist.WorkFilter(kind=k) for k in KINDS]
    filters += [worklist.WorkFilter(payer=p) for p in payers if p] + [worklist.WorkFilter(status=s) for s in statuses]
    filters += [worklist.WorkFilter(), worklist.WorkFilter("expiring", "Example Health Plan", "approved")]
    for only in filters:
        wanted = [
            i
            for i in everything
            if (not only.kind or i.kind == only.kind)
            and (not only.payer or i.payer_name == only.payer)
            and (not only.status or i.status == only.status)
        ]
        got: list[worklist.WorkItem] = []
        pages = -(-len(wanted) // size) or 1
        for number in range(1, pages + 1):
            page = worklist.page(day, uow=web.uow(), zone=web.ctx.timezone, number=number, size=size, only=only)
            assert (page.total, page.number, page.pages) == (len(wanted), number, pages)
            got += page.items
        assert got == wanted, only
        last = worklist.page(day, uow=web.uow(), zone=web.ctx.timezone, number=pages + 3, size=size, only=only)
        assert (last.number, last.items) == (pages, wanted[(pages - 1) * size :])


def test_installments_and_failed_runs_sort_among_the_stored_rows(web: Any, seeded: list[int]) -> None:
    items = worklist.build(today(), uow=web.uow(), zone=web.ctx.timezone)
    failed = [n for n, i in enumerate(items) if i.kind == "run_failed"]
    assert failed
    for n in failed:
        before = items[n - 1]
        # A failed run ties with the request's sign-off due today: the stored row comes first.
        assert (before.kind, before.request_id, before.due) == ("signoff", items[n].request_id, items[n].due)
    (installment,) = [i for i in items if i.kind == "installment_overdue"]
    assert installment.detail.endswith(" owed")
    assert Decimal(installment.detail.split()[-2]) > 0
