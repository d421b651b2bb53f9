"""The web app: routes, sign-in, roles, CSRF, security headers, and the calls into the services.

Every route but the sign-in page and the static files needs a session. Handlers are plain
functions run in a worker thread (the services are synchronous); each changing action calls
the same service as the CLI with the signed-in user as ``by``, then redirects (its outcome in a
one-time message). Pages that show a patient's data write the access log.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders, UploadFile
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coverage.errors import NotFound, PriorAuthError
from coverage.settings import Settings
from coverage.web import forms
from coverage.web.accounts import Accounts, SignedIn
from coverage.web.records import Lookup
from coverage.web.security import Signer, load_secret

if TYPE_CHECKING:
    from coverage.policies.service import Checker
    from coverage.services.context import Context
    from coverage.store.db import Database
    from coverage.store.uow import UnitOfWork

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "pa_session"
PRE_COOKIE = "pa_pre"
#: Content Security Policy: no inline script or style, nothing from elsewhere, never framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; frame-src 'self'"
)
#: A stored PDF shown inline in the request page's frame: framed by our own pages only.
CSP_DOCUMENT = "default-src 'none'; frame-ancestors 'self'; object-src 'self'"
MAX_UPLOAD = 10 * 1024 * 1024
SIGN_IN_REFUSED = (
    "Wrong name or password, or the account is disabled or locked (5 failed sign-ins in a row lock it for 15 minutes)."
)
#: Posts that change nothing: their forms' one-time tokens are not spent (the live preview, a new row, search).
NONCE_FREE = frozenset({"/search", "/cases/new", "/cases/upload", "/cases/determine", "/admin/access"})
ALREADY_DONE = "Already done: this form was sent once; it is not done twice. Check the page before doing it again."


class Refused(Exception):
    """A request the app answers with an error page (status and one line)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    form: FormData | None
    user: SignedIn
    csrf: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> str:
        if self.form is None:
            return ""
        found = self.form.get(name)
        return found if isinstance(found, str) else ""

    def upload(self, name: str) -> UploadFile | None:
        if self.form is None:
            return None
        found = self.form.get(name)
        return found if isinstance(found, UploadFile) else None

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"


Handler = Callable[["Web", Call], Response]


class Web:
    """What the app works with, opened once: settings, database, services' collaborators, templates."""

    def __init__(self, settings: Settings, database: Database) -> None:
        from coverage.services.context import Context

        self.settings = settings
        self.database = database
        self.ctx: Context = Context.from_settings(settings)
        self.accounts = Accounts(database.sessions)
        self.lookup = Lookup(database.sessions)
        self.signer = Signer(load_secret(settings))
        self._checker: Checker | None = None
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals["today"] = self.ctx.today
        self.templates.globals["human"] = forms.human
        # Every action form carries a fresh random one-time token; the first post spends it (in the
        # database: every web worker, and a restarted one, knows it) and a second post of the same
        # form (a double click, a reload that posts again, the back button) is not done again.
        self.templates.globals["nonce"] = lambda: secrets.token_urlsafe(16)
        self.templates.filters["label"] = lambda v: str(v).replace("_", " ") if v is not None else ""

    @property
    def checker(self) -> Checker:
        if self._checker is None:
            from coverage.policies.service import Checker

            self._checker = Checker.from_settings(self.settings)
        return self._checker

    def uow(self) -> UnitOfWork:
        return self.database.unit_of_work()

    def render(self, call: Call | None, template: str, http_status: int = 200, **values: Any) -> HTMLResponse:
        page = self.templates.get_template(template)
        html = page.render(
            user=call.user if call is not None else None,
            csrf=call.csrf if call is not None else values.pop("csrf", ""),
            flash=(call.user.flash if call is not None else None),
            **values,
        )
        return HTMLResponse(html, status_code=http_status)

    def log_access(self, call: Call, seen: list[tuple[str, int | None]], what: str) -> None:
        self.accounts.log_access(call.user.name, seen, what)

    # --- the pipeline every request goes through ----------------------------------------------

    def handle(
        self, handler: Handler, request: Request, form: FormData | None, role: tuple[str, ...] | None
    ) -> Response:
        token = self.signer.unsign(request.cookies.get(COOKIE))
        user = self.accounts.session(token) if token else None
        if user is None:
            response: Response
            if request.headers.get("HX-Request") == "true":
                response = Response(status_code=204, headers={"HX-Redirect": "/signin"})
            else:
                response = RedirectResponse("/signin", status_code=303)
            response.delete_cookie(COOKIE, path="/")
            return secure(response)
        csrf = self.signer.csrf(user.token)
        call = Call(request, form, user, csrf, dict(request.path_params))
        try:
            if request.method == "POST" and not self.signer.csrf_ok(user.token, call.value("csrf")):
                raise Refused(403, "This form has expired or did not come from this site (CSRF token). Reload it.")
            if role is not None and user.role not in role:
                raise Refused(403, f"Only {' or '.join(role)} users may do this.")
            nonce = call.value("nonce")[:64]
            if (
                request.method == "POST"
                and nonce
                and request.url.path not in NONCE_FREE
                and not request.url.path.endswith("/amend/form")
                and not self.accounts.spend_form_token(user.session_id, nonce)
            ):
                return secure(flash_and_go(self, call, ALREADY_DONE, _back(call)))
            response = handler(self, call)
        except Refused as refused:
            response = self.render(call, "error.html", http_status=refused.status, message=refused.message)
        except NotFound as error:
            response = self.render(call, "error.html", http_status=404, message=str(error))
        return secure(response)


