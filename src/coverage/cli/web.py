"""``priorauth web``, ``users`` and ``audit``: the billing office in a browser, its accounts and access log."""

from __future__ import annotations

import datetime as dt
import gc
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from coverage.cli.app import app
from coverage.cli.options import option_date
from coverage.errors import InvalidInput

if TYPE_CHECKING:
    from coverage.web.accounts import Accounts

users_app = typer.Typer(help="Staff accounts of the web app: add, list, disable, enable.", no_args_is_help=True)
audit_app = typer.Typer(help="Who saw which patient's data in the web app.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")


@contextmanager
def _accounts() -> Iterator[Accounts]:
    from coverage.settings import load_settings
    from coverage.store.db import open_database
    from coverage.web.accounts import Accounts

    database = open_database(load_settings())
    try:
        yield Accounts(database.sessions)
    finally:
        database.dispose()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Again: ") != first:
        raise InvalidInput(["password: the two entries differ"])
    return first


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[str, typer.Option("--role", help="clerk, clinician or admin.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
    ] = False,
) -> None:
    """Add a user (the password is asked for, or read with --password-stdin; kept as an argon2 hash)."""
    from coverage.web.accounts import ROLES

    if role not in ROLES:
        raise InvalidInput([f"--role: {role!r} is not one of {', '.join(ROLES)}"])
    password = _password(password_stdin)
    with _accounts() as accounts:
        user = accounts.add_user(name, role=role, password=password)
    print(f"user {user.name} added ({user.role})")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """The users, with their role and whether they are disabled or locked."""
    with _accounts() as accounts:
        found = accounts.users()
    if as_json:
        print(json.dumps([u.to_dict() for u in found], indent=2))
        return
    now = dt.datetime.now(dt.UTC)
    for u in found:
        state = "disabled" if u.disabled else "locked" if u.locked_until and u.locked_until > now else "active"
        print(f"{u.name:<24} {u.role:<10} {state}")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="The sign-in name.")]) -> None:
    """Disable a user: their sessions end at once and they cannot sign in."""
    with _accounts() as accounts:
        user = accounts.set_disabled(name, True)
    print(f"user {user.name} disabled")


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument(help="The sign-in name.")]) -> None:
    """Enable a disabled user again (and lift a lockout)."""
    with _accounts() as accounts:
        user = accounts.set_disabled(name, False)
    print(f"user {user.name} enabled")


@audit_app.command("access")
def audit_access(
    patient: Annotated[str | None, typer.Option("--patient", help="The clinic's patient id.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="A user's sign-in name.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this day on (YYYY-MM-DD, UTC).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The access log, newest first: who saw which patient's data, when, on which request."""
    day = option_date("--since", since)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day is not None else None
    with _accounts() as accounts:
        entries = accounts.access(patient=patient, user=user, since=start, limit=100_000)
    if as_json:
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    for e in entries:
        request = f"request {e.request_id}" if e.request_id else ""
        print(f"{e.at:%Y-%m-%d %H:%M:%S} {e.user:<16} {e.patient_id:<16} {request:<16} {e.what}")


@app.command()
def web(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the billing office in a browser (sign in with an account made by `priorauth users add`)."""
    serve(host, port)


def _check_port(host: str, port: int) -> None:
    """Refuse, in one line and before any banner, an address that cannot be listened on (a port in use)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise InvalidInput([f"--host: cannot listen on {host!r} ({error.strerror or error})"]) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise InvalidInput([f"--port: cannot listen on {host}:{port} ({error.strerror or error})"]) from None


def serve(host: str, port: int) -> None:
    import ipaddress

    import uvicorn

    from coverage.web.app import create_app

    _check_port(host, port)
    gc.enable()
    application = create_app()
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        print(
            f"warning: --host {host} serves plain http beyond this machine: passwords and patient data cross "
            "the network unencrypted; put it behind an HTTPS proxy",
            file=sys.stderr,
        )
    print(f"priorauth web: http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False, server_header=False)
