"""Clients of a Prefect server: the auth string is checked with one cheap call, failures are one line.

A tiny local HTTP server stands in for Prefect's API (it answers 401 unless given the right
HTTP Basic credentials, as Prefect's ``PREFECT_SERVER_API_AUTH_STRING`` middleware does); the
real server is exercised in ``test_deployments.py``.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coverage.errors import ConfigurationError, Unreachable
from coverage.settings import Settings
from coverage.workflow.server import check_api, check_server_records, health_port_problems, worker_errors
from tests.conftest import REPO, Cli

PRIORAUTH = Path(sys.executable).with_name("priorauth")
SECRET = "priorauth:s3cret-value"


class _Api(BaseHTTPRequestHandler):
    #: Whether the sending deployment exists (``priorauth deploy`` was run).
    deployed = True

    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(SECRET.encode()).decode()
        known = ("/api/admin/version", "/api/deployments/name/prior-authorization/prior-authorization")
        if self.path == "/down/api/admin/version":  # a TLS proxy whose Prefect server is restarting
            body, code = b"Bad Gateway", 502
        elif self.path in known and self.headers.get("Authorization") != expected:
            body, code = b'{"exception_message":"Unauthorized"}', 401
        elif self.path == known[0]:
            body, code = b'"3.9.1"', 200
        elif self.path == known[1] and _Api.deployed:
            body, code = b'{"name":"prior-authorization"}', 200
        else:
            body, code = b"{}", 404
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:  # quiet
        return


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


def test_no_api_url_is_prefect_s_local_mode_and_nothing_is_checked() -> None:
    assert check_api({}) is None


def test_the_right_string_is_accepted(api: str) -> None:
    assert check_api({"PREFECT_API_URL": api + "/", "PREFECT_API_AUTH_STRING": SECRET}) == api


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (None, "PREFECT_API_AUTH_STRING: not set"),
        ("", "PREFECT_API_AUTH_STRING: not set"),
        ("priorauth:wrong", "PREFECT_API_AUTH_STRING: refused by the Prefect server"),
    ],
)
def test_a_missing_or_wrong_string_is_one_line_naming_the_variable(api: str, auth: str | None, expected: str) -> None:
    env = {"PREFECT_API_URL": api} | ({} if auth is None else {"PREFECT_API_AUTH_STRING": auth})
    with pytest.raises(ConfigurationError) as caught:
        check_api(env)
    (line,) = caught.value.lines()
    assert line.startswith(expected)
    assert "wrong" not in line
    assert SECRET not in line


def test_a_server_that_does_not_answer_is_one_line() -> None:
    env = {"PREFECT_API_URL": "http://127.0.0.1:9/api", "PREFECT_API_AUTH_STRING": SECRET}
    with pytest.raises(Unreachable, match=r"^PREFECT_API_URL: cannot reach the Prefect server"):
        check_api(env, timeout=2)


@pytest.fixture(scope="module")
def tls_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The stand-in API over HTTPS with a certificate of a clinic's own CA (self-signed): its URL and the CA file."""
    import ssl

    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "ca.crt", folder / "ca.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/api", cert
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_behind_a_clinic_s_own_ca_is_checked_with_prefect_s_cert_file(tls_api: tuple[str, Path]) -> None:
    """``PREFECT_API_SSL_CERT_FILE`` (what Prefect's client uses) is what the check uses too."""
    url, cert = tls_api
    env = {"PREFECT_API_URL": url, "PREFECT_API_AUTH_STRING": SECRET}
    with pytest.raises(ConfigurationError, match=r"^PREFECT_API_URL: cannot reach .*\(SSLCertVerificationError\)"):
        check_api(env, timeout=5)
    assert check_api(env | {"PREFECT_API_SSL_CERT_FILE": str(cert)}, timeout=5) == url
    assert check_api(env | {"PREFECT_API_TLS_INSECURE_SKIP_VERIFY": "true"}, timeout=5) == url
    with pytest.raises(ConfigurationError) as caught:
        check_api(env | {"PREFECT_API_SSL_CERT_FILE": str(cert.with_name("missing.crt"))}, timeout=5)
    assert caught.value.lines() == [
        f"PREFECT_API_SSL_CERT_FILE: cannot read a CA certificate from {cert.with_name('missing.crt')} "
        "(FileNotFoundError)"
    ]


