"""Settings come from the environment and are checked when read: one line per bad variable."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from coverage.errors import InvalidInput
from coverage.settings import configure_prefect_home, load_settings


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIORAUTH_DATA_DIR", raising=False)
    settings = load_settings()
    assert settings.effective_database_url.endswith("/.local/share/priorauth/priorauth.db")
    assert (settings.gateway, settings.timezone, settings.appeal_window_days) == ("manual", "America/New_York", 180)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PRIORAUTH_TIMEZONE", "Mars/Phobos"),
        ("PRIORAUTH_UNITS_WARNING_RATIO", "7"),
        ("PRIORAUTH_DEFAULT_TURNAROUND_DAYS", "-5"),
        ("PRIORAUTH_APPEAL_WINDOW_DAYS", "0"),
        ("PRIORAUTH_GATEWAY", "carrier-pigeon"),
        ("PRIORAUTH_SANDBOX_DELAY_HOURS", "-1"),
        ("PRIORAUTH_HEARTBEAT_SECONDS", "10"),  # Prefect's minimum is 30
        ("PRIORAUTH_CRASH_SILENCE_SECONDS", "30"),  # not longer than a heartbeat
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidInput) as raised:
        load_settings()
    [line] = raised.value.lines()
    assert line.startswith(f"{variable}: ")


def test_every_bad_variable_is_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIORAUTH_TIMEZONE", "Mars/Phobos")
    monkeypatch.setenv("PRIORAUTH_UNITS_WARNING_RATIO", "7")
    with pytest.raises(InvalidInput) as raised:
        load_settings()
    assert sorted(line.split(":")[0] for line in raised.value.lines()) == [
        "PRIORAUTH_TIMEZONE",
        "PRIORAUTH_UNITS_WARNING_RATIO",
    ]


def test_the_crash_silence_must_outlast_a_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.heartbeat_seconds, settings.crash_silence_seconds) == (30, 90)
    monkeypatch.setenv("PRIORAUTH_HEARTBEAT_SECONDS", "60")
    monkeypatch.setenv("PRIORAUTH_CRASH_SILENCE_SECONDS", "60")
    with pytest.raises(InvalidInput) as raised:
        load_settings()
    [line] = raised.value.lines()
    assert line.startswith("PRIORAUTH_CRASH_SILENCE_SECONDS: ")
    assert "PRIORAUTH_HEARTBEAT_SECONDS (60 s)" in line
    monkeypatch.setenv("PRIORAUTH_CRASH_SILENCE_SECONDS", "61")
    assert load_settings().crash_silence_seconds == 61


def test_prefect_s_local_home_and_its_database_are_the_owner_s_only(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An earlier run's open folder is tightened; the SQLite file Prefect's local server then creates is 0600."""
    home = data_dir / "prefect"
    home.mkdir(parents=True, mode=0o755)
    home.chmod(0o755)
    monkeypatch.delenv("PREFECT_HOME")
    before = os.umask(0o022)
    try:
        configure_prefect_home(load_settings())
        with sqlite3.connect(home / "prefect.db") as connection:  # as Prefect's server makes its database
            connection.execute("CREATE TABLE flow_run (id TEXT)")
        (home / "storage").mkdir()
    finally:
        os.umask(before)
    assert os.environ["PREFECT_HOME"] == str(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "prefect.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "storage").stat().st_mode) == 0o700
