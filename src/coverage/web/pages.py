"""The pages and actions of the web app; each action calls the service the CLI calls, as the signed-in user."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from starlette.responses import HTMLResponse, RedirectResponse, Response

from coverage.errors import InvalidInput, PriorAuthError
from coverage.fields import MAX_CASE_BYTES, parse_id
from coverage.requests.lifecycle import AMENDABLE, ANSWERABLE, APPROVING, FINAL, PLANNABLE, SENDABLE, TRANSITIONS
from coverage.web import forms
from coverage.web.app import (
    CSP_DOCUMENT,
    Call,
    Refused,
    Web,
    action,
    flash_and_go,
    prefect_configured,
    relabel,
    release,
)
from coverage.web.records import MIN_NAME_CHARACTERS, Header

if TYPE_CHECKING:
    from coverage.worklist import WorkFilter

PAGE_SIZE: Final = 50
CLINICIAN: Final = ("clinician",)
ADMIN: Final = ("admin",)
#: Who refunds and voids ledger entries.
LEDGER_ROLES: Final = ("admin", "clerk")
#: The payment forms' labels for the ledger services' option names.
PAYMENT_LABELS: Final = {"date": "paid on", "amount": "amount", "method": "method", "start": "first due date"}
NOT_CASE_FIELDS: Final = frozenset({"csrf", "nonce", "add", "remove", "expedited", "expedited_reason"})


def _seen(headers: list[Header]) -> list[tuple[str, int | None]]:
    return [(h.patient_id, h.request_id) for h in headers]


# --- the worklist -------------------------------------------------------------------------------


def _work_filter(kind: str, payer: str, status: str) -> WorkFilter:
    """The worklist's filters; an unknown kind or status is refused (400), not an empty list."""
    from coverage.requests.lifecycle import STATUSES
    from coverage.requests.work import KINDS
    from coverage.worklist import WorkFilter

    if kind and kind not in KINDS:
        raise Refused(400, f"kind: {kind[:40]!r} is not one of {', '.join(KINDS)}")
    if status and status not in STATUSES:
        raise Refused(400, f"status: {status[:40]!r} is not a status")
    return WorkFilter(kind, payer, status)


def _work_items(web: Web, kind: str, payer: str, status: str) -> list[Any]:
    """The worklist's items with the filters, all of them (the CSV)."""
    from coverage.worklist import build, matches

    only = _work_filter(kind, payer, status)
    return [i for i in build(web.ctx.today(), uow=web.uow(), zone=web.ctx.timezone) if matches(i, only)]


def _page_number(text: str | None) -> int:
    try:
        return max(1, min(int(text or "1"), 100_000))
    except ValueError:
        return 1


def worklist(web: Web, call: Call) -> Response:
    from coverage.requests.lifecycle import STATUSES
    from coverage.requests.work import KINDS
    from coverage.worklist import page as page_of_work

    query = call.request.query_params
    kind, payer, status = query.get("kind", ""), query.get("payer", ""), query.get("status", "")
    only = _work_filter(kind, payer, status)
    found = page_of_work(
        web.ctx.today(),
        uow=web.uow(),
        number=_page_number(query.get("page")),
        size=PAGE_SIZE,
        only=only,
        zone=web.ctx.timezone,
    )
    shown = found.items
    headers = web.lookup.headers(i.request_id for i in shown)
    web.log_access(call, _seen([headers[i.request_id] for i in shown if i.request_id in headers]), "worklist")
    with web.uow() as uow:
        payers = sorted(p.name for p in uow.payers.all())
    return web.render(
        call,
        "worklist.html",
        items=shown,
        headers=headers,
        total=found.total,
        page=found.number,
        pages=found.pages,
        kinds=KINDS,
        statuses=STATUSES,
        payers=payers,
        kind=kind,
        payer=payer,
        status=status,
        filters={"kind": kind, "payer": payer, "status": status},
    )


def _csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell a spreadsheet would run as a formula is written as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def worklist_csv(web: Web, call: Call) -> Response:
    query = call.request.query_params
    items = _work_items(web, query.get("kind", ""), query.get("payer", ""), query.get("status", ""))
    headers = web.lookup.headers(i.request_id for i in items)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["due", "kind", "request_id", "patient", "birth_date", "payer", "status", "urgency", "detail"])
    for i in items:
        h = headers.get(i.request_id)
        writer.writerow(
            [
                _csv_cell(v)
                for v in (
                    i.due,
                    i.kind,
                    i.request_id,
                    h.name if h else "",
                    h.birth_date if h else "",
                    i.payer_name or (h.payer_name if h else ""),
                    i.status,
                    i.urgency,
                    i.detail,
                )
            ]
        )
    web.log_access(call, _seen([headers[i.request_id] for i in items if i.request_id in headers]), "worklist CSV")
    day = web.ctx.today().isoformat()
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="worklist-{day}.csv"'},
    )


def search(web: Web, call: Call) -> Response:
    text = call.value("q").strip()[:200]
    found = web.lookup.search(text) if text else []
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    page = min(_page_number(call.value("page")), pages)
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    web.log_access(call, _seen(shown), "search results")
    short = sum(c.isalnum() for c in text) < MIN_NAME_CHARACTERS
    return web.render(call, "search.html", q=text, found=shown, total=len(found), page=page, pages=pages, short=short)