def test_a_proxy_whose_server_is_down_is_a_temporary_failure_and_a_wrong_string_is_not(api: str) -> None:
    with pytest.raises(
        Unreachable, match=r"^PREFECT_API_URL: cannot reach the Prefect server at .* \(it answered 502\)$"
    ):
        check_api({"PREFECT_API_URL": api.replace("/api", "/down/api"), "PREFECT_API_AUTH_STRING": SECRET})
    with pytest.raises(ConfigurationError) as caught:
        check_api({"PREFECT_API_URL": api, "PREFECT_API_AUTH_STRING": "priorauth:wrong"})
    assert not isinstance(caught.value, Unreachable)
    with pytest.raises(ConfigurationError) as caught:  # a host name that does not exist: a setting to fix
        check_api({"PREFECT_API_URL": "http://prefect.invalid/api", "PREFECT_API_AUTH_STRING": SECRET}, timeout=2)
    assert not isinstance(caught.value, Unreachable)


def test_credentials_in_the_url_are_never_shown() -> None:
    env = {"PREFECT_API_URL": "http://user:pw@127.0.0.1:9/api", "PREFECT_API_AUTH_STRING": SECRET}
    with pytest.raises(ConfigurationError) as caught:
        check_api(env, timeout=2)
    assert "pw" not in str(caught.value)


