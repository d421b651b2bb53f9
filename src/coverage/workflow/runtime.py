"""What the workflow's tasks work with: the settings, the records, the checker, the clinic, the gateways.

A Prefect task receives ids only, so it finds its collaborators here: one :class:`Runtime` per
process, built from the settings on first use (a worker process builds its own), or set by the
caller (the demo, the tests) with :func:`use_runtime`.

Which payer gateway answers is a setting:

- ``PRIORAUTH_GATEWAY=manual`` (the default): a payer whose directory channel is fax, phone or
  portal gets its documents prepared and a send task for a person (nothing is marked sent);
  ``electronic`` goes to the sandbox until a Da Vinci PAS or X12 278 gateway replaces it;
- ``PRIORAUTH_GATEWAY=sandbox``: every request goes to the simulated payer
  (``PRIORAUTH_SANDBOX_SEED``, ``PRIORAUTH_SANDBOX_DELAY_HOURS``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from coverage.errors import PriorAuthError
from coverage.payers.gateways import PayerGateway, SandboxGateway
from coverage.requests.lifecycle import PERSON_CHANNELS
from coverage.services.context import Context

if TYPE_CHECKING:
    from coverage.clinic import Clinic
    from coverage.policies.service import Checker
    from coverage.settings import Settings
    from coverage.store.db import Database
    from coverage.store.documents import DocumentStore
    from coverage.store.uow import UnitOfWork

#: Who the audit trail names for changes the workflow makes.
WORKFLOW_ACTOR = "workflow"


def sandbox_from_settings(settings: Settings) -> SandboxGateway:
    """The sandbox payer configured by ``PRIORAUTH_SANDBOX_SEED`` and ``PRIORAUTH_SANDBOX_DELAY_HOURS``."""
    delay = dt.timedelta(hours=settings.sandbox_delay_hours)
    return SandboxGateway(
        seed=settings.sandbox_seed,
        delay=delay,
        expedited_delay=min(delay, dt.timedelta(hours=24)),
        timezone=settings.timezone,
        latency_seconds=settings.sandbox_latency_seconds,
    )


@dataclass
class Runtime:
    """The collaborators every workflow service needs, opened once per process."""

    settings: Settings
    database: Database
    checker: Checker
    clinic: Clinic
    store: DocumentStore
    ctx: Context = field(default_factory=Context)
    electronic: PayerGateway = field(default_factory=SandboxGateway)
    all_electronic: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        from coverage.clinic import load_clinic
        from coverage.policies.service import Checker
        from coverage.store.db import open_database
        from coverage.store.documents import DocumentStore

        # The start check, before any work: the store writable (a probe written and removed), the
        # database reachable and at head, the clinic file and the policies loadable; the first
        # problem fails the run with its one line.
        store = DocumentStore(settings.documents_location)
        store.check_writable()
        clinic = load_clinic(settings)
        checker = Checker.from_settings(settings)
        return cls(
            settings=settings,
            database=open_database(settings),
            checker=checker,
            clinic=clinic,
            store=store,
            ctx=Context.from_settings(settings),
            electronic=sandbox_from_settings(settings),
            all_electronic=settings.gateway == "sandbox",
        )

    def uow(self) -> UnitOfWork:
        """A fresh unit of work on the records database."""
        return self.database.unit_of_work()

    def gateway(self, channel: str) -> PayerGateway | None:
        """The gateway for a payer's channel; ``None`` when a person sends (fax, portal, phone)."""
        if self.all_electronic or channel not in PERSON_CHANNELS:
            return self.electronic
        return None


_current: Runtime | None = None


def runtime() -> Runtime:
    """This process's runtime, built from the settings on first use."""
    global _current  # noqa: PLW0603  # one runtime per process: a worker builds it once, tasks reuse it
    if _current is None:
        from coverage.settings import load_settings
        from coverage.workflow.server import check_server_records

        settings = load_settings()
        check_server_records(settings)  # a worker for a server never creates an empty local database
        _current = Runtime.from_settings(settings)
    return _current


def use_runtime(value: Runtime | None) -> None:
    """Make ``value`` this process's runtime (``None``: build it again from the settings on next use)."""
    global _current  # noqa: PLW0603  # see runtime()
    _current = value


@dataclass
class Records:
    """The records database and the clock alone: enough to note a flow run's start and end."""

    database: Database
    ctx: Context

    def uow(self) -> UnitOfWork:
        """A fresh unit of work on the records database."""
        return self.database.unit_of_work()


@contextmanager
def run_records() -> Iterator[Runtime | Records]:
    """Where a flow run's start and end are noted: this process's runtime, or, when that cannot be built
    (a document store not writable, a clinic file or policy that does not load), the records database
    alone (:func:`records_only`), so a run that fails that early still shows on the worklist.
    """
    try:
        built: Runtime | None = runtime()
    except PriorAuthError:
        built = None
    if built is not None:
        yield built
        return
    with records_only() as records:
        yield records


@contextmanager
def records_only() -> Iterator[Records]:
    """The records database and the clock from the settings, without the rest of the runtime; errors
    opening the database raise."""
    from coverage.settings import load_settings
    from coverage.store.db import open_database
    from coverage.workflow.server import check_server_records

    settings = load_settings()
    check_server_records(settings)
    database = open_database(settings)
    try:
        yield Records(database=database, ctx=Context.from_settings(settings))
    finally:
        database.dispose()