# --- a request ----------------------------------------------------------------------------------


def _actions(status: str, signoff: str | None, send_task: bool, role: str) -> dict[str, bool]:
    """Which actions the request's status offers (the services refuse anything else anyway)."""
    moves = TRANSITIONS.get(status, frozenset())  # type: ignore[call-overload]  # a read status has no moves
    return {
        "send": status in SENDABLE and not send_task and signoff != "pending",
        "signoff": signoff == "pending" and role == "clinician",
        "signoff_pending": signoff == "pending",
        "send_task": send_task,
        "record": status in ANSWERABLE,
        "amend": status in AMENDABLE,
        "appeal": "appeal_drafted" in moves,
        "external_review": "external_review" in moves,
        "cancel": "cancelled" in moves,
        "continue": status in APPROVING or status in ("expiring", "expired"),
        "session": status not in ("cancelled",),
        "undo": True,
        "plan": status in PLANNABLE and status not in FINAL,
    }


def _self_pay(web: Web, rid: int, plannable: bool, patient: str) -> dict[str, Any]:
    """The request's plans, the patient's account and, when a plan can follow, the clinic's offer."""
    from coverage.clinic import load_clinic
    from coverage.errors import NotFound
    from coverage.services.payments import get_account, plans_for_request, request_offer

    plans = plans_for_request(rid, uow=web.uow())
    offer = None
    if plannable and not any(p.status == "active" for p in plans):
        try:
            prices = load_clinic(web.settings).prices
            offer = request_offer(rid, uow=web.uow(), prices=prices, start=web.ctx.today(), timezone=web.ctx.timezone)
        except PriorAuthError:
            offer = None
    try:
        account = get_account(patient, uow=web.uow(), ctx=web.ctx)
    except NotFound:
        account = None
    return {"plans": plans, "offer": offer, "account": account}


def request_page(web: Web, call: Call) -> Response:
    return _request_view(web, call)


def _request_view(web: Web, call: Call, status: int = 200, problems: dict[str, list[str]] | None = None) -> Response:
    """The request page; ``problems`` are a refused form's lines, shown in that form (by its name)."""
    from coverage.requests.lifecycle import DECISIONS, PERSON_CHANNELS
    from coverage.services.requests import get_request

    rid = _rid(call)
    detail = get_request(rid, uow=web.uow(), ctx=web.ctx)
    r = detail.request
    header = web.lookup.headers([rid])[rid]
    chain = web.lookup.chain(r.course_id)
    web.log_access(call, [(header.patient_id, rid)], "request page")
    # The request's current authorization, also one that starts later or has ended (the view's
    # ``authorization`` is only one in force today).
    live = [a for a in detail.authorizations if not a.voided and not a.superseded]
    auth = r.authorization or (live[-1] if live else None)
    return web.render(
        call,
        "request.html",
        http_status=status,
        d=detail,
        r=r,
        h=header,
        chain=chain,
        auth=auth,
        actions=_actions(r.status, r.signoff, r.send_task is not None, call.user.role),
        decisions=DECISIONS,
        person_channels=sorted(PERSON_CHANNELS),
        prefect=prefect_configured(),
        self_pay=_self_pay(web, rid, r.status in PLANNABLE, header.patient_id),
        problems=problems or {},
        undoable=_undoable(web, rid),
        ledger_clerk=call.user.role in LEDGER_ROLES,
    )


def patient_page(web: Web, call: Call) -> Response:
    """The patient of a request: every course and request, each request's plans, and the account's ledger."""
    from coverage.errors import NotFound
    from coverage.services.payments import get_account

    rid = _rid(call)
    found = web.lookup.patient_requests(rid)
    if not found:
        raise Refused(404, f"request {rid}: no such request")
    courses: dict[int, list[Header]] = {}
    for header in found:
        courses.setdefault(header.course_id, []).append(header)
    plans = _plans(web, [h.request_id for h in found])
    web.log_access(call, _seen(found), "patient page")
    try:
        account = get_account(found[-1].patient_id, uow=web.uow(), ctx=web.ctx)
    except NotFound:
        account = None
    # The ledger in date order (each entry dated in the clinic's day), entries of one day as recorded.
    entries = sorted(account.entries, key=lambda pair: (pair[0].on, pair[0].id or 0)) if account else []
    return web.render(
        call, "patient.html", h=found[-1], rid=rid, courses=courses, plans=plans, account=account, entries=entries
    )


def _plans(web: Web, request_ids: list[int]) -> dict[int, list[Any]]:
    from coverage.services.payments import plans_for_request

    return {rid: plans_for_request(rid, uow=web.uow()) for rid in request_ids}


def document(web: Web, call: Call) -> Response:
    from coverage.services import requests as services
    from coverage.services.documents import read
    from coverage.store.documents import DocumentStore

    rid, number = _rid(call), str(call.params["number"])[:64]
    download = call.request.query_params.get("download") == "1"
    with web.uow() as uow:
        _, request = services.load(uow, rid)
        found = request.document(number)
        if found is None:
            raise Refused(404, f"request {rid}: no document {number}")
        data = read(found, store=DocumentStore(web.settings.documents_location))
    header = web.lookup.headers([rid])[rid]
    web.log_access(call, [(header.patient_id, rid)], f"document {number} {'downloaded' if download else 'viewed'}")
    disposition = "attachment" if download else "inline"
    response = Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'{disposition}; filename="{number}.pdf"',
            "Content-Security-Policy": CSP_DOCUMENT,
        },
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


