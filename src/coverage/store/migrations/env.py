"""Alembic environment: runs on the connection :mod:`coverage.store.db` hands over, or on a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from coverage.store.db import make_engine
from coverage.store.tables import Base

target_metadata = Base.metadata


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "give a connection or sqlalchemy.url"
    engine = make_engine(url)
    try:
        with engine.begin() as new_connection:
            _run_on(new_connection)
    finally:
        engine.dispose()


run()
