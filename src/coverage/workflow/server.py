"""Talking to a Prefect server: its client credentials, checked before anything is deployed or run.

A Prefect server for the clinic requires ``PREFECT_SERVER_API_AUTH_STRING``; every client (``priorauth
deploy``, ``priorauth worker``, flows run by a worker) then sends the same value from
``PREFECT_API_AUTH_STRING``. When ``PREFECT_API_URL`` is set, :func:`check_api` makes one cheap
authenticated call (the server's version) and turns a missing or refused string, or a server that
does not answer, into one :class:`~coverage.errors.ConfigurationError` line naming the setting: no
traceback, and the string itself is never printed. A server that does not answer now (connection
refused or timed out, or its TLS proxy answering 502-504 while it restarts) is
:class:`~coverage.errors.Unreachable`, a temporary failure. Without ``PREFECT_API_URL`` Prefect runs
in its local mode and nothing is checked.

:func:`worker_errors` is what a worker checks before it takes runs: the records database set
(a worker for a server never falls back to an embedded SQLite file), reachable and migrated, the
document store writable, the clinic file and the policies loadable. ``priorauth worker`` exits 75
(``EX_TEMPFAIL``: its supervisor starts it again) when the only problems are a server or database
that does not answer, and 2 for anything else.
"""

from __future__ import annotations

import base64
import errno
import os
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from coverage.errors import ConfigurationError, PriorAuthError, Unreachable

if TYPE_CHECKING:
    from coverage.settings import Settings

#: What a worker's flow runs get unless the environment says otherwise: heartbeats every 30 s (the
#: minimum; the crash automations wait 90 s for one), our ``coverage.*`` log lines in the run's logs,
#: and no result persisted to disk (a pickled exception may hold PHI).
WORKER_ENVIRONMENT = {
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "coverage",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    # The worker's health check web server binds to all interfaces by default; another value is
    # refused unless it is a loopback address (health_port_problems).
    "PREFECT_WORKER_WEBSERVER_HOST": "127.0.0.1",
}

#: The worker's health check port unless ``PREFECT_WORKER_WEBSERVER_PORT`` says otherwise (Prefect's default).
DEFAULT_HEALTH_PORT = 8080

#: Seconds to wait for the server's answer to the credentials check.
CHECK_TIMEOUT_S = 10.0
#: What a TLS proxy answers while the Prefect server behind it is down or restarting.
_PROXY_WAITING = frozenset({502, 503, 504})
#: Network errors that pass: no route now, a network interface still coming up.
_NETWORK_DOWN = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN})


def api_url(env: Mapping[str, str] | None = None) -> str | None:
    """The Prefect server's API URL from ``PREFECT_API_URL``, or ``None`` (Prefect's local mode)."""
    value = (os.environ if env is None else env).get("PREFECT_API_URL", "").strip()
    return value.rstrip("/") or None