# --- a request's actions: the same services as the CLI, by the signed-in user ---------------------


def _run_started(rid: int, run_id: str) -> str:
    return f"Request {rid}: the prior-authorization run started ({run_id})."


def _send(web: Web, rid: int, by: str) -> str:
    """``requests send``: a run of the prior-authorization deployment when Prefect is configured, else in process."""
    if prefect_configured():
        from coverage.workflow.server import start_sending_run

        return _run_started(rid, start_sending_run(rid))
    from coverage.clinic import load_clinic
    from coverage.services.sending import send
    from coverage.store.documents import DocumentStore
    from coverage.workflow.runtime import sandbox_from_settings

    settings = web.settings
    electronic = sandbox_from_settings(settings)

    def gateway_for(channel: str) -> Any:
        if settings.gateway == "sandbox" or channel == "electronic":
            return electronic
        return None

    prepared = send(
        rid,
        uow=web.uow(),
        checker=web.checker,
        clinic=load_clinic(settings),
        store=DocumentStore(settings.documents_location),
        ctx=web.ctx,
        by=by,
        gateway_for=gateway_for,
        template_dir=settings.template_dir,
    )
    texts = {
        "not_sendable": f"only ready, pended or appeal_drafted requests are sent (it is {prepared.status})",
        "draft": f"the case no longer meets the criteria: back to draft ({prepared.reason or ''})",
        "signoff_pending": f"documents made ({prepared.pages} pages); waiting for a clinician's sign-off",
        "send_task": f"documents made: {prepared.channel} {prepared.pages} pages; confirm when sent",
        "submitted": f"submitted electronically ({prepared.status})",
        "ready": "ready",
    }
    return f"Request {rid}: {texts.get(prepared.state, prepared.state)}."


def _rid(call: Call) -> int:
    """The request id of the URL; one too large for the database is no such request (404)."""
    text = str(call.params["request_id"])
    try:
        return parse_id("request", text)
    except InvalidInput:
        raise Refused(404, f"request {text[:20]}: no such request") from None


def _to(rid: int) -> str:
    return f"/requests/{rid}"


def act_send(web: Web, call: Call) -> Response:
    rid = _rid(call)
    return action(web, call, _to(rid), lambda: _send(web, rid, call.user.name))


def act_signoff(web: Web, call: Call) -> Response:
    from coverage.services.requests import signoff

    rid = _rid(call)
    approve = call.value("decision") == "approve"

    def work() -> str:
        from coverage.workflow.server import check_sending_deployment, schedule_sending_run

        if call.value("decision") not in ("approve", "reject"):
            raise InvalidInput(["decision: approve or reject"])
        server = approve and prefect_configured()
        if server:
            check_sending_deployment()  # before anything is recorded: a refusing server changes nothing
        signoff(rid, approve=approve, uow=web.uow(), ctx=web.ctx, by=call.user.name, note=call.value("note") or None)
        if not approve:
            return f"Request {rid}: sign-off rejected; back to draft."
        if server:
            return "Signed off. " + _run_started(rid, schedule_sending_run(rid))
        return "Signed off. " + _send(web, rid, call.user.name)

    return action(web, call, _to(rid), work)


def act_sent(web: Web, call: Call) -> Response:
    from coverage.services.requests import submit

    rid = _rid(call)

    def work() -> str:
        day = forms.form_date("sent on", call.value("sent_on"))
        result = submit(
            rid,
            uow=web.uow(),
            ctx=web.ctx,
            channel=call.value("channel") or "fax",
            reference=call.value("reference") or None,
            sent_on=day,
            by=call.user.name,
        )
        return f"Request {rid}: sending recorded; now {result.status}."

    return action(web, call, _to(rid), work)


def act_send_failed(web: Web, call: Call) -> Response:
    from coverage.services.requests import send_failed

    rid = _rid(call)
    return action(
        web,
        call,
        _to(rid),
        lambda: (
            f"Request {rid}: failed attempt noted ("
            + send_failed(rid, call.value("reason"), uow=web.uow(), ctx=web.ctx, by=call.user.name).status
            + ")."
        ),
    )


def act_record(web: Web, call: Call) -> Response:
    from coverage.fields import MAX_UNITS
    from coverage.services.requests import AnswerInput, record_answer

    rid = _rid(call)

    def work() -> str:
        decision = call.value("decision")
        answer = AnswerInput(
            decision=decision,  # type: ignore[arg-type]  # checked by the service
            decided_on=forms.form_date("decided on", call.value("decided_on")),
            reference=call.value("reference") or None,
            reason=call.value("reason") or None,
            info_requested=call.value("info_requested") or None,
            respond_by=forms.form_date("respond by", call.value("respond_by")),
            auth_number=call.value("auth_number") or None,
            valid_from=forms.form_date("valid from", call.value("valid_from")),
            valid_to=forms.form_date("valid to", call.value("valid_to")),
            units=forms.form_count("units", call.value("units"), high=MAX_UNITS),
            sessions=forms.form_count("sessions", call.value("sessions"), high=MAX_UNITS),
        )
        result = record_answer(rid, answer, uow=web.uow(), ctx=web.ctx, by=call.user.name)
        return f"Request {rid}: answer recorded; now {result.request.status}."

    return action(web, call, _to(rid), work)


