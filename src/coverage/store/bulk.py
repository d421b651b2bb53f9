"""Versioned UPDATEs of many courses and requests in a few statements, with optimistic locking kept.

SQLAlchemy's unit of work sends one UPDATE per changed row of a versioned class (it needs each
row's count to tell a lost race). A batch of status checks changes hundreds of requests and their
courses: one round trip each. :func:`write_versioned_changes` runs before every flush of a
:class:`~coverage.store.uow.SqlUnitOfWork` and sends those changes as one executemany per table
and set of changed columns, each row guarded by its version (``WHERE id = ? AND version = ?``).
If the rows matched are fewer than the rows sent, a concurrent writer got there first: it raises
SQLAlchemy's ``StaleDataError``, as the ORM's own check does, and the unit of work rolls back.

The new values become the objects' committed state (with the version moved by one, as the ORM
moves it), so the flush that follows writes no UPDATE for them; new rows, deletions and every
other class stay with the ORM. The aggregate decides every value: this only changes how many
statements carry them.

On PostgreSQL, :func:`assign_ids` also numbers a flush's many new rows of a table (a batch's
answers and events) from the table's sequence beforehand, so the ORM inserts them without
asking each row's id back.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Table, bindparam, func, inspect, select
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.attributes import get_history, instance_state, set_committed_value
from sqlalchemy.orm.base import PassiveFlag
from sqlalchemy.orm.exc import StaleDataError

from coverage.requests.model import Course, Request

#: The versioned classes written here: the aggregate's root and its requests.
VERSIONED: tuple[type, ...] = (Course, Request)


@functools.cache
def _column_keys(mapper: Mapper[Any]) -> frozenset[str]:
    return frozenset(prop.key for prop in mapper.column_attrs)


@functools.cache
def _keys(mapper: Mapper[Any]) -> tuple[str, str, str, str]:
    """(primary key's attribute, its column, version's attribute, its column) of a versioned class."""
    version = mapper.version_id_col
    assert version is not None
    (pk,) = mapper.primary_key
    return (
        mapper.get_property_by_column(pk).key,
        pk.name,
        mapper.get_property_by_column(version).key,
        str(version.name),
    )


def _changes(thing: object) -> tuple[Mapper[Any], dict[str, Any]] | None:
    """The mapper and the changed columns (column name: new value) of a persistent versioned object."""
    state = inspect(thing)
    if not state.persistent:
        return None
    mapper = state.mapper
    changed: dict[str, Any] = {}
    columns = _column_keys(mapper)
    # Only an attribute set since the last flush has an entry in ``committed_state``: the others
    # have no history to look at.
    for key in [k for k in state.committed_state if k in columns]:
        history = get_history(thing, key, passive=PassiveFlag.PASSIVE_NO_INITIALIZE)
        if history.added:
            changed[key] = history.added[0]
    return (mapper, changed) if changed else None


def write_versioned_changes(session: Session, things: Iterable[object]) -> int:
    """Write the column changes of these objects' courses and requests in bulk; the rows written.

    Rows are written in the ORM's own order, courses before requests and each table's rows by id,
    so that two writers lock the rows they share in the same order (no deadlock, one of them
    waits and then finds the other's version): one executemany per run of rows with the same
    changed columns.
    """
    found: dict[type, list[tuple[Any, object, Mapper[Any], dict[str, Any]]]] = {kind: [] for kind in VERSIONED}
    for thing in things:
        if not isinstance(thing, VERSIONED):
            continue
        changes = _changes(thing)
        if changes is None:
            continue
        mapper, changed = changes
        pk_key, _, version_key, _ = _keys(mapper)
        if version_key in changed:  # the version is the ORM's to move: leave such a row to the ORM
            continue
        kind = next(k for k in VERSIONED if isinstance(thing, k))
        found[kind].append((getattr(thing, pk_key), thing, mapper, changed))
    written = 0
    for rows_of_kind in found.values():
        rows_of_kind.sort(key=lambda row: row[0])
        for keys, run in itertools.groupby(rows_of_kind, key=lambda row: tuple(sorted(row[3]))):
            written += _write(session, keys, [(thing, mapper, changed) for _, thing, mapper, changed in run])
    return written


def _write(session: Session, keys: tuple[str, ...], rows: list[tuple[object, Mapper[Any], dict[str, Any]]]) -> int:
    """One executemany: these rows' ``keys`` columns, each row's version checked and moved by one."""
    mapper = rows[0][1]
    table = mapper.local_table
    assert isinstance(table, Table)
    pk_key, pk_column, version_key, version_column = _keys(mapper)
    columns: dict[str, Any] = {mapper.get_property(k).columns[0].name: bindparam(f"new_{k}") for k in keys}
    statement = (
        table.update()
        .where(table.c[pk_column] == bindparam("old_pk"), table.c[version_column] == bindparam("old_version"))
        .values({**columns, version_column: bindparam("new_version")})
    )
    params = []
    for thing, _, changed in rows:
        old = getattr(thing, version_key)
        params.append(
            {"old_pk": getattr(thing, pk_key), "old_version": old, "new_version": old + 1}
            | {f"new_{k}": v for k, v in changed.items()}
        )
    result = session.connection().execute(statement, params)
    if result.rowcount != len(params):
        raise StaleDataError(f"{table.name}: {result.rowcount} of {len(params)} rows matched (changed meanwhile)")
    for (thing, _, changed), sent in zip(rows, params, strict=True):
        for key, value in changed.items():
            set_committed_value(thing, key, value)
        set_committed_value(thing, version_key, sent["new_version"])
    return len(params)


#: The fewest new rows of one table whose ids :func:`assign_ids` takes beforehand (fewer: the ORM's way).
MIN_IDS = 8


def assign_ids(session: Session, things: Iterable[object]) -> int:
    """Ids for the new rows of a flush, taken from their tables' sequences, many at once (PostgreSQL).

    The ORM asks for each new row's id back (``INSERT ... RETURNING``): hundreds of new answers
    and events make one very long statement per table, which the driver parses again every time.
    With the ids known beforehand the same rows go as one short statement executed many times.
    Ids are taken in the order the ORM inserts the rows (ascending, as the database would give
    them); tables with fewer than :data:`MIN_IDS` new rows are left to the ORM. The rows taken.
    """
    if session.get_bind().dialect.name != "postgresql":
        return 0
    pending: dict[Table, list[tuple[int, object, str]]] = {}
    for thing in things:
        state = instance_state(thing)
        serial = _serial(state.mapper)
        if serial is not None and state.dict.get(serial[1]) is None:
            pending.setdefault(serial[0], []).append((state.insert_order or 0, thing, serial[1]))
    taken = 0
    for table, rows in pending.items():
        if len(rows) < MIN_IDS:
            continue
        (pk,) = table.primary_key.columns
        sequence = func.pg_get_serial_sequence(table.fullname, pk.name)
        query = select(func.nextval(sequence)).select_from(func.generate_series(1, len(rows)))
        ids = list(session.connection().execute(query).scalars())
        if None in ids:  # no sequence behind the column: the ORM's own way
            continue
        rows.sort(key=lambda row: row[0])
        for (_, thing, key), new_id in zip(rows, sorted(ids), strict=True):
            setattr(thing, key, new_id)
        taken += len(rows)
    return taken


@functools.cache
def _serial(mapper: Mapper[Any]) -> tuple[Table, str] | None:
    """(table, primary key's attribute) of a class whose rows are numbered by the database, else ``None``."""
    table = mapper.local_table
    if not isinstance(table, Table) or len(mapper.primary_key) != 1:
        return None
    (pk,) = mapper.primary_key
    if pk is not table.autoincrement_column:
        return None
    return table, mapper.get_property_by_column(pk).key


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for a batch's unit of work (restored after).

    A batch keeps thousands of ORM objects alive at once: each of them survives the young
    collections, and the collector then runs full collections over the whole process (Prefect,
    SQLAlchemy, the batch) again and again, a third of a batch's CPU time on PostgreSQL. Memory
    freed by reference counting is freed as usual; the batch's reference cycles wait for the
    collector's next run once it is back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