def secure(response: Response) -> Response:
    """Security headers on every answer; PHI pages are never stored by the browser."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers["Cache-Control"] = "no-store"
    return response


class SecurityHeaders:
    """Security headers also on the answers no handler made (Starlette's own 404 and 405 pages)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in (
                    ("Content-Security-Policy", CSP),
                    ("X-Content-Type-Options", "nosniff"),
                    ("Referrer-Policy", "no-referrer"),
                    ("X-Frame-Options", "DENY"),
                ):
                    if name not in headers:
                        headers[name] = value
                if scope["path"].startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-cache")
                else:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_secured)


def _route(web: Web, path: str, handler: Handler, methods: list[str], role: tuple[str, ...] | None = None) -> Route:
    async def endpoint(request: Request) -> Response:
        form = None
        if request.method == "POST":
            length = int(request.headers.get("content-length") or 0)
            if length > MAX_UPLOAD:
                limit = MAX_UPLOAD // (1024 * 1024)
                page = web.render(
                    None, "error.html", http_status=413, message=f"The upload is too large (at most {limit} MB)."
                )
                return secure(page)
            form = await request.form(max_files=2, max_fields=2000)
        try:
            return await run_in_threadpool(web.handle, handler, request, form, role)
        finally:
            if form is not None:
                await form.close()

    return Route(path, endpoint, methods=methods)


# --- sign-in ------------------------------------------------------------------------------------


def _pre_session(web: Web, request: Request) -> tuple[str, bool]:
    """The pre-session value the sign-in form's CSRF token is made from (new when absent)."""
    value = web.signer.unsign(request.cookies.get(PRE_COOKIE))
    return (value, False) if value else (secrets.token_urlsafe(24), True)


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def _sign_in_page(web: Web, request: Request, message: str | None = None, status: int = 200) -> Response:
    pre, new = _pre_session(web, request)
    response = web.render(None, "signin.html", http_status=status, csrf=web.signer.csrf("pre:" + pre), message=message)
    if new:
        _set_cookie(request, response, PRE_COOKIE, web.signer.sign(pre))
    return secure(response)


def make_app(web: Web) -> Starlette:
    """The Starlette application over ``web``."""
    from coverage.web import pages

    async def signin(request: Request) -> Response:
        if request.method == "GET":
            return await run_in_threadpool(_sign_in_page, web, request)
        form = await request.form(max_files=0, max_fields=10)
        pre = web.signer.unsign(request.cookies.get(PRE_COOKIE))
        given = form.get("csrf")
        if pre is None or not web.signer.csrf_ok("pre:" + pre, given if isinstance(given, str) else None):
            return await run_in_threadpool(
                _sign_in_page, web, request, "The sign-in form expired (CSRF token). Try again.", 403
            )
        name, password = form.get("name"), form.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            return await run_in_threadpool(_sign_in_page, web, request, "Give your name and password.", 400)
        signed = await run_in_threadpool(web.accounts.sign_in, name, password)
        if signed is None:
            # One message for a wrong password, an unknown name, a disabled and a locked account:
            # the page must not tell which accounts exist.
            return await run_in_threadpool(_sign_in_page, web, request, SIGN_IN_REFUSED, 401)
        response = RedirectResponse("/", status_code=303)
        _set_cookie(request, response, COOKIE, web.signer.sign(signed.token))
        response.delete_cookie(PRE_COOKIE, path="/")
        return secure(response)

    def signout(web: Web, call: Call) -> Response:
        web.accounts.sign_out(call.user.token)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    routes: list[Route | Mount] = [
        Route("/signin", signin, methods=["GET", "POST"]),
        _route(web, "/signout", signout, ["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    for path, handler, methods, role in pages.ROUTES:
        routes.append(_route(web, path, handler, methods, role))
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.web = web
    return app


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Starlette:
    """The app on the settings' database (opened, migrated if it is the embedded SQLite file)."""
    from coverage.settings import load_settings
    from coverage.store.db import open_database

    settings = settings or load_settings()
    database = database or open_database(settings)
    return make_app(Web(settings, database))


def _back(call: Call) -> str:
    """The page an action form was on: its request's page, else the section the action belongs to."""
    if "request_id" in call.params:
        return f"/requests/{call.params['request_id']}"
    return call.request.url.path.rsplit("/", 1)[0] or "/"


def flash_and_go(web: Web, call: Call, message: str, to: str) -> Response:
    web.accounts.flash(call.user.session_id, message)
    if call.htmx:
        return Response(status_code=204, headers={"HX-Redirect": to})
    return RedirectResponse(to, status_code=303)


_FLAG = re.compile(r"^--([a-z][a-z-]*)(?=:)")


def relabel(lines: list[str], labels: Mapping[str, str] | None = None) -> list[str]:
    """The services' lines with the form's field labels for the CLI's option names (``--sent-on:`` → ``sent on:``)."""

    def label(found: re.Match[str]) -> str:
        flag = found[1]
        return (labels or {}).get(flag) or flag.replace("-", " ")

    return [_FLAG.sub(label, line) for line in lines]


def action(web: Web, call: Call, to: str, work: Callable[[], str], labels: Mapping[str, str] | None = None) -> Response:
    """Run a changing service; its outcome, or its error lines (the form's labels), as the next page's message."""
    try:
        message = work()
    except PriorAuthError as error:
        release(web, call)
        message = "Refused: " + " ".join(relabel(error.lines(), labels))
    return flash_and_go(web, call, message, to)


def release(web: Web, call: Call) -> None:
    """The form's one-time token is not spent by a refused action (nothing was done)."""
    if call.value("nonce"):
        web.accounts.release_form_token(call.user.session_id, call.value("nonce")[:64])


def prefect_configured() -> bool:
    return bool(os.environ.get("PREFECT_API_URL"))