def _uploaded_text(call: Call, name: str) -> bytes:
    upload = call.upload(name)
    if upload is None or not upload.filename:
        raise InvalidInput([f"{name}: choose a file"])
    data = upload.file.read(MAX_CASE_BYTES + 1)
    if len(data) > MAX_CASE_BYTES:
        raise InvalidInput([f"{name}: larger than {MAX_CASE_BYTES // 1024} KB; a case is a few KB"])
    return data


def _amendable(web: Web, rid: int) -> dict[str, Any]:
    """The current case version of a request that can be amended (draft, pended, ...), as a document."""
    from coverage.services.requests import load

    with web.uow() as uow:
        _, request = load(uow, rid)
        if request.status not in AMENDABLE:
            raise Refused(409, f"Request {rid} is {request.status.replace('_', ' ')}: only an open request is amended.")
        document: dict[str, Any] = json.loads(json.dumps(request.current_version.document))
    return document


def amend_form(web: Web, call: Call) -> Response:
    """The case form filled with the request's current case version; saving it amends the request."""
    rid = _rid(call)
    if call.form is None:
        values = forms.form_values(_amendable(web, rid))
        return _case_form(web, call, values, _determine(web, values), rid=rid)
    _amendable(web, rid)
    values = _form_values(call)
    return _case_form(web, call, values, _determine(web, values), rid=rid)


def act_amend(web: Web, call: Call) -> Response:
    """Amend from the case form's fields (or an uploaded case file); a clinician may attest it expedited."""
    from coverage.services.requests import amend, intake

    rid = _rid(call)
    upload = call.upload("case")
    if upload is not None and upload.filename:

        def work() -> str:
            result = amend(
                rid, _uploaded_text(call, "case"), uow=web.uow(), checker=web.checker, ctx=web.ctx, by=call.user.name
            )
            return (
                f"Request {rid}: case version {result.case_version}; "
                f"now {result.status} ({result.determination.outcome})."
            )

        return action(web, call, _to(rid), work)
    document = _amendable(web, rid)
    values = _form_values(call)
    checked = _determine(web, values)
    expedited = call.value("expedited") == "on"
    if expedited and call.user.role != "clinician":
        return _case_form(
            web, call, values, checked, status=403, rid=rid,
            upload_problems=["expedited: only a clinician attests an expedited request"],
        )  # fmt: skip
    if checked["problems"]:
        return _case_form(web, call, values, checked, status=422, rid=rid)
    if values.get("case_id", "").strip() != str(document.get("case_id", "")):
        problems = [f"case_id: request {rid} is the course of {document.get('case_id')}; a new case is a new intake"]
        return _case_form(web, call, values, checked, status=422, rid=rid, upload_problems=problems)
    try:
        if expedited:
            # The services attest an expedited request at intake; the same case taken in again amends its
            # open request (this one: the case id is the course's) and marks it expedited.
            result = intake(
                checked["text"],
                uow=web.uow(),
                checker=web.checker,
                ctx=web.ctx,
                by=call.user.name,
                expedited=True,
                expedited_reason=call.value("expedited_reason") or None,
            )
        else:
            result = amend(rid, checked["text"], uow=web.uow(), checker=web.checker, ctx=web.ctx, by=call.user.name)
    except InvalidInput as error:
        by_field, other = forms.problems_by_field(error.problems)
        checked.update(by_field=by_field, other=other, problems=error.problems)
        return _case_form(web, call, values, checked, status=422, rid=rid)
    except PriorAuthError as error:
        return _case_form(web, call, values, checked, status=409, rid=rid, upload_problems=relabel(error.lines()))
    return flash_and_go(
        web,
        call,
        f"Request {result.request_id}: case version {result.case_version}; "
        f"now {result.status} ({result.determination.outcome}).",
        _to(result.request_id),
    )


def act_attach(web: Web, call: Call) -> Response:
    """Attach an uploaded PDF (``requests attach``); a refusal names the uploaded file."""
    from coverage.services.attachments import attach
    from coverage.services.documents import MAX_ATTACHMENT_BYTES
    from coverage.store.documents import DocumentStore

    rid = _rid(call)

    def work() -> str:
        upload = call.upload("file")
        if upload is None or not upload.filename:
            raise InvalidInput(["file: choose a PDF"])
        data = upload.file.read(MAX_ATTACHMENT_BYTES + 1)
        # The refusals name the file as the user chose it (a safe form of its name).
        shown = re.sub(r"[^A-Za-z0-9._ ()-]", "_", Path(upload.filename).name)[:100].strip(" .") or "attachment.pdf"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / shown
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            view = attach(
                rid,
                path,
                title=call.value("title"),
                uow=web.uow(),
                ctx=web.ctx,
                store=DocumentStore(web.settings.documents_location),
                by=call.user.name,
            )
        return f"Request {rid}: attached; now {view.status}."

    def attach_work() -> str:
        try:
            return work()
        except PriorAuthError as error:
            raise InvalidInput([re.sub(r"^FILE\.pdf:", "file:", line) for line in error.lines()]) from None

    return action(web, call, _to(rid), attach_work)


