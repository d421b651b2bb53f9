"""Storage: migrations on both databases, UTC timestamps, SQLite PRAGMAs, database-level guards."""

from __future__ import annotations

import datetime as dt
import itertools
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
    "patients", "coverages", "payers", "courses", "cases", "pa_requests", "determinations", "documents",
    "status_events", "submissions", "answers", "authorizations", "treatment_sessions", "send_tasks",
    "send_failures", "signoffs", "payment_plans", "payment_plan_installments", "accounts", "ledger_entries",
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


def test_many_new_rows_are_numbered_in_the_order_they_were_added(uow: UnitOfWork) -> None:
    """A flush of many new rows (on PostgreSQL numbered from the table's sequence beforehand): ids
    ascend in the order the rows were added, and a row added afterwards comes after them."""
    now = dt.datetime(2026, 12, 1, 14, 30, tzinfo=dt.UTC)

    def payer(name: str) -> t.Payer:
        return t.Payer(name=name, turnaround_days=5, urgent_turnaround_hours=24, created_at=now)

    with uow:
        for number in (7, 3, 11, 0, 5, 9, 1, 8, 2, 10, 4, 6):
            uow.payers.add(payer(f"Order Plan {number:02}"))
        uow.commit()
    with uow:
        uow.payers.add(payer("Order Plan Later"))
        uow.commit()
    with uow:
        ids = {p.name: p.id for p in uow.payers.all() if p.name.startswith("Order Plan")}
    added = [f"Order Plan {number:02}" for number in (7, 3, 11, 0, 5, 9, 1, 8, 2, 10, 4, 6)]
    assert [ids[name] for name in added] == sorted(ids[name] for name in added)
    assert ids["Order Plan Later"] > max(ids[name] for name in added)


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
    from coverage.requests.model import Course

    def orphan_course() -> None:
        with uow:
            now = t.utcnow()
            uow.courses.add(
                Course(case_id="C-1", patient_id=999, treatment="esketamine", created_at=now, updated_at=now)
            )
            uow.flush()

    with pytest.raises(Conflict):
        orphan_course()


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
            # The unit of work offers no session; the test reaches the one it holds to break it.
            uow._open.execute(sa.text("INSERT INTO no_such_table (name) VALUES (:name)"), {"name": "Dana Secret"})  # type: ignore[attr-defined]

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


def test_free_text_from_cases_is_text_in_the_database() -> None:
    # The case models bound every text (coverage.fields); the columns take what the models allow.
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


# --- The migration of existing records (lifecycle.md): 0002's rows become courses, answers, sessions.


def _old_rows(connection: sa.Connection) -> None:
    """Records as the version before the lifecycle wrote them."""
    at = dt.datetime(2026, 11, 1, 15, 0, tzinfo=dt.UTC)
    if connection.dialect.name == "sqlite":
        at = at.replace(tzinfo=None)  # how UTCDateTime stores it there
    day = dt.date(2026, 11, 1)

    def insert(table: str, **values: object) -> int:
        columns = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        connection.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)
        return int(connection.execute(sa.text(f"SELECT MAX(id) FROM {table}")).scalar_one())

    patient = insert("patients", external_id="P-1", given_name="Dana", created_at=at, updated_at=at)
    coverage = insert(
        "coverages", patient_id=patient, plan_type="commercial", policy_id="standard-commercial", created_at=at
    )
    document = '{"case_id": "x"}'
    for case_id, statuses in (
        ("C-RENEWED", ["renewed"]),
        ("C-DENIED", ["denied"]),
        ("C-TWO-OPEN", ["draft", "ready"]),
        ("C-PENDED", ["pended"]),
    ):
        for number, status in enumerate(statuses, start=1):
            record = insert(
                "cases", case_id=case_id, version=number, patient_id=patient, document=document,
                sha256="sha256:x", received_at=at, received_by="old",
            )  # fmt: skip
            request = insert(
                "pa_requests", case_id=case_id, case_record_id=record, patient_id=patient, coverage_id=coverage,
                status=status, version=3, urgency="standard", treatment="esketamine", indication="trd",
                kind="initial", created_at=at, updated_at=at, status_changed_at=at,
                denial_reason="trial too short" if status == "denied" else None,
                info_requested="recent PHQ-9" if status == "pended" else None,
            )  # fmt: skip
            insert(
                "determinations", request_id=request, case_record_id=record, outcome="meets_criteria",
                next_step="submit_prior_auth", created_at=at,
                result='{"billing": [{"code": "J0013", "units": 56, "modifier": null}]}',
            )  # fmt: skip
            history = {
                "renewed": [None, "ready", "submitted", "approved", "approved", "renewed"],
                "denied": [None, "ready", "submitted", "denied"],
                "pended": [None, "ready", "submitted", "pended"],
                "draft": [None, "draft"],
                "ready": [None, "ready"],
            }[status]
            for before, after in itertools.pairwise(history):
                insert("status_events", request_id=request, from_status=before, to_status=after, at=at, by="old")
            if status == "renewed":
                insert(
                    "authorizations", request_id=request, number="A-1", valid_from=day, valid_to=day,
                    units_authorized=448, units_used=448, partial=False, created_at=at,
                )  # fmt: skip
                insert(
                    "authorizations", request_id=request, number="A-2", valid_from=day,
                    valid_to=dt.date(2027, 4, 30), units_authorized=448, units_used=112, partial=False, created_at=at,
                )  # fmt: skip
            if status in ("renewed", "denied", "pended"):
                insert("submissions", request_id=request, channel="fax", submitted_at=at, by="old")
            for _ in range(2):  # the same document stored twice by two runs
                insert(
                    "documents", request_id=request, kind="request", sha256="sha256:x", path="/old/x.pdf",
                    size=3, control_number=f"{case_id}-LMN-1", created_at=at,
                )  # fmt: skip


