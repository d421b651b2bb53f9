"""The one settings object, read from the environment (prefix ``PRIORAUTH_``) when asked for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from coverage.errors import InvalidInput


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "priorauth"


class Settings(BaseSettings):
    """Where the project keeps its data and finds clinic-specific files.

    Never instantiated at import time: call :func:`load_settings` where it is needed.
    """

    model_config = SettingsConfigDict(env_prefix="PRIORAUTH_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    policy_dir: Path | None = None
    template_dir: Path | None = None
    clinic_file: Path | None = None
    # Records and clocks (issue: records).
    default_turnaround_days: int = Field(default=14, ge=1)
    default_urgent_turnaround_hours: int = Field(default=72, ge=1)
    expiry_warning_days: int = Field(default=30, ge=0)
    units_warning_ratio: float = Field(default=0.8, gt=0, le=1)
    appeal_window_days: int = Field(default=180, ge=1)
    # Scheduling: the clinic's time zone for the cron schedules of the deployments.
    timezone: str = "America/New_York"
    # Payer gateways: "manual" sends fax, phone and portal payers to staff and electronic ones
    # to the sandbox; "sandbox" sends every request to the simulated payer.
    gateway: Literal["manual", "sandbox"] = "manual"
    # Lifecycle rule 4: "required" makes every sending wait for a clinician's sign-off.
    signoff: Literal["required", "not_required"] = "not_required"
    # Where documents are stored: an fsspec URL (memory://, s3://...); default the documents folder.
    documents_url: str | None = None
    sandbox_seed: int = 0
    # The web app: the file holding the key that signs its cookies (default: web-secret in the data folder).
    web_secret_file: Path | None = None
    sandbox_delay_hours: float = Field(default=48.0, ge=0)
    #: Seconds the simulated payer takes to accept a packet (a slow gateway, for drills and tests).
    sandbox_latency_seconds: float = Field(default=0.0, ge=0, le=600)
    #: Seconds between a flow run's heartbeats (``priorauth deploy`` puts them in the deployments;
    #: 30 is Prefect's minimum).
    heartbeat_seconds: int = Field(default=30, ge=30, le=3600)
    #: Seconds a run may send no heartbeat before the crash automations of ``priorauth deploy`` mark
    #: it Crashed and run it again: longer than a heartbeat (default three of them).
    crash_silence_seconds: int = Field(default=90, ge=10, le=86400)

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (like America/New_York)") from None
        return value

    @field_validator("crash_silence_seconds")
    @classmethod
    def _longer_than_a_heartbeat(cls, value: int, info: ValidationInfo) -> int:
        beat = info.data.get("heartbeat_seconds")
        if beat is not None and value <= beat:
            raise ValueError(
                f"{value} s is not longer than PRIORAUTH_HEARTBEAT_SECONDS ({beat} s): live runs would be crashed"
            )
        return value

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the embedded SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'priorauth.db'}"

    @property
    def documents_dir(self) -> Path:
        """The local documents folder (the store's default location)."""
        return self.data_dir / "documents"

    @property
    def documents_location(self) -> str:
        """Where the document store is: ``PRIORAUTH_DOCUMENTS_URL`` or the local documents folder."""
        return self.documents_url or str(self.documents_dir)

    @property
    def prefect_home(self) -> Path:
        """Prefect's own folder, inside the data folder unless ``PREFECT_HOME`` says otherwise."""
        return self.data_dir / "prefect"


def load_settings() -> Settings:
    """Read the settings from the environment; a bad value is one line naming its variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = [
            f"PRIORAUTH_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors(include_url=False)
        ]
        raise InvalidInput(problems) from None


#: Seconds Prefect's local mode waits for its temporary server. Prefect's default (20 s) is too
#: short on a small, busy machine the first time, when the server creates its database.
EPHEMERAL_STARTUP_TIMEOUT_S = "120"


#: What this process creates from here on is its owner's only: Prefect's local server writes its
#: SQLite database (``PREFECT_HOME/prefect.db``: run history, parameters) with the process's umask.
PRIVATE_UMASK = 0o077


def configure_prefect_home(settings: Settings) -> None:
    """Prepare Prefect's local mode unless the user configured it; call before importing Prefect.

    ``PREFECT_HOME`` goes into the data folder (a folder 0700, tightened if an earlier run left it
    open), the process's umask becomes 077 so whatever Prefect writes under it (its database, its
    logs) is 0600 and its folders 0700, and the temporary server gets time to start.
    """
    os.umask(PRIVATE_UMASK)
    if "PREFECT_HOME" not in os.environ:
        home = settings.prefect_home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        home.chmod(0o700)
        os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT_S)