def _move(target: str, done: str) -> Callable[[Web, Call], Response]:
    def handler(web: Web, call: Call) -> Response:
        from coverage.services.requests import transition

        rid = _rid(call)
        return action(
            web,
            call,
            _to(rid),
            lambda: (
                f"Request {rid}: {done}; now "
                + transition(
                    rid, target, uow=web.uow(), ctx=web.ctx, by=call.user.name, reason=call.value("reason") or None
                ).status
                + "."
            ),
        )

    return handler


def _undoable(web: Web, rid: int) -> str | None:
    """What "Undo the last change" would undo: the request's last undoable event, in words."""
    from coverage.services.requests import load

    with web.uow() as uow:
        _, request = load(uow, rid)
        event = request.last_undoable()
        if event is None:
            return None
        words = f"{event.action.replace('_', ' ')} ({event.from_status or '—'} → {event.to_status}"
        words += f", {event.at:%Y-%m-%d %H:%M} UTC by {event.by}"
        return words + (f": {event.reason})" if event.reason else ")")


def act_undo(web: Web, call: Call) -> Response:
    from coverage.services.requests import undo

    rid = _rid(call)

    def work() -> str:
        what = _undoable(web, rid)
        status = undo(rid, call.value("reason"), uow=web.uow(), ctx=web.ctx, by=call.user.name).status
        return f"Request {rid}: undone: {what}; now {status}."

    return action(web, call, _to(rid), work)


def act_continue(web: Web, call: Call) -> Response:
    from coverage.services.requests import continue_request

    rid = _rid(call)
    try:
        result = continue_request(rid, uow=web.uow(), checker=web.checker, ctx=web.ctx, by=call.user.name)
    except PriorAuthError as error:
        return flash_and_go(web, call, "Refused: " + " ".join(error.lines()), _to(rid))
    return flash_and_go(
        web, call, f"Continuation request {result.request_id} taken in: {result.status}.", _to(result.request_id)
    )


def act_session(web: Web, call: Call) -> Response:
    from coverage.services.sessions import add

    rid = _rid(call)

    def work() -> str:
        day = forms.form_date("session date", call.value("date"), required=True)
        assert day is not None
        if day > web.ctx.today():
            raise InvalidInput([f"session date: {day} is in the future"])
        dose = forms.form_count("dose", call.value("dose_mg"), high=1000)
        view = add(rid, day=day, uow=web.uow(), ctx=web.ctx, by=call.user.name, dose_mg=dose)
        charged = view.authorization_number or "nothing (no authorization in force)"
        return f"Session {view.id} on {view.date}: {view.units} units charged to {charged}."

    return action(web, call, _to(rid), work)


def act_void_session(web: Web, call: Call) -> Response:
    from coverage.services.requests import get_request
    from coverage.services.sessions import void

    rid = _rid(call)

    def work() -> str:
        session_id = forms.form_id("session", call.value("session_id"))
        if session_id not in {s.id for s in get_request(rid, uow=web.uow(), ctx=web.ctx).sessions}:
            raise InvalidInput([f"session: {session_id} is not a session of request {rid}'s course"])
        view = void(session_id, call.value("reason"), uow=web.uow(), ctx=web.ctx, by=call.user.name)
        return f"Session {view.id} voided."

    return action(web, call, _to(rid), work)


def act_plan(web: Web, call: Call) -> Response:
    from coverage.clinic import load_clinic
    from coverage.services.payments import create_plan

    rid = _rid(call)

    def work() -> str:
        choice = call.value("terms")
        pay_in_full = choice == "full"
        count = None if pay_in_full else forms.form_count("installments", choice, high=120)
        if count is None and not pay_in_full:
            raise InvalidInput(["installments: choose pay in full or a number of installments"])
        start = forms.form_date("first due date", call.value("start")) or web.ctx.today()
        stored = create_plan(
            rid,
            uow=web.uow(),
            prices=load_clinic(web.settings).prices,
            start=start,
            by=call.user.name,
            ctx=web.ctx,
            installments=count,
            pay_in_full=pay_in_full,
        )
        return (
            f"Plan {stored.id}: {stored.total} in {len(stored.installments)} installment(s) from {stored.start_date}."
        )

    return action(web, call, _to(rid), work, PAYMENT_LABELS)