def test_the_migration_of_existing_records(database: Database) -> None:
    from coverage.store.uow import SqlUnitOfWork

    engine = database.engine
    downgrade(engine, "0002_payments")
    with engine.begin() as connection:
        _old_rows(connection)
    upgrade(engine)
    uow = SqlUnitOfWork(database.sessions)
    with uow:
        courses = {
            c.case_id: c
            for c in (uow.courses.by_case_id(i) for i in ("C-RENEWED", "C-DENIED", "C-TWO-OPEN", "C-PENDED"))
            if c
        }
        assert set(courses) == {"C-RENEWED", "C-DENIED", "C-TWO-OPEN", "C-PENDED"}
        for course in courses.values():
            assert course.check_invariants() == [], course.case_id

        renewed = courses["C-RENEWED"].requests[0]
        assert renewed.status == "approved"
        assert [e.to_status for e in renewed.events][-2:] == ["renewed", "approved"]  # old names stay readable
        assert renewed.events[-1].action == "migration"
        assert [(a.number, a.superseded) for a in renewed.authorizations] == [("A-1", True), ("A-2", False)]
        current = renewed.current_authorization
        assert current is not None
        assert (current.code, current.units_adjustment, renewed.units_used(current)) == ("J0013", 112, 112)
        assert [a.decision for a in renewed.answers] == ["approved", "approved"]
        assert [e.action for e in renewed.events[:4]] == ["intake", "submit", "answer", "note"]
        assert [d.control_number for d in renewed.documents] == ["C-RENEWED-LMN-1"]  # the duplicate is gone

        denied = courses["C-DENIED"].requests[0]
        assert [(a.decision, a.reason) for a in denied.answers] == [("denied", "trial too short")]
        assert denied.appeal_deadline(180) is not None

        older, newer = courses["C-TWO-OPEN"].requests
        assert (older.status, older.events[-1].reason) == ("cancelled", "superseded")
        assert newer.status == "ready"

        pended = courses["C-PENDED"].requests[0]
        assert [(a.decision, a.info_requested) for a in pended.answers] == [("pended", "recent PHQ-9")]
        assert all(s.sent_on == dt.date(2026, 11, 1) for s in pended.submissions)


def test_the_head_the_code_expects_is_the_migrations_head() -> None:
    from coverage.store.db import HEAD

    assert head_revision() == HEAD


# --- The access log is append-only in the database (migration 0007): triggers refuse UPDATE and DELETE.


def _log_one(database: Database, what: str = "request page") -> int:
    with database.sessions.begin() as session:
        row = t.AccessLog(user_name="clerk1", patient_id="P-1", request_id=7, what=what)
        session.add(row)
        session.flush()
        return row.id


def _logged(database: Database) -> list[tuple[str, str]]:
    with database.engine.connect() as connection:
        return [(r.user_name, r.what) for r in connection.execute(sa.text("SELECT user_name, what FROM access_log"))]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE access_log SET what = 'nothing to see'",
        "UPDATE access_log SET user_name = 'someone else' WHERE id = {id}",
        "DELETE FROM access_log WHERE id = {id}",
        "DELETE FROM access_log",
    ],
)
def test_the_database_refuses_to_change_or_remove_an_access_log_row(database: Database, statement: str) -> None:
    row_id = _log_one(database)
    with pytest.raises(sa.exc.DBAPIError, match="access_log is append-only"), database.engine.begin() as connection:
        connection.exec_driver_sql(statement.format(id=row_id))
    assert _logged(database) == [("clerk1", "request page")]
    _log_one(database, "letter download")  # adding rows still works
    assert len(_logged(database)) == 2


def test_the_orm_cannot_remove_an_access_log_row_either(database: Database) -> None:
    row_id = _log_one(database)
    with database.sessions() as session:
        row = session.get(t.AccessLog, row_id)
        assert row is not None
        session.delete(row)
        with pytest.raises(sa.exc.DBAPIError, match="access_log is append-only"):
            session.commit()
    assert _logged(database) == [("clerk1", "request page")]


def test_truncating_the_access_log_is_refused_on_postgresql(database: Database) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    _log_one(database)
    with pytest.raises(sa.exc.DBAPIError, match="access_log is append-only"), database.engine.begin() as connection:
        connection.exec_driver_sql("TRUNCATE access_log")
    assert len(_logged(database)) == 1


def test_the_append_only_migration_goes_down_and_up_again(database: Database) -> None:
    engine = database.engine
    _log_one(database)
    downgrade(engine, "0006_web")
    try:
        with engine.begin() as connection:  # no trigger left behind
            connection.exec_driver_sql("UPDATE access_log SET what = 'changed'")
        assert _logged(database) == [("clerk1", "changed")]
    finally:
        upgrade(engine)
    with pytest.raises(sa.exc.DBAPIError, match="access_log is append-only"), engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM access_log")
