"""Storage: migrations on both databases, UTC timestamps, SQLite PRAGMAs, database-level guards."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from coverage.settings import Settings
from coverage.store import tables as t
from coverage.store.db import (
    Database,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    open_database,
    upgrade,
)
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


# --- Database errors carry no values, and bad settings are one line (review findings 2 and 3).


def test_engines_hide_statement_parameters(database: Database) -> None:
    assert database.engine.hide_parameters


def test_other_database_errors_become_storage_errors_without_values(uow: UnitOfWork) -> None:
    from coverage.errors import StorageError

    def bad_write() -> None:
        with uow:
            uow.session.execute(sa.text("INSERT INTO no_such_table (name) VALUES (:name)"), {"name": "Dana Secret"})

    with pytest.raises(StorageError) as raised:
        bad_write()
    assert "Dana Secret" not in str(raised.value)
    assert str(raised.value).startswith("the database refused the operation (")
    assert raised.value.__cause__ is None


def test_a_value_too_long_for_its_column_is_a_storage_error(database: Database, uow: UnitOfWork) -> None:
    from coverage.errors import StorageError

    if database.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite does not enforce lengths")

    def long_fax() -> None:
        with uow:
            uow.payers.add(t.Payer(name="Long Fax", fax="5" * 50, turnaround_days=5, urgent_turnaround_hours=24))
            uow.flush()

    with pytest.raises(StorageError, match=r"\(DataError\)") as raised:
        long_fax()
    assert "5555555555" not in str(raised.value)


def test_free_text_from_cases_has_no_length_limit() -> None:
    columns = {
        ("patients", "external_id"), ("patients", "given_name"), ("patients", "family_name"),
        ("coverages", "payer_name"), ("coverages", "policy_id"), ("coverages", "member_id"),
        ("coverages", "group_number"), ("payers", "name"), ("payers", "name_key"),
    }  # fmt: skip
    for table, column in columns:
        assert isinstance(t.Base.metadata.tables[table].c[column].type, sa.Text), (table, column)


def _settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"database_url": "garbage"}, "PRIORAUTH_DATABASE_URL: not a database URL"),
        (
            {"database_url": "postgresql+psycopg://nouser:s3cret-pw@127.0.0.1:1/x"},
            "PRIORAUTH_DATABASE_URL: cannot open the database at postgresql+psycopg://nouser:***@127.0.0.1:1/x",
        ),
        ({"database_url": "mysql://x@localhost/x"}, "PRIORAUTH_DATABASE_URL: mysql://x@localhost/x needs a database"),
        ({"data_dir": "/proc/x"}, "PRIORAUTH_DATA_DIR: cannot create the database under /proc/x"),
    ],
)
def test_unusable_database_settings_are_one_line(values: dict[str, object], expected: str) -> None:
    from coverage.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as raised:
        open_database(_settings(**values))
    assert str(raised.value).startswith(expected), str(raised.value)
    assert "s3cret-pw" not in str(raised.value)


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    from coverage.errors import ConfigurationError

    (tmp_path / "file").write_text("")
    for data_dir in (tmp_path / "file", tmp_path / "file" / "sub"):
        with pytest.raises(ConfigurationError, match=r"^PRIORAUTH_DATA_DIR: cannot create the database under"):
            open_database(_settings(data_dir=data_dir))


def test_an_unknown_revision_is_one_line(database: Database) -> None:
    from coverage.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"^revision 'nosuch': "):
        upgrade(database.engine, "nosuch")
    with pytest.raises(ConfigurationError, match=r"^revision 'nosuch': "):
        downgrade(database.engine, "nosuch")
    assert current_revision(database.engine) == head_revision()