def act_payment(web: Web, call: Call) -> Response:
    """A payment on one of the request's plans, through the ledger (``receive_payment``); refusals shown in the form."""
    from coverage.services.payments import plans_for_request, receive_payment

    rid = _rid(call)
    form = "payment"
    try:
        plan_id = forms.form_id("plan", call.value("plan_id"))
        if plan_id not in {p.id for p in plans_for_request(rid, uow=web.uow())}:
            raise InvalidInput([f"plan: {plan_id} is not a plan of request {rid}"])
        form = f"payment-{plan_id}"
        problems: list[str] = []
        amount = day = None
        try:
            amount = forms.form_amount("amount", call.value("amount"))
        except InvalidInput as error:
            problems += error.problems
        try:
            day = forms.form_date("paid on", call.value("paid_on")) or web.ctx.today()
        except InvalidInput as error:
            problems += error.problems
        if problems or amount is None or day is None:
            raise InvalidInput(problems)
        posted = receive_payment(
            uow=web.uow(),
            amount=amount,
            paid_on=day,
            by=call.user.name,
            ctx=web.ctx,
            method=call.value("method") or None,
            plan_id=plan_id,
        )
    except PriorAuthError as error:
        release(web, call)
        lines = relabel(error.lines(), PAYMENT_LABELS)
        return _request_view(web, call, status=422, problems={form: lines})
    owed = posted.plan.balance if posted.plan is not None else posted.account.balance
    return flash_and_go(
        web,
        call,
        f"Payment of {amount} recorded on plan {plan_id} (entry {posted.entry.id}); {owed} still owed.",
        _to(rid),
    )


def _account_entry(web: Web, call: Call, rid: int) -> int:
    """The ledger entry a form names, refused unless it is on the account of the request's patient."""
    from coverage.services.payments import get_account

    entry_id = forms.form_id("entry", call.value("entry_id"))
    patient = web.lookup.headers([rid])[rid].patient_id
    if entry_id not in {e.id for e, _ in get_account(patient, uow=web.uow(), ctx=web.ctx).entries}:
        raise InvalidInput([f"entry: {entry_id} is not on the account of request {rid}'s patient"])
    return entry_id


def _balance_words(balance: Decimal) -> str:
    """The account's balance as a clerk reads it: below zero it is a credit, never a negative balance."""
    return f"credit on account {-balance}" if balance < 0 else f"balance due {balance}"


def act_refund(web: Web, call: Call) -> Response:
    from coverage.services.payments import refund_payment

    rid = _rid(call)

    def work() -> str:
        entry_id = _account_entry(web, call, rid)
        amount = forms.form_amount("amount", call.value("amount"))
        posted = refund_payment(
            entry_id, uow=web.uow(), amount=amount, reason=call.value("reason"), by=call.user.name, ctx=web.ctx
        )
        return f"Refund of {amount} on payment {entry_id} recorded; {_balance_words(posted.account.balance)}."

    return action(web, call, _to(rid), work, PAYMENT_LABELS)


def act_void_entry(web: Web, call: Call) -> Response:
    from coverage.services.payments import void_entry

    rid = _rid(call)

    def work() -> str:
        entry_id = _account_entry(web, call, rid)
        posted = void_entry(entry_id, uow=web.uow(), reason=call.value("reason"), by=call.user.name, ctx=web.ctx)
        return f"Ledger entry {entry_id} voided; {_balance_words(posted.account.balance)}."

    return action(web, call, _to(rid), work, PAYMENT_LABELS)


# --- the new case form --------------------------------------------------------------------------


def _policy_choices(web: Web) -> tuple[tuple[str, str], ...]:
    return (("", "—"), *((i, i) for i in web.checker.registry.ids()))


def _determine(web: Web, values: dict[str, str]) -> dict[str, Any]:
    """The case the form stands for, checked and evaluated as the records would today."""
    from coverage.errors import InvalidCase
    from coverage.services.requests import evaluate

    document = forms.case_document(values)
    text = json.dumps(document)
    today = web.ctx.today()
    try:
        case = web.checker.parse(text)
        if case.as_of > today:  # what Save (intake) says too
            raise InvalidCase([f"as_of: {case.as_of} is after today ({today}); a case records facts already gathered"])
    except InvalidCase as error:
        by_field, other = forms.problems_by_field(error.problems)
        return {"determination": None, "problems": error.problems, "by_field": by_field, "other": other, "text": text}
    determination = evaluate(case, web.checker, today)
    return {"determination": determination, "problems": [], "by_field": {}, "other": [], "text": text}


def _form_values(call: Call) -> dict[str, str]:
    values: dict[str, str] = {}
    if call.form is not None:
        for key, value in call.form.multi_items():
            if isinstance(value, str) and key not in NOT_CASE_FIELDS:
                values[key] = value
    return values


def _case_form(
    web: Web,
    call: Call,
    values: dict[str, str],
    checked: dict[str, Any] | None,
    status: int = 200,
    *,
    rid: int | None = None,
    **extra: Any,
) -> Response:
    patient = values.get("patient.id", "").strip()
    if patient:
        # The form shows a patient's data (an uploaded case, a failed save, an amend): access logged.
        web.log_access(call, [(patient[:64], rid)], "case form" if rid is None else "amend form")
    counts = forms.rows_in(values)
    for _, name, _ in forms.LISTS:
        counts[name] = max(counts[name], 1)
    added = call.value("add")
    if added in counts:
        counts[added] += 1
    return web.render(
        call,
        "case_form.html",
        http_status=status,
        sections=forms.SECTIONS,
        lists=forms.LISTS,
        counts=counts,
        values=values,
        checked=checked,
        by_field=(checked or {}).get("by_field", {}),
        policies=_policy_choices(web),
        path=forms.path,
        expedited=call.value("expedited") == "on",
        expedited_reason=call.value("expedited_reason"),
        rid=rid,
        **extra,
    )


def case_new(web: Web, call: Call) -> Response:
    if call.form is None:
        values = {"as_of": web.ctx.today().isoformat(), "request.kind": "initial"}
        return _case_form(web, call, values, None)
    values = _form_values(call)
    return _case_form(web, call, values, _determine(web, values))


