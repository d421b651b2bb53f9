"""Test support shipped with the package: throwaway databases and table cleaning.

Every test run (and every concurrent run) works in a PostgreSQL database of its own, created
with a unique name from the server named by a base URL and dropped at the end.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, Engine, MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def _server_engine(base_url: str) -> Engine:
    return create_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def create_postgres_database(base_url: str, prefix: str = "priorauth_test") -> str:
    """Create an empty database with a unique name next to ``base_url``'s; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = _server_engine(base_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str, base_url: str) -> None:
    """Drop a database made by :func:`create_postgres_database`, closing its connections."""
    name = make_url(url).database
    engine = _server_engine(base_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


_REFLECTED: dict[str, MetaData] = {}


def clear_tables(engine: Engine) -> None:
    """Delete every row of every table the migrations made (children first), keeping the schema.

    The tables are read from the database (once per URL), so tables of modules this process
    never imported are emptied too and no foreign key is left dangling.
    """
    key = engine.url.render_as_string(hide_password=False)
    metadata = _REFLECTED.get(key)
    if metadata is None:
        metadata = MetaData()
        metadata.reflect(engine)
        _REFLECTED[key] = metadata
    with engine.begin() as connection:
        restore = _lift_append_only(connection)
        for table in reversed(metadata.sorted_tables):
            if table.name != "alembic_version":
                connection.execute(table.delete())
        for statement in restore:
            connection.exec_driver_sql(statement)


#: Tables whose triggers refuse UPDATE and DELETE (migration 0007): emptied between tests all the same.
APPEND_ONLY = ("access_log",)


def _lift_append_only(connection: Connection) -> list[str]:
    """Lift, for this transaction only, the triggers that keep the append-only tables' rows: what restores them.

    On PostgreSQL the table's owner disables its own triggers (undone before the commit); SQLite
    cannot disable a trigger, so its triggers are dropped and made again from their stored text.
    """
    if connection.dialect.name == "postgresql":
        for table in APPEND_ONLY:
            connection.exec_driver_sql(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        return [f'ALTER TABLE "{table}" ENABLE TRIGGER USER' for table in APPEND_ONLY]
    names = ", ".join(f"'{table}'" for table in APPEND_ONLY)
    triggers = connection.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({names})"  # noqa: S608  # our constants
    ).all()
    for name, _ in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    return [str(sql) for _, sql in triggers]
