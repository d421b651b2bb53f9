"""Engines, sessions and migrations: the one place where SQLite and PostgreSQL differ.

SQLite gets WAL, ``synchronous=NORMAL`` (about 13x faster commits, still durable across an
application crash) and foreign keys, set on every new connection. Migrations are Alembic
scripts shipped inside the package; the Alembic configuration is built here, so
``priorauth db upgrade`` works from a regular install with no ``alembic.ini``.

Engines hide statement parameters from their error messages (they may be PHI), and a database
that cannot be opened (a bad URL, a server that does not answer, a data folder that cannot be
created, an unknown revision) is one :class:`~coverage.errors.ConfigurationError` line naming
the setting, never a password. A PostgreSQL server that does not answer now (refused, timed out,
starting up) is :class:`~coverage.errors.Unreachable`, a temporary failure.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from coverage.errors import ConfigurationError, Unreachable
from coverage.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

    from coverage.requests.work import Projection
    from coverage.store.uow import UnitOfWork

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: How long a SQLite writer waits for another writer's transaction before giving up.
SQLITE_BUSY_TIMEOUT_S = 30


#: What libpq says (lower-cased) when no PostgreSQL server answers, or it cannot take a session yet: a
#: temporary failure. A server that answers with any other refusal (a wrong role, password or
#: database name; "FATAL: ...") or a host name that does not exist is a setting to fix.
_NO_ANSWER = (
    "connection refused",
    "timeout expired",
    "timed out",
    "no route to host",
    "network is unreachable",
    "server closed the connection unexpectedly",
    "connection reset",
    "temporary failure in name resolution",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "too many clients",
    "remaining connection slots are reserved",
)


def unreachable(error: OperationalError, url: str) -> bool:
    """Whether ``error`` opening ``url`` means its PostgreSQL server does not answer now (not a bad setting)."""
    try:
        if not make_url(url).get_backend_name().startswith("postgresql"):
            return False  # SQLite: a file that cannot be opened is a setting to fix
    except ArgumentError:
        return False
    said = str(error.orig).lower()
    return any(words in said for words in _NO_ANSWER)


def _private_file(path: Path) -> None:
    """The SQLite file (it holds PHI) readable by its owner only, its new folder too; SQLite gives
    its journal files the database file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created if missing and its PRAGMAs set.

    Statement parameters never appear in the engine's error messages (``hide_parameters``).
    """
    kwargs["hide_parameters"] = True
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _private_file(Path(database).expanduser())
        kwargs.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (services return plain views)."""
    return sessionmaker(engine, expire_on_commit=False)


#: The latest migration's revision: what a database in use must be at. Alembic is imported only to
#: migrate (it costs a fifth of a second); a test checks this against the migrations' own head.
HEAD = "0008_web_form_tokens"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """The Alembic configuration, built in code from the migrations shipped in the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The latest migration's revision id, as the migrations say."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` when it was never migrated."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(found) if found is not None else None


def _run(engine: Engine, action: str, revision: str) -> None:
    from alembic import command
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError

    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # SQLite alters a table by copying it; with foreign keys enforced, dropping the old copy
            # would fail. Off for the migration (outside its transaction), checked, then on again.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config = alembic_config(connection)
                try:
                    if action == "upgrade":
                        command.upgrade(config, revision)
                    else:
                        command.downgrade(config, revision)
                except (CommandError, RevisionError) as error:
                    problem = str(error).splitlines()[0] if str(error) else type(error).__name__
                    raise ConfigurationError(f"revision {revision!r}: {problem}") from None
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise ConfigurationError(f"revision {revision!r}: the migration left a dangling foreign key")
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the latest)."""
    with _engine_for(url_or_engine) as engine:
        _run(engine, "upgrade", revision)