def case_upload(web: Web, call: Call) -> Response:
    try:
        data = _uploaded_text(call, "case")
        document = json.loads(data)
        if not isinstance(document, dict):
            raise InvalidInput(["case: a case file is a JSON object"])
    except (ValueError, RecursionError, InvalidInput) as error:
        lines = error.lines() if isinstance(error, InvalidInput) else ["case: not JSON"]
        return _case_form(web, call, {}, None, status=400, upload_problems=lines)
    values = forms.form_values(document)
    unknown = sorted(
        set(document)
        - {n for _, p, fs in forms.SECTIONS for f in fs for n in [forms.path(p, f.name).split(".")[0]]}
        - {n for _, n, _ in forms.LISTS}
    )
    return _case_form(
        web, call, values, _determine(web, values), upload_problems=[f"{k}: unknown field, left out" for k in unknown]
    )


def case_determine(web: Web, call: Call) -> Response:
    """The live panel, and each field's problems put next to it (htmx out-of-band swaps)."""
    values = _form_values(call)
    checked = _determine(web, values)
    return web.render(call, "_determination.html", checked=checked, live_fields=forms.field_names(values))


def case_save(web: Web, call: Call) -> Response:
    from coverage.services.requests import intake

    values = _form_values(call)
    checked = _determine(web, values)
    if call.value("expedited") == "on" and call.user.role != "clinician":
        return _case_form(
            web,
            call,
            values,
            checked,
            status=403,
            upload_problems=["expedited: only a clinician attests an expedited request"],
        )
    if checked["problems"]:
        return _case_form(web, call, values, checked, status=422)
    try:
        result = intake(
            checked["text"],
            uow=web.uow(),
            checker=web.checker,
            ctx=web.ctx,
            by=call.user.name,
            expedited=call.value("expedited") == "on",
            expedited_reason=call.value("expedited_reason") or None,
        )
    except InvalidInput as error:
        by_field, other = forms.problems_by_field(error.problems)
        checked.update(by_field=by_field, other=other, problems=error.problems)
        return _case_form(web, call, values, checked, status=422)
    except PriorAuthError as error:
        return _case_form(web, call, values, checked, status=409, upload_problems=error.lines())
    return flash_and_go(
        web,
        call,
        f"Request {result.request_id} {result.action}: {result.status} ({result.determination.outcome}).",
        _to(result.request_id),
    )


# --- payers, users, the access log ----------------------------------------------------------------


def payers(web: Web, call: Call) -> Response:
    from coverage.services.payers import list_payers

    return web.render(call, "payers.html", payers=list_payers(uow=web.uow()), policies=web.checker.registry.ids())


def payer_add(web: Web, call: Call) -> Response:
    from coverage.services.payers import add_payer

    def work() -> str:
        turnaround = forms.form_count("turnaround days", call.value("turnaround_days"), high=365) or 14
        urgent = forms.form_count("urgent turnaround hours", call.value("urgent_turnaround_hours"), high=720) or 72
        view = add_payer(
            call.value("name"),
            uow=web.uow(),
            turnaround_days=turnaround,
            urgent_turnaround_hours=urgent,
            channel=call.value("channel") or "fax",
            fax=call.value("fax") or None,
            phone=call.value("phone") or None,
            portal_url=call.value("portal_url") or None,
            policy_id=call.value("policy_id") or None,
            appeal_window_days=forms.form_count("appeal window days", call.value("appeal_window_days"), high=3650),
            known_policies=web.checker.registry.ids(),
        )
        return f"Payer {view.name} added."

    return action(web, call, "/payers", work)


def payer_edit(web: Web, call: Call) -> Response:
    """Correct a payer's entry (``payers edit``): every field of the row's form, an empty one cleared."""
    from coverage.services.payers import edit_payer

    def work() -> str:
        payer_id = forms.form_id("payer", call.value("payer_id"))
        changes: dict[str, Any] = {
            field: call.value(field) for field in ("name", "channel", "fax", "phone", "portal_url", "policy_id")
        }
        changes["turnaround_days"] = forms.form_count("turnaround days", call.value("turnaround_days"), high=365)
        changes["urgent_turnaround_hours"] = forms.form_count(
            "urgent turnaround hours", call.value("urgent_turnaround_hours"), high=720
        )
        changes["appeal_window_days"] = forms.form_count(
            "appeal window days", call.value("appeal_window_days"), high=3650
        )
        for field in ("turnaround_days", "urgent_turnaround_hours"):
            if changes[field] is None:
                raise InvalidInput([f"{field.replace('_', ' ')}: required"])
        before, after = edit_payer(payer_id, changes, uow=web.uow(), known_policies=web.checker.registry.ids())
        return f"Payer {after.name} saved" + (f" (was {before.name})." if before.name != after.name else ".")

    return action(web, call, "/payers", work)


def policies(web: Web, call: Call) -> Response:
    """The payer policies the checker loaded: shipped ones and the clinic's folder (``PRIORAUTH_POLICY_DIR``)."""
    return web.render(call, "policies.html", policies=web.checker.registry.all(), policy_dir=web.settings.policy_dir)