def _priorauth(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # our own console script
        [str(PRIORAUTH), *args], env=env, cwd=REPO, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize("command", [["deploy"], ["worker", "--check"]])
def test_deploy_and_worker_refuse_a_missing_or_wrong_string_in_one_line(api: str, command: list[str]) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    for extra in ({}, {"PREFECT_API_AUTH_STRING": "priorauth:wrong"}):
        done = _priorauth(command, {**base, "PREFECT_API_URL": api, **extra})
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines[0].startswith("error: PREFECT_API_AUTH_STRING: ")


def _ready_host(tmp_path: Path, api: str) -> dict[str, str]:
    """The environment of a host ready to run a worker for ``api`` (a migrated SQLite records file)."""
    from coverage.store.db import upgrade

    url = f"sqlite:///{tmp_path / 'records.db'}"
    upgrade(url)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "PREFECT_WORKER"))}
    return base | {
        "PREFECT_API_URL": api,
        "PREFECT_API_AUTH_STRING": SECRET,
        "PRIORAUTH_DATA_DIR": str(tmp_path / "data"),
        "PRIORAUTH_DATABASE_URL": url,
        "PRIORAUTH_DOCUMENTS_URL": str(tmp_path / "docs"),
        "PREFECT_WORKER_WEBSERVER_PORT": str(_free_port()),
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


UNANSWERED_DATABASE = "postgresql+psycopg://priorauth:s3cret-pw@127.0.0.1:1/priorauth"


@pytest.mark.parametrize(
    ("change", "status", "starts"),
    [
        (
            {"PREFECT_API_URL": "http://127.0.0.1:9/api"},
            75,
            ["error: PREFECT_API_URL: cannot reach the Prefect server"],
        ),
        (
            {"PRIORAUTH_DATABASE_URL": UNANSWERED_DATABASE},
            75,
            ["error: PRIORAUTH_DATABASE_URL: cannot open the database"],
        ),
        (
            {"PREFECT_API_URL": "http://127.0.0.1:9/api", "PRIORAUTH_DATABASE_URL": UNANSWERED_DATABASE},
            75,
            ["error: PREFECT_API_URL: cannot reach", "error: PRIORAUTH_DATABASE_URL: cannot open the database"],
        ),
        # A configuration error beside a server that does not answer: fix it first (2, not restarted).
        (
            {"PREFECT_API_AUTH_STRING": "priorauth:wrong", "PRIORAUTH_DATABASE_URL": UNANSWERED_DATABASE},
            2,
            ["error: PREFECT_API_AUTH_STRING: refused", "error: PRIORAUTH_DATABASE_URL: cannot open the database"],
        ),
        ({"PRIORAUTH_DATABASE_URL": "sqlite:////proc/nope/records.db"}, 2, ["error: PRIORAUTH_DATABASE_URL: cannot"]),
    ],
)
def test_a_worker_that_cannot_reach_the_server_or_database_exits_75_to_be_started_again(
    api: str, tmp_path: Path, change: dict[str, str], status: int, starts: list[str]
) -> None:
    """Exit 75 (EX_TEMPFAIL: systemd restarts it) only when nothing but a server or database is not answering."""
    done = _priorauth(["worker", "--check"], _ready_host(tmp_path, api) | change)
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(starts), lines
    assert all(line.startswith(start) for line, start in zip(lines, starts, strict=True)), lines
    assert "s3cret-pw" not in done.stderr


def test_a_ready_host_passes_the_worker_check(api: str, tmp_path: Path) -> None:
    done = _priorauth(["worker", "--check"], _ready_host(tmp_path, api))
    assert (done.returncode, done.stdout.strip()) == (0, "worker checks: ok"), done.stderr


def test_staff_commands_still_exit_2_when_the_database_does_not_answer(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIORAUTH_DATABASE_URL", UNANSWERED_DATABASE)
    (line,) = cli.fails("worklist")
    assert line.startswith("error: PRIORAUTH_DATABASE_URL: cannot open the database at postgresql+psycopg://")


def test_a_worker_for_a_server_refuses_to_run_without_the_records_database(api: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    env = {"PREFECT_API_URL": api, "PREFECT_API_AUTH_STRING": SECRET}
    with pytest.raises(ConfigurationError, match=r"^PRIORAUTH_DATABASE_URL: not set"):
        check_server_records(settings, env)
    assert _worker_problems(settings, env) == [
        "PRIORAUTH_DATABASE_URL: not set; with a Prefect server (PREFECT_API_URL) every command and worker "
        "uses the clinic's shared records database (never an empty local one)"
    ]
    assert not (tmp_path / "data").exists()  # no empty SQLite file made
    check_server_records(settings, {})  # local mode: the embedded database is fine


def test_staff_commands_for_a_server_refuse_an_empty_local_database(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli()
    monkeypatch.delenv("PRIORAUTH_DATABASE_URL", raising=False)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    for command in (["worklist"], ["db", "current"], ["db", "upgrade"], ["db", "downgrade", "base", "--yes"]):
        assert cli.fails(*command)[0].startswith("error: PRIORAUTH_DATABASE_URL: not set"), command
    assert not (data_dir / "priorauth.db").exists()


def test_worker_check_names_an_unmigrated_database_and_passes_a_ready_host(api: str, tmp_path: Path) -> None:
    from coverage.store.db import HEAD, upgrade

    url = f"sqlite:///{tmp_path / 'records.db'}"
    env = {"PREFECT_API_URL": api, "PREFECT_API_AUTH_STRING": SECRET}
    settings = Settings(data_dir=tmp_path / "data", database_url=url, documents_url=str(tmp_path / "docs"))
    problems = _worker_problems(settings, env)
    assert problems == [f"the database is at revision none, not {HEAD}: run `priorauth db upgrade`"]
    upgrade(url)
    assert _worker_problems(settings, env) == []
    assert (tmp_path / "docs").stat().st_mode & 0o777 == 0o700


def test_a_flow_on_a_worker_for_a_server_refuses_to_start_without_the_records_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What every flow's first step does (``runtime()``): one line, and no empty SQLite file made."""
    from coverage.workflow.runtime import runtime, use_runtime

    monkeypatch.setenv("PRIORAUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.delenv("PRIORAUTH_DATABASE_URL", raising=False)
    use_runtime(None)
    try:
        with pytest.raises(ConfigurationError, match=r"^PRIORAUTH_DATABASE_URL: not set"):
            runtime()
    finally:
        use_runtime(None)
    assert not (tmp_path / "data" / "priorauth.db").exists()


def test_a_signoff_for_a_server_starts_a_run_with_the_request_id_only(
    cli: Cli, api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused client string records nothing; an accepted one records the approval, then starts the run.

    The real server and worker are in ``test_crash_recovery.py``; here the deployment run is a stand-in.
    """
    import prefect.deployments

    from tests.conftest import case_gathered, write_case

    monkeypatch.setenv("PRIORAUTH_SIGNOFF", "required")
    rid = str(cli("intake", str(write_case(tmp_path, case_gathered("EX-01-meets"))), "--json")["request_id"])
    assert cli("requests", "send", rid, "--json")["state"] == "signoff_pending"
    started: list[tuple[str, dict[str, object], object]] = []

    def run_deployment(name: str, *, parameters: dict[str, object], timeout: object) -> object:
        started.append((name, parameters, timeout))
        return type("Run", (), {"id": "0b1d2c3e-0000-4000-8000-000000000001"})()

    monkeypatch.setattr(prefect.deployments, "run_deployment", run_deployment)
    monkeypatch.setenv("PREFECT_API_URL", api)
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "priorauth:wrong")
    signoff = ["requests", "signoff", rid, "--approve", "--by", "dr.x", "--note", "trials checked"]
    assert cli.fails(*signoff)[0].startswith("error: PREFECT_API_AUTH_STRING: refused")
    assert cli("requests", "show", rid, "--json")["signoff"] == "pending"
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", SECRET)
    monkeypatch.setattr(_Api, "deployed", False)  # not deployed yet: the approval would have no run to send it
    (line,) = cli.fails(*signoff)
    assert line.endswith("has no deployment prior-authorization/prior-authorization; run `priorauth deploy`")
    assert cli("requests", "show", rid, "--json")["signoff"] == "pending"
    assert started == []
    monkeypatch.setattr(_Api, "deployed", True)
    answer = cli(*signoff, "--json")
    assert answer == {
        "request_id": int(rid),
        "state": "run_started",
        "status": "ready",
        "flow_run": "0b1d2c3e-0000-4000-8000-000000000001",
    }
    assert started == [("prior-authorization/prior-authorization", {"request_id": int(rid)}, 0)]
    shown = cli("requests", "show", rid, "--json")
    assert (shown["signoff"], shown["status"], shown["submissions"]) == ("approved", "ready", [])


def test_a_send_for_a_server_starts_a_run_and_sends_nothing_itself(
    cli: Cli, api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a server, ``requests send`` is a run of the deployment (as from the web app); nothing is made here."""
    import prefect.deployments

    from tests.conftest import case_gathered, write_case

    rid = int(cli("intake", str(write_case(tmp_path, case_gathered("EX-01-meets"))), "--json")["request_id"])
    started: list[dict[str, object]] = []

    def run_deployment(name: str, *, parameters: dict[str, object], timeout: object) -> object:
        assert (name, timeout) == ("prior-authorization/prior-authorization", 0)
        started.append(parameters)
        return type("Run", (), {"id": f"0b1d2c3e-0000-4000-8000-00000000000{len(started)}"})()

    monkeypatch.setattr(prefect.deployments, "run_deployment", run_deployment)
    monkeypatch.setenv("PREFECT_API_URL", api)
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "priorauth:wrong")
    assert cli.fails("requests", "send", str(rid))[0].startswith("error: PREFECT_API_AUTH_STRING: refused")
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", SECRET)
    assert cli("requests", "send", str(rid), "--json") == {
        "request_id": rid,
        "state": "run_started",
        "status": "ready",
        "flow_run": "0b1d2c3e-0000-4000-8000-000000000001",
    }
    assert cli("requests", "send", str(rid), "--sign-off", "--json")["state"] == "run_started"
    assert started == [{"request_id": rid}, {"request_id": rid, "sign_off": True}]
    shown = cli("requests", "show", str(rid), "--json")
    assert (shown["status"], shown["documents"], shown["send_task"]) == ("ready", [], None)

    def refusing(name: str, *, parameters: dict[str, object], timeout: object) -> object:
        raise RuntimeError("the server refused")

    monkeypatch.setattr(prefect.deployments, "run_deployment", refusing)
    assert cli.fails("requests", "send", str(rid)) == [
        "error: PREFECT_API_URL: the Prefect server did not start the run of prior-authorization/prior-authorization "
        f"(RuntimeError); `priorauth requests send {rid}` tries again"
    ]
    cli("requests", "transition", str(rid), "cancelled", "--reason", "patient chose another clinic")
    refused = cli.fails("requests", "send", str(rid))
    assert refused == [f"error: request {rid}: is cancelled; only ready, pended or appeal_drafted requests are sent"]
    assert len(started) == 2


def _worker_problems(settings: Settings, env: dict[str, str]) -> list[str]:
    return [line for error in worker_errors(settings, env) for line in error.lines()]


def _listening() -> tuple[socket.socket, int]:
    """A port taken on 127.0.0.1 (as by a first worker's health check)."""
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", 0))
    held.listen()
    return held, int(held.getsockname()[1])


def test_a_health_check_port_taken_by_another_worker_is_one_line() -> None:
    held, port = _listening()
    with held:
        (line,) = health_port_problems({"PREFECT_WORKER_WEBSERVER_PORT": str(port)})
        assert line.startswith(f"PREFECT_WORKER_WEBSERVER_PORT: the health check cannot listen on 127.0.0.1:{port} (")
        assert line.endswith("give each worker on this host a port of its own")
    assert health_port_problems({"PREFECT_WORKER_WEBSERVER_PORT": str(port)}) == []  # free again
    assert health_port_problems({"PREFECT_WORKER_WEBSERVER_PORT": "80810"}) == [
        "PREFECT_WORKER_WEBSERVER_PORT: '80810' is not a port number (1-65535)"
    ]


def test_a_second_worker_on_the_port_of_the_first_does_not_start(api: str, tmp_path: Path) -> None:
    from coverage.store.db import upgrade

    url = f"sqlite:///{tmp_path / 'records.db'}"
    upgrade(url)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "PREFECT_WORKER"))}
    env = {
        **base,
        "PREFECT_API_URL": api,
        "PREFECT_API_AUTH_STRING": SECRET,
        "PRIORAUTH_DATA_DIR": str(tmp_path / "data"),
        "PRIORAUTH_DATABASE_URL": url,
    }
    held, port = _listening()
    with held:
        done = _priorauth(["worker", "--check"], {**env, "PREFECT_WORKER_WEBSERVER_PORT": str(port)})
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: PREFECT_WORKER_WEBSERVER_PORT: the health check cannot listen on 127.0.0.1:{port}")
    done = _priorauth(["worker", "--check"], {**env, "PREFECT_WORKER_WEBSERVER_PORT": str(port)})
    assert (done.returncode, done.stdout.strip()) == (0, "worker checks: ok"), done.stderr


def test_each_systemd_worker_takes_its_health_port_from_its_own_file_and_waits_for_it() -> None:
    """Any instance name works (no port computed from it), a worker without its file does not start,
    and a unit whose health check does not answer fails instead of running unwatched."""
    unit = (REPO / "deployments" / "systemd" / "priorauth-worker@.service").read_text(encoding="utf-8")
    settings = [line for line in unit.splitlines() if line and not line.startswith("#")]
    assert "EnvironmentFile=/etc/priorauth/worker-%i.env" in settings
    assert not [line for line in settings if "PREFECT_WORKER_WEBSERVER_PORT=" in line]
    (post,) = [line for line in settings if line.startswith("ExecStartPost=")]
    assert 'curl -fsS "http://127.0.0.1:$PREFECT_WORKER_WEBSERVER_PORT/health"' in post
    example = (REPO / "deployments" / "systemd" / "worker.env.example").read_text(encoding="utf-8")
    (port,) = [line for line in example.splitlines() if line.startswith("PREFECT_WORKER_WEBSERVER_PORT=")]
    assert 1024 < int(port.split("=", 1)[1]) < 65536  # an unprivileged TCP port


def test_a_database_server_that_answers_with_a_refusal_is_a_setting_to_fix() -> None:
    """No answer is temporary; a PostgreSQL server that answers "no such database" is not."""
    from coverage.store.db import open_database

    with pytest.raises(Unreachable):
        open_database(Settings(database_url=UNANSWERED_DATABASE))
    base = os.environ.get("PRIORAUTH_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("needs PRIORAUTH_TEST_DATABASE_URL on PostgreSQL for a server that answers")
    from sqlalchemy.engine import make_url

    missing = make_url(base).set(database="priorauth_no_such_database").render_as_string(hide_password=False)
    with pytest.raises(ConfigurationError, match=r"cannot open the database .*\(OperationalError\)$") as caught:
        open_database(Settings(database_url=missing))
    assert not isinstance(caught.value, Unreachable)


def test_the_worker_unit_restarts_a_temporary_failure_not_a_configuration_error() -> None:
    unit = (REPO / "deployments" / "systemd" / "priorauth-worker@.service").read_text(encoding="utf-8")
    settings = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["RestartPreventExitStatus"].split() == ["2"]  # 75 is restarted
    assert settings["Restart"] == "on-failure"
    for name in ("After", "Wants"):
        assert {"priorauth-prefect-server.service", "postgresql.service"} <= set(settings[name].split())


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "prefect-worker.clinic.internal"])
def test_a_health_check_host_off_the_loopback_interface_is_refused(host: str) -> None:
    (line,) = health_port_problems({"PREFECT_WORKER_WEBSERVER_HOST": host, "PREFECT_WORKER_WEBSERVER_PORT": "8081"})
    assert line.startswith(f"PREFECT_WORKER_WEBSERVER_HOST: {host!r} is not a loopback address")
    for loopback in ("127.0.0.1", "localhost", "127.0.0.2"):
        assert health_port_problems(
            {"PREFECT_WORKER_WEBSERVER_HOST": loopback, "PREFECT_WORKER_WEBSERVER_PORT": "0"}
        ) == [
            "PREFECT_WORKER_WEBSERVER_PORT: '0' is not a port number (1-65535)"  # the host passed; the port is next
        ]


def test_a_worker_with_its_health_check_on_every_interface_does_not_start(api: str, tmp_path: Path) -> None:
    done = _priorauth(["worker", "--check"], _ready_host(tmp_path, api) | {"PREFECT_WORKER_WEBSERVER_HOST": "0.0.0.0"})
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: PREFECT_WORKER_WEBSERVER_HOST: '0.0.0.0' is not a loopback address")