def shown(url: str) -> str:
    """``url`` without any user or password in it (it goes into messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_api(env: Mapping[str, str] | None = None, *, timeout: float = CHECK_TIMEOUT_S) -> str | None:
    """With ``PREFECT_API_URL`` set: the client string is set and the server accepts it; returns the URL.

    One line (``ConfigurationError``) when the string is missing, refused, or the server does not answer.
    """
    env = os.environ if env is None else env
    url = api_url(env)
    if url is None:
        return None
    where = shown(url)
    if urlsplit(url).scheme not in ("http", "https"):
        raise ConfigurationError(f"PREFECT_API_URL: {where} is not an http(s) URL")
    auth = env.get("PREFECT_API_AUTH_STRING", "")
    if not auth:
        raise ConfigurationError(
            f"PREFECT_API_AUTH_STRING: not set; the Prefect server at {where} needs the value of its "
            "PREFECT_SERVER_API_AUTH_STRING"
        )
    try:
        _get(f"{url}/admin/version", env, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code in _PROXY_WAITING:
            raise Unreachable(
                f"PREFECT_API_URL: cannot reach the Prefect server at {where} (it answered {error.code})"
            ) from None
        if error.code in (401, 403):
            raise ConfigurationError(
                f"PREFECT_API_AUTH_STRING: refused by the Prefect server at {where} ({error.code}); "
                "it must equal the server's PREFECT_SERVER_API_AUTH_STRING"
            ) from None
        raise ConfigurationError(
            f"PREFECT_API_URL: the Prefect server at {where} answered {error.code} (is it the /api URL?)"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise _not_reached(where, error) from None
    return url


def _not_reached(where: str, error: Exception) -> ConfigurationError:
    """The one line for a server that could not be reached: temporary (:class:`Unreachable`) or a setting to fix."""
    reason = getattr(error, "reason", error)
    kind = Unreachable if _passing(reason) else ConfigurationError
    return kind(f"PREFECT_API_URL: cannot reach the Prefect server at {where} ({type(reason).__name__})")


def _tls(env: Mapping[str, str]) -> ssl.SSLContext:
    """TLS as Prefect's own client does it: ``PREFECT_API_SSL_CERT_FILE`` (a clinic's own CA) when set,
    and ``PREFECT_API_TLS_INSECURE_SKIP_VERIFY`` honoured, so the check never disagrees with the client."""
    if env.get("PREFECT_API_TLS_INSECURE_SKIP_VERIFY", "").strip().lower() in ("1", "true", "yes", "on"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    cafile = env.get("PREFECT_API_SSL_CERT_FILE", "").strip() or None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(
            f"PREFECT_API_SSL_CERT_FILE: cannot read a CA certificate from {cafile} ({type(error).__name__})"
        ) from None


def _passing(reason: object) -> bool:
    """Whether a failed connection is a server that does not answer now, not a wrong address or certificate."""
    if isinstance(reason, ssl.SSLError | ssl.CertificateError):
        return False
    if isinstance(reason, socket.gaierror):
        return reason.errno == socket.EAI_AGAIN  # "temporary failure in name resolution"; not an unknown name
    if isinstance(reason, ConnectionError | TimeoutError):
        return True
    return isinstance(reason, OSError) and reason.errno in _NETWORK_DOWN


def check_server_records(settings: Settings, env: Mapping[str, str] | None = None) -> None:
    """A process working for a Prefect server uses the shared records database, never an embedded file."""
    if api_url(env) is not None and not settings.database_url:
        raise ConfigurationError(
            "PRIORAUTH_DATABASE_URL: not set; with a Prefect server (PREFECT_API_URL) every command and worker "
            "uses the clinic's shared records database (never an empty local one)"
        )


def worker_errors(settings: Settings, env: Mapping[str, str] | None = None) -> list[PriorAuthError]:
    """What keeps this host from running the flows (empty: ready); :class:`Unreachable` ones may pass."""
    errors: list[PriorAuthError] = []
    try:
        check_api(env)
    except PriorAuthError as error:
        errors.append(error)
    try:
        check_server_records(settings, env)
    except PriorAuthError as error:
        errors.append(error)
        return errors
    from coverage.store.db import open_database

    try:
        open_database(settings).dispose()
    except PriorAuthError as error:
        errors.append(error)
    errors.extend(_store_errors(settings))
    try:
        from coverage.clinic import load_clinic
        from coverage.policies.service import Checker

        load_clinic(settings)
        Checker.from_settings(settings)
    except PriorAuthError as error:
        errors.append(error)
    return errors


def _store_errors(settings: Settings) -> list[PriorAuthError]:
    from coverage.store.documents import DocumentStore

    try:
        store = DocumentStore(settings.documents_location)
        store.check_writable()
    except PriorAuthError as error:
        return [error]
    return []


#: The deployment that sends a request (``flows/prior_authorization.py``), as ``flow/deployment``.
SENDING_DEPLOYMENT = "prior-authorization/prior-authorization"


def _get(url: str, env: Mapping[str, str], *, timeout: float) -> None:
    """An authenticated GET of the API (``url`` below ``PREFECT_API_URL``); ``HTTPError`` and network errors raise."""
    token = base64.b64encode(env.get("PREFECT_API_AUTH_STRING", "").encode("utf-8")).decode("ascii")
    request = urllib.request.Request(  # noqa: S310  # the scheme is checked by check_api: http(s) only
        url, headers={"Authorization": f"Basic {token}", "Accept": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout, context=_tls(env)) as answer:  # noqa: S310
        answer.read()


def check_sending_deployment(env: Mapping[str, str] | None = None, *, timeout: float = CHECK_TIMEOUT_S) -> None:
    """The server accepts our client string and has the sending deployment; else one line.

    Checked before a sign-off is recorded, so an approval is never left without a run to send it.
    """
    env = os.environ if env is None else env
    url = check_api(env, timeout=timeout)
    if url is None:
        return
    flow, deployment = SENDING_DEPLOYMENT.split("/")
    try:
        _get(f"{url}/deployments/name/{flow}/{deployment}", env, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 404:
            raise ConfigurationError(
                f"PREFECT_API_URL: the Prefect server at {shown(url)} has no deployment {SENDING_DEPLOYMENT}; "
                "run `priorauth deploy`"
            ) from None
        raise ConfigurationError(
            f"PREFECT_API_URL: the Prefect server at {shown(url)} answered {error.code} for {SENDING_DEPLOYMENT}"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise _not_reached(shown(url), error) from None


def start_sending_run(request_id: int, *, sign_off: bool = False) -> str:
    """A run of the prior-authorization deployment for ``request_id`` (:func:`schedule_sending_run`),
    once :func:`check_sending_deployment` passed; the run's id."""
    check_sending_deployment()  # the client string accepted and the deployment there: else one line
    return schedule_sending_run(request_id, sign_off=sign_off)