def users(web: Web, call: Call) -> Response:
    return web.render(call, "users.html", users=web.accounts.users())


def _user_added(user: Any) -> str:
    return f"User {user.name} added ({user.role})."  # as ``priorauth users add`` says it


def user_add(web: Web, call: Call) -> Response:
    return action(
        web,
        call,
        "/admin/users",
        lambda: _user_added(
            web.accounts.add_user(call.value("name"), role=call.value("role"), password=call.value("password"))
        ),
    )


def user_disable(web: Web, call: Call) -> Response:
    """Disable or enable a user (an admin cannot disable their own account: nobody would be left to undo it)."""
    disable = call.value("disable") != "0"

    def work() -> str:
        name = call.value("name")
        if disable and name == call.user.name:
            raise InvalidInput(["user: you cannot disable your own account (ask another admin)"])
        return "User " + web.accounts.set_disabled(name, disable).name + (" disabled." if disable else " enabled.")

    return action(web, call, "/admin/users", work)


def user_unlock(web: Web, call: Call) -> Response:
    return action(
        web, call, "/admin/users", lambda: "User " + web.accounts.unlock(call.value("name")).name + " unlocked."
    )


def access_log(web: Web, call: Call) -> Response:
    """The access log, newest first, by patient, user and since a day (the clinic's day, from its midnight)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    patient, who, since_text = call.value("patient").strip(), call.value("user").strip(), call.value("since").strip()
    problems: list[str] = []
    since = None
    try:
        day = forms.form_date("since", since_text)
        if day is not None:
            since = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(web.ctx.timezone)).astimezone(dt.UTC)
    except InvalidInput as error:
        problems = error.problems
    entries = web.accounts.access(patient=patient or None, user=who or None, since=since, limit=500)
    return web.render(
        call,
        "access.html",
        http_status=400 if problems else 200,
        entries=entries,
        patient=patient,
        who=who,
        since=since_text,
        problems=problems,
    )


def home_redirect(web: Web, call: Call) -> Response:
    return RedirectResponse("/", status_code=303)


def not_allowed(web: Web, call: Call) -> Response:
    return HTMLResponse("", status_code=405)


ROUTES: Final[list[tuple[str, Callable[[Web, Call], Response], list[str], tuple[str, ...] | None]]] = [
    ("/", worklist, ["GET"], None),
    ("/worklist.csv", worklist_csv, ["GET"], None),
    ("/search", search, ["POST"], None),
    ("/requests/{request_id:int}", request_page, ["GET"], None),
    ("/requests/{request_id:int}/patient", patient_page, ["GET"], None),
    ("/requests/{request_id:int}/documents/{number:str}", document, ["GET"], None),
    ("/requests/{request_id:int}/send", act_send, ["POST"], None),
    ("/requests/{request_id:int}/signoff", act_signoff, ["POST"], CLINICIAN),
    ("/requests/{request_id:int}/sent", act_sent, ["POST"], None),
    ("/requests/{request_id:int}/send-failed", act_send_failed, ["POST"], None),
    ("/requests/{request_id:int}/record", act_record, ["POST"], None),
    ("/requests/{request_id:int}/amend", act_amend, ["POST"], None),
    ("/requests/{request_id:int}/amend/form", amend_form, ["GET", "POST"], None),
    ("/requests/{request_id:int}/attach", act_attach, ["POST"], None),
    ("/requests/{request_id:int}/appeal", _move("appeal_drafted", "appeal drafted"), ["POST"], None),
    ("/requests/{request_id:int}/external-review", _move("external_review", "sent to external review"), ["POST"], None),
    ("/requests/{request_id:int}/cancel", _move("cancelled", "cancelled"), ["POST"], None),
    ("/requests/{request_id:int}/undo", act_undo, ["POST"], None),
    ("/requests/{request_id:int}/continue", act_continue, ["POST"], None),
    ("/requests/{request_id:int}/sessions", act_session, ["POST"], None),
    ("/requests/{request_id:int}/sessions/void", act_void_session, ["POST"], None),
    ("/requests/{request_id:int}/plan", act_plan, ["POST"], None),
    ("/requests/{request_id:int}/payment", act_payment, ["POST"], None),
    ("/requests/{request_id:int}/ledger/refund", act_refund, ["POST"], LEDGER_ROLES),
    ("/requests/{request_id:int}/ledger/void", act_void_entry, ["POST"], LEDGER_ROLES),
    ("/cases/new", case_new, ["GET", "POST"], None),
    ("/cases/upload", case_upload, ["POST"], None),
    ("/cases/determine", case_determine, ["POST"], None),
    ("/cases", case_save, ["POST"], None),
    ("/payers", payers, ["GET"], None),
    ("/payers/add", payer_add, ["POST"], ADMIN),
    ("/payers/edit", payer_edit, ["POST"], ADMIN),
    ("/admin/policies", policies, ["GET"], ADMIN),
    ("/admin/users", users, ["GET"], ADMIN),
    ("/admin/users/add", user_add, ["POST"], ADMIN),
    ("/admin/users/disable", user_disable, ["POST"], ADMIN),
    ("/admin/users/unlock", user_unlock, ["POST"], ADMIN),
    ("/admin/access", access_log, ["GET", "POST"], ADMIN),
]
