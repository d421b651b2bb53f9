"""Storage: migrations on both databases, UTC timestamps, SQLite PRAGMAs, database-level guards."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from coverage.store import tables as t
from coverage.store.db import Database, alembic_config, current_revision, downgrade, head_revision, upgrade
from coverage.store.uow import Conflict, UnitOfWork

RECORD_TABLES = {
    "patients", "coverages", "payers", "cases", "pa_requests", "determinations", "documents",
    "status_events", "submissions", "authorizations",
}  # fmt: skip


def test_migration_round_trip(database: Database) -> None:
    engine = database.engine
    assert current_revision(engine) == head_revision()

    script_ids = ScriptDirectory.from_config(alembic_config()).walk_revisions()
    assert "0001_records" in {script.revision for script in script_ids}

    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}

    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(sa.inspect(engine).get_table_names()) >= RECORD_TABLES
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_object": lambda _o, name, kind, _r, _c: kind != "table" or name in RECORD_TABLES,
            },
        )
        differences = compare_metadata(context, t.Base.metadata)
    assert differences == []  # the migration builds exactly what the tables declare


def test_timestamps_come_back_utc_and_aware(uow: UnitOfWork) -> None:
    local = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    with uow:
        uow.payers.add(t.Payer(name="Clock Plan", turnaround_days=5, urgent_turnaround_hours=24, created_at=local))
        uow.commit()
    with uow:
        payer = uow.payers.by_name("clock  plan")
        assert payer is not None
        assert payer.created_at.tzinfo is not None
        assert payer.created_at.utcoffset() == dt.timedelta(0)
        assert payer.created_at == dt.datetime(2026, 12, 1, 14, 30, tzinfo=dt.UTC)


def test_naive_timestamps_are_refused(uow: UnitOfWork) -> None:
    naive = dt.datetime(2026, 12, 1, 9, 30)  # noqa: DTZ001  # the point of the test
    with uow:
        uow.payers.add(t.Payer(name="Naive Plan", turnaround_days=5, urgent_turnaround_hours=24, created_at=naive))
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            uow.flush()


def test_sqlite_pragmas(database: Database) -> None:
    if database.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_foreign_keys_are_enforced(uow: UnitOfWork) -> None:
    def orphan_event() -> None:
        with uow:
            uow.requests.add_child(t.StatusEvent(request_id=999, to_status="ready", by="test", at=t.utcnow()))
            uow.flush()

    with pytest.raises(Conflict):
        orphan_event()


def test_leaving_without_commit_rolls_back(uow: UnitOfWork) -> None:
    with uow:
        uow.payers.add(t.Payer(name="Uncommitted", turnaround_days=5, urgent_turnaround_hours=24))
        uow.flush()
    with uow:
        assert uow.payers.by_name("Uncommitted") is None


def test_money_is_decimal(database: Database) -> None:
    from decimal import Decimal

    table = sa.Table("money_probe", sa.MetaData(), sa.Column("amount", t.MONEY))
    table.create(database.engine)
    try:
        with database.engine.begin() as connection:
            connection.execute(table.insert().values(amount=Decimal("1234.56")))
            value = connection.execute(sa.select(table.c.amount)).scalar_one()
        assert value == Decimal("1234.56")
        assert isinstance(value, Decimal)
    finally:
        table.drop(database.engine)