def schedule_sending_run(request_id: int, *, sign_off: bool = False) -> str:
    """A run of the prior-authorization deployment for ``request_id``; the run's id. The caller has
    run :func:`check_sending_deployment` (a sign-off does, before it records the approval).

    The run is only scheduled: it waits for a worker, so this works while none runs. Its
    parameters are the request id and, when asked for, ``sign_off`` (no reviewer, note or name
    reaches Prefect). A server that refuses is one line naming the request's next step.
    """
    from prefect.deployments import run_deployment

    parameters: dict[str, object] = {"request_id": request_id}
    if sign_off:
        parameters["sign_off"] = True
    try:
        # Called outside an event loop, so the synchronous form: a FlowRun, not a coroutine.
        run: Any = run_deployment(SENDING_DEPLOYMENT, parameters=parameters, timeout=0)
    except Exception as error:  # Prefect's client errors: one line, never a traceback
        raise ConfigurationError(
            f"PREFECT_API_URL: the Prefect server did not start the run of {SENDING_DEPLOYMENT} "
            f"({type(error).__name__}); `priorauth requests send {request_id}` tries again"
        ) from None
    return str(run.id)


def health_port_problems(env: Mapping[str, str] | None = None) -> list[str]:
    """The worker's health check address must be a loopback one, free to listen on; one line when not.

    Prefect serves ``--with-healthcheck`` from a thread of the worker: when its port is taken (a
    second worker on this host left on the same port) that thread only logs and dies, and the
    worker runs on with no health check. So each worker on a host gets a port of its own
    (``PREFECT_WORKER_WEBSERVER_PORT``), and a taken one is refused before the worker starts. The
    health check answers without credentials: ``PREFECT_WORKER_WEBSERVER_HOST`` other than a loopback
    address (``0.0.0.0``, a LAN address) is refused too.
    """
    env = os.environ if env is None else env
    host = env.get("PREFECT_WORKER_WEBSERVER_HOST") or WORKER_ENVIRONMENT["PREFECT_WORKER_WEBSERVER_HOST"]
    if not _loopback(host):
        return [
            f"PREFECT_WORKER_WEBSERVER_HOST: {host[:60]!r} is not a loopback address; the health check "
            "listens on 127.0.0.1 only (unset it, or set 127.0.0.1)"
        ]
    text = (env.get("PREFECT_WORKER_WEBSERVER_PORT") or str(DEFAULT_HEALTH_PORT)).strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:  # the TCP port range
        return [f"PREFECT_WORKER_WEBSERVER_PORT: {text[:20]!r} is not a port number (1-65535)"]
    port = int(text)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: only a listener blocks
            probe.bind(address)
    except OSError as error:
        return [
            f"PREFECT_WORKER_WEBSERVER_PORT: the health check cannot listen on {host}:{port} "
            f"({error.strerror or type(error).__name__}); give each worker on this host a port of its own"
        ]
    return []


def _loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1): never 0.0.0.0 or a LAN address."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False
