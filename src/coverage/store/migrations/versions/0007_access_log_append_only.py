"""The access log is append-only in the database itself: triggers refuse to change or remove a row

Revision ID: 0007_access_log_append_only
Revises: 0006_web

Whatever connects with the records' credentials (a bug, a console, a script) can add rows to
``access_log`` but not rewrite or delete them: an ``UPDATE`` or ``DELETE`` (and on PostgreSQL a
``TRUNCATE``) fails with "access_log is append-only". Dropping the triggers takes a schema change
(this migration's downgrade), which a database role for the app need not be granted.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_access_log_append_only"
down_revision: str | Sequence[str] | None = "0006_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "access_log is append-only"

POSTGRESQL_UP = (
    f"""
    CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    "CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log "
    "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()",
    "CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()",
)
POSTGRESQL_DOWN = (
    "DROP TRIGGER IF EXISTS access_log_no_truncate ON access_log",
    "DROP TRIGGER IF EXISTS access_log_no_change ON access_log",
    "DROP FUNCTION IF EXISTS access_log_append_only()",
)
SQLITE_UP = tuple(
    f"CREATE TRIGGER access_log_no_{verb.lower()} BEFORE {verb} ON access_log "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: {verb} refused'); END"
    for verb in ("UPDATE", "DELETE")
)
SQLITE_DOWN = ("DROP TRIGGER IF EXISTS access_log_no_update", "DROP TRIGGER IF EXISTS access_log_no_delete")


def _statements(up: bool) -> tuple[str, ...]:
    if op.get_bind().dialect.name == "postgresql":
        return POSTGRESQL_UP if up else POSTGRESQL_DOWN
    return SQLITE_UP if up else SQLITE_DOWN


def upgrade() -> None:
    for statement in _statements(up=True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(up=False):
        op.execute(statement)
