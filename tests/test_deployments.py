"""`deployments/prefect.yaml` applies against a real local Prefect server with an auth string (as every
documented server start sets one): the API refuses a client without it, `priorauth deploy` refuses in one
line without the client string, and deploys with it, schedules in the clinic's zone, crash automations made."""

from __future__ import annotations

import os
import subprocess
import urllib.error
from collections.abc import Iterator

import pytest

from tests.conftest import REPO
from tests.server_support import PREFECT, PRIORAUTH
from tests.server_support import api as _api
from tests.server_support import prefect_server as _prefect_server


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A Prefect server of its own (auth string; on PostgreSQL when the tests have it); its clients' environment."""
    folder = tmp_path_factory.mktemp("prefect-server")
    env = {**os.environ, "PREFECT_HOME": str(folder / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    with _prefect_server(folder, env) as server_env:
        yield server_env


def test_the_api_refuses_a_client_without_the_auth_string(prefect_server: dict[str, str]) -> None:
    url = prefect_server["PREFECT_API_URL"]
    for auth in (None, "priorauth:wrong"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            _api(url, "/deployments/filter", {}, auth=auth)
        assert refused.value.code == 401
        refused.value.close()
    assert isinstance(_api(url, "/deployments/filter", {}), list)


def test_deploy_without_the_client_string_is_one_line(prefect_server: dict[str, str]) -> None:
    for auth in (None, "priorauth:wrong"):
        env = {k: v for k, v in prefect_server.items() if k != "PREFECT_API_AUTH_STRING"}
        if auth is not None:
            env["PREFECT_API_AUTH_STRING"] = auth
        done = subprocess.run(
            [str(PRIORAUTH), "deploy"], env=env, cwd=REPO, capture_output=True, text=True, check=False
        )
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("error: PREFECT_API_AUTH_STRING: ")


def test_every_flow_deploys_with_its_schedule(prefect_server: dict[str, str]) -> None:
    env = {**prefect_server, "PRIORAUTH_TIMEZONE": "America/Chicago"}
    pool = subprocess.run(
        [str(PREFECT), "work-pool", "create", "priorauth", "--type", "process"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deployed = subprocess.run(
        [str(PRIORAUTH), "deploy"], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]

    url = prefect_server["PREFECT_API_URL"]
    deployments = {d["name"]: d for d in _api(url, "/deployments/filter", {})}
    assert set(deployments) == {"prior-authorization", "check-status", "denial-fallback", "renewals", "intake-batch"}
    schedules = {
        name: [(s["schedule"]["cron"], s["schedule"]["timezone"], s["active"]) for s in d["schedules"]]
        for name, d in deployments.items()
    }
    assert schedules["check-status"] == [("*/30 8-17 * * 1-5", "America/Chicago", True)]
    assert schedules["renewals"] == [("0 6 * * *", "America/Chicago", True)]
    assert schedules["prior-authorization"] == []
    assert all(d["work_pool_name"] == "priorauth" for d in deployments.values())
    # Typed id parameters, so the UI offers billing staff a form.
    properties = deployments["prior-authorization"]["parameter_openapi_schema"]["properties"]
    assert properties["request_id"]["type"] == "integer"
    # Workers run the code already on their host, from the project folder.
    pull = deployments["check-status"]["pull_steps"]
    assert pull == [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}]
    # Flow runs send heartbeats, our log lines reach the run logs, nothing is pickled to disk.
    env_vars = deployments["check-status"]["job_variables"]["env"]
    assert env_vars["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
    assert env_vars["PREFECT_LOGGING_EXTRA_LOGGERS"] == "coverage"
    assert env_vars["PREFECT_RESULTS_PERSIST_BY_DEFAULT"] == "false"
    # Two automations per deployment: silent 90 s -> Crashed ("Worker lost"); that state -> Scheduled again.
    automations = {a["name"]: a for a in _api(url, "/automations/filter", {})}
    assert len(automations) == 2 * len(deployments)
    for deployment in deployments.values():
        related = {"prefect.resource.id": f"prefect.deployment.{deployment['id']}"}
        name = f"{deployment['name']}/{deployment['name']}"
        silent = automations[f"priorauth: crash silent runs of {name}"]
        trigger = silent["trigger"]
        assert (trigger["posture"], trigger["within"], trigger["after"]) == (
            "Proactive",
            90.0,
            ["prefect.flow-run.heartbeat"],
        )
        assert trigger["match_related"] == related
        assert [(a["type"], a["state"], a["name"]) for a in silent["actions"]] == [
            ("change-flow-run-state", "CRASHED", "Worker lost")
        ]
        lost = automations[f"priorauth: reschedule lost runs of {name}"]
        trigger = lost["trigger"]
        assert (trigger["posture"], trigger["expect"]) == ("Reactive", ["prefect.flow-run.Worker lost"])
        assert trigger["match"] == {"prefect.resource.id": "prefect.flow-run.*", "prefect.state-name": "Worker lost"}
        assert trigger["match_related"] == related
        assert [(a["type"], a["state"]) for a in lost["actions"]] == [("change-flow-run-state", "SCHEDULED")]
    # Deploying again replaces them, never doubles them; heartbeats and the silence are settings.
    env |= {"PRIORAUTH_HEARTBEAT_SECONDS": "45", "PRIORAUTH_CRASH_SILENCE_SECONDS": "100"}
    again = subprocess.run([str(PRIORAUTH), "deploy"], env=env, cwd=REPO, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    automations = _api(url, "/automations/filter", {})
    assert len(automations) == 2 * len(deployments)
    assert {a["trigger"]["within"] for a in automations if a["trigger"]["posture"] == "Proactive"} == {100.0}
    for deployment in _api(url, "/deployments/filter", {}):
        assert deployment["job_variables"]["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "45"