def downgrade(url_or_engine: str | Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` removes every table)."""
    with _engine_for(url_or_engine) as engine:
        _run(engine, "downgrade", revision)


@contextmanager
def _engine_for(url_or_engine: str | Engine) -> Iterator[Engine]:
    if isinstance(url_or_engine, Engine):
        yield url_or_engine
        return
    engine = make_engine(url_or_engine)
    try:
        yield engine
    finally:
        engine.dispose()


@dataclass(frozen=True, slots=True)
class Database:
    """An engine with its session factory: what a unit of work is opened on."""

    engine: Engine
    sessions: sessionmaker[Session]
    #: The clocks work rows are worked out with (the settings', when opened from them).
    projection: Projection | None = None

    @classmethod
    def from_url(cls, url: str, projection: Projection | None = None, **engine_options: Any) -> Database:
        engine = make_engine(url, **engine_options)
        return cls(engine, make_session_factory(engine), projection)

    def unit_of_work(self) -> UnitOfWork:
        """A fresh unit of work (:class:`~coverage.store.uow.SqlUnitOfWork`) on this database."""
        from coverage.store.uow import SqlUnitOfWork

        return SqlUnitOfWork(self.sessions, self.projection)

    def dispose(self) -> None:
        self.engine.dispose()


def safe_url(url: str) -> str:
    """``url`` with its password masked, or a placeholder when it does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "an unparsable URL"


@contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """Turn the errors of a database that cannot be opened into one line naming the setting at fault."""
    url = settings.effective_database_url
    if settings.database_url:
        setting, where = "PRIORAUTH_DATABASE_URL", safe_url(url)
    else:
        setting, where = "PRIORAUTH_DATA_DIR", str(settings.data_dir)
    try:
        yield
    except ArgumentError:
        raise ConfigurationError(
            f"{setting}: not a database URL (for example sqlite:///path or postgresql+psycopg://...)"
        ) from None
    except (NoSuchModuleError, ImportError) as error:
        raise ConfigurationError(
            f"{setting}: {where} needs a database driver that is not installed ({type(error).__name__}); "
            "use sqlite or postgresql+psycopg"
        ) from None
    except OperationalError as error:
        if unreachable(error, url):
            raise Unreachable(
                f"{setting}: cannot open the database at {where} (OperationalError: it does not answer now)"
            ) from None
        raise ConfigurationError(f"{setting}: cannot open the database at {where} (OperationalError)") from None
    except SQLAlchemyError as error:
        raise ConfigurationError(
            f"{setting}: the database at {where} cannot be used ({type(error).__name__})"
        ) from None
    except OSError as error:
        raise ConfigurationError(
            f"{setting}: cannot create the database under {where} ({type(error).__name__})"
        ) from None


@contextmanager
def configured_engine(settings: Settings) -> Iterator[Engine]:
    """An engine on the settings' database (not checked, not migrated), disposed on exit.

    Errors opening it are one line each, as in :func:`database_errors`.
    """
    with database_errors(settings):
        engine = make_engine(settings.effective_database_url)
        try:
            yield engine
        finally:
            engine.dispose()


def open_database(settings: Settings) -> Database:
    """The settings' database, ready to use.

    The embedded SQLite file (no ``PRIORAUTH_DATABASE_URL``) is created and migrated on first
    use, so a first-time user needs no ``priorauth db upgrade``. A configured database must
    already be at the latest revision: migrating a shared server is an explicit act.
    """
    from coverage.requests.clocks import ClockSettings
    from coverage.requests.work import Projection

    head = HEAD
    projection = Projection(ClockSettings.from_settings(settings), settings.timezone)
    with database_errors(settings):
        database = Database.from_url(settings.effective_database_url, projection)
        try:
            current = current_revision(database.engine)
            if current == head:
                return database
            if settings.database_url is None:
                log.info("migrating the embedded database from %s to %s", current or "nothing", head)
                upgrade(database.engine)
                return database
        except BaseException:
            database.dispose()
            raise
    database.dispose()
    raise ConfigurationError(f"the database is at revision {current or 'none'}, not {head}: run `priorauth db upgrade`")
