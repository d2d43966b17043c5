"""The event store's recorders: eventsourcing-sqlalchemy's, with their reads and writes as Core SQL.

The library's recorders open an ORM session for every call, build an ORM object per stored
event and run each read through an ORM query, on every save and every aggregate load. Measured
beside raw sqlite3 (`bench/store.py`), that work cost several times the database's own: a read
of one aggregate's events took 0.27 ms where the query takes 0.01 ms, and one fill (a fact
check, an order load and a four-event save) about 1.9 ms, of which the commit is 0.2 ms.

These subclasses keep everything else of the library's recorders (tables, record classes,
datastore, `transaction()` with its nesting) and implement the recorder interface's public
methods (`insert_events`, `select_events`, `select_notifications`, `max_notification_id`) with
Core statements on the same tables, through the tables' own column types: what is stored is
what the library stores, and each side reads the other's rows (tests/core/test_event_recorder.py).

Outside a library transaction a call takes a pooled connection itself, under the datastore's
write lock for writes, and raises the library's exception types (`IntegrityError` on a
conflicting save); inside one (a caller's `transaction()`), it joins that transaction.
`Factory` is the persistence module's factory with these recorders; the store's environment
names it (`alphaengine/store.py`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import sqlalchemy.exc
from eventsourcing import persistence
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore, transactions
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyAggregateRecorder,
    SQLAlchemyApplicationRecorder,
)
from sqlalchemy import Connection, Dialect, Select, Table, bindparam, func, insert, select, text

# The library's translation of driver errors, most specific first.
_ERRORS: tuple[tuple[type[Exception], type[Exception]], ...] = (
    (sqlalchemy.exc.IntegrityError, persistence.IntegrityError),
    (sqlalchemy.exc.InterfaceError, persistence.InterfaceError),
    (sqlalchemy.exc.DataError, persistence.DataError),
    (sqlalchemy.exc.OperationalError, persistence.OperationalError),
    (sqlalchemy.exc.InternalError, persistence.InternalError),
    (sqlalchemy.exc.ProgrammingError, persistence.ProgrammingError),
    (sqlalchemy.exc.NotSupportedError, persistence.NotSupportedError),
    (sqlalchemy.exc.DatabaseError, persistence.DatabaseError),
    (sqlalchemy.exc.SQLAlchemyError, persistence.PersistenceError),
)


@contextmanager
def _connection(recorder: SQLAlchemyAggregateRecorder, *, write: bool) -> Iterator[Connection]:
    """A connection for one call: the caller's transaction if one is open, else a pooled one
    (in a transaction committed at the end when `write`)."""
    datastore = recorder.datastore
    engine = datastore.engine
    joins = (
        transactions.get(None) is not None
        or datastore.scoped_session is not None
        or datastore.access_lock is not None
        or not isinstance(engine, sqlalchemy.Engine)
    )
    if joins:
        with recorder.transaction(commit=write) as session:
            yield session.connection()
        return
    assert isinstance(engine, sqlalchemy.Engine)
    lock = datastore.write_lock if write else None
    if lock is not None:
        lock.acquire()
    try:
        with engine.begin() if write else engine.connect() as connection:
            yield connection
    except sqlalchemy.exc.SQLAlchemyError as error:
        for driver_error, library_error in _ERRORS:
            if isinstance(error, driver_error):
                raise library_error(error) from error
        raise
    finally:
        if lock is not None:
            lock.release()


def _row(event: StoredEvent) -> dict[str, Any]:
    return {
        "originator_id": event.originator_id,
        "originator_version": event.originator_version,
        "topic": event.topic,
        "state": event.state,
    }


def _bytes(state: Any) -> bytes:
    return bytes(state) if isinstance(state, memoryview) else state


def _sqlite_execute(connection: Connection, sql: str, params: tuple[Any, ...]) -> Any:
    """Run `sql` on the driver's own cursor, in the connection's transaction: SQLAlchemy's
    execution context and result object cost as much as SQLite's own work for these one-row
    statements (about 8 of 17 µs for an insert). Driver errors are raised as SQLAlchemy's,
    as `exec_driver_sql` raises them. SQLite only: elsewhere SQLAlchemy's handling of a lost
    connection is worth its cost."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
    except sqlite3.Error as error:
        cursor.close()
        raise sqlalchemy.exc.DBAPIError.instance(sql, params, error, sqlite3.Error) from error
    return cursor


class _Query:
    """A SELECT compiled once and run as driver SQL, each value through its column type's own
    conversions: the same rows as running the statement, without building and caching it on
    every call (a third of a read's cost)."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.keys = list(compiled.positiontup or []) if compiled.positional else None
        # Values the statement fixed itself (SQLite renders a LIMIT with an OFFSET of 0).
        self.binds = {
            key: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for key, bind in ((key, compiled.binds[key]) for key in compiled.bind_names.values())
        }
        self.defaults = {
            key: convert(value) if (convert := self.binds.get(key)) else value
            for key, value in compiled.params.items()
            if value is not None
        }
        self.results = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]
        self.sqlite = dialect.name == "sqlite"

    def rows(self, connection: Connection, values: dict[str, Any]) -> list[list[Any]]:
        converters = self.results
        return [
            [
                convert(value) if convert else value
                for convert, value in zip(converters, row, strict=True)
            ]
            for row in self.raw_rows(connection, values)
        ]

    def raw_rows(self, connection: Connection, values: dict[str, Any]) -> Sequence[Any]:
        """The rows as the driver returns them (no result conversions)."""
        params = dict(self.defaults)
        for key, value in values.items():
            convert = self.binds.get(key)
            params[key] = convert(value) if convert else value
        if self.keys is None:
            fetched = connection.exec_driver_sql(self.sql, params).fetchall()
        elif self.sqlite:
            cursor = _sqlite_execute(connection, self.sql, tuple(params[k] for k in self.keys))
            try:
                fetched = cursor.fetchall()
            finally:
                cursor.close()
        else:
            keyed = tuple(params[k] for k in self.keys)
            fetched = connection.exec_driver_sql(self.sql, keyed).fetchall()
        return fetched


class _Remembered:
    """A column's result conversion, remembered per stored value (bounded: cleared when full).
    An aggregate's events share its id: one UUID made per aggregate, not per event."""

    def __init__(self, convert: Callable[[Any], Any] | None, size: int = 4096) -> None:
        self.convert = convert
        self.size = size
        self.values: dict[Any, Any] = {}

    def __call__(self, value: Any) -> Any:
        try:
            return self.values[value]
        except KeyError:
            converted = self.convert(value) if self.convert else value
            if len(self.values) >= self.size:
                self.values.clear()
            self.values[value] = converted
            return converted


def _notification(
    id_: int, originator_id: Any, version: int, topic: str, state: bytes
) -> Notification:
    # What the frozen dataclass's __init__ makes (one setattr per field), in one assignment,
    # as the library makes its domain events: a page builds thousands.
    notification = object.__new__(Notification)
    object.__setattr__(
        notification,
        "__dict__",
        {
            "originator_id": originator_id,
            "originator_version": version,
            "topic": topic,
            "state": state,
            "id": id_,
        },
    )
    return notification


class _Insert:
    """An INSERT of one stored event, compiled once, run as driver SQL with the columns' own
    conversions; returns the row's id (the cursor's lastrowid: SQLite only)."""

    COLUMNS = ("originator_id", "originator_version", "topic", "state")

    def __init__(self, table: Table, dialect: Dialect) -> None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(self.COLUMNS))
        assert compiled.positional and list(compiled.positiontup or []) == list(self.COLUMNS)
        self.sql = str(compiled)
        self.convert = [
            table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in self.COLUMNS
        ]

    def run(self, connection: Connection, event: StoredEvent) -> int:
        values = (event.originator_id, event.originator_version, event.topic, event.state)
        params = tuple(
            convert(value) if convert else value
            for convert, value in zip(self.convert, values, strict=True)
        )
        cursor = _sqlite_execute(connection, self.sql, params)
        try:
            return int(cursor.lastrowid)
        finally:
            cursor.close()


class _EventQueries:
    """`select_events` on one table: a compiled query per shape of its arguments."""

    def __init__(self, table: Table, dialect: Dialect) -> None:
        self.table = table
        self.dialect = dialect
        self.queries: dict[tuple[bool, bool, bool, bool], _Query] = {}

    def select(
        self,
        recorder: SQLAlchemyAggregateRecorder,
        originator_id: UUID | str,
        gt: int | None,
        lte: int | None,
        desc: bool,
        limit: int | None,
    ) -> list[StoredEvent]:
        shape = (gt is not None, lte is not None, desc, limit is not None)
        query = self.queries.get(shape)
        if query is None:
            query = self.queries[shape] = _Query(self._statement(*shape), self.dialect)
        values = {"originator_id": originator_id, "gt": gt, "lte": lte, "limit": limit}
        with _connection(recorder, write=False) as connection:
            rows = query.rows(connection, {k: v for k, v in values.items() if v is not None})
        return [
            StoredEvent(originator_id=r[0], originator_version=r[1], topic=r[2], state=_bytes(r[3]))
            for r in rows
        ]

    def _statement(self, gt: bool, lte: bool, desc: bool, limit: bool) -> Select[Any]:
        table = self.table
        version = table.c.originator_version
        query = select(table.c.originator_id, version, table.c.topic, table.c.state).where(
            table.c.originator_id == bindparam("originator_id", type_=table.c.originator_id.type)
        )
        if gt:
            query = query.where(version > bindparam("gt"))
        if lte:
            query = query.where(version <= bindparam("lte"))
        query = query.order_by(version.desc() if desc else version)
        return query.limit(bindparam("limit")) if limit else query


class _CoreReads(SQLAlchemyAggregateRecorder):
    """An aggregate's events (or snapshots) through compiled queries (`_EventQueries`)."""

    _events: _EventQueries

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        return self._events.select(self, originator_id, gt, lte, desc, limit)


class SnapshotRecorder(_CoreReads):
    """The snapshot store's recorder."""

    def __init__(
        self,
        datastore: SQLAlchemyDatastore,
        *,
        events_table_name: str,
        schema_name: str | None = None,
        for_snapshots: bool = False,
    ) -> None:
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            schema_name=schema_name,
            for_snapshots=for_snapshots,
        )
        self.table: Table = self.events_record_cls.__table__
        assert datastore.engine is not None
        self._events = _EventQueries(self.table, datastore.engine.dialect)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if stored_events:
            with _connection(self, write=True) as connection:
                connection.execute(insert(self.table), [_row(e) for e in stored_events])
        return None


class EventRecorder(_CoreReads, SQLAlchemyApplicationRecorder):
    """The application's recorder: the events table, which is also the notification log."""

    def __init__(
        self,
        datastore: SQLAlchemyDatastore,
        *,
        events_table_name: str,
        schema_name: str | None = None,
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name, schema_name=schema_name)
        table: Table = self.events_record_cls.__table__
        self.table = table
        assert datastore.engine is not None
        self._events = _EventQueries(table, datastore.engine.dialect)
        self._insert_one = insert(table)
        self._insert_many = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        dialect = datastore.engine.dialect
        # SQLite: one compiled INSERT per event, its id from the cursor (SQLAlchemy's
        # many-rows RETURNING costs more than the rows).
        self._sqlite_insert = _Insert(table, dialect) if dialect.name == "sqlite" else None
        self._max_id = select(func.max(table.c.id))
        # The projector's and the executor's query: a page of the log from a position.
        self._page = _Query(
            select(
                table.c.id,
                table.c.originator_id,
                table.c.originator_version,
                table.c.topic,
                table.c.state,
            )
            .where(table.c.id >= bindparam("start"))
            .order_by(table.c.id)
            .limit(bindparam("limit")),
            dialect,
        )
        self._page_ids = _Remembered(self._page.results[1])
        # The id, version and topic come from the driver as they are (true of SQLite and
        # psycopg); the state's conversion, where there is one, is `_bytes`.
        id_, _, version, topic, _ = self._page.results
        self._page_plain = id_ is None and version is None and topic is None
        is_postgresql = datastore.engine is not None and (
            datastore.engine.dialect.name == "postgresql"
        )
        name = f"{schema_name}.{events_table_name}" if schema_name else events_table_name
        # Insert order must be commit order, or a follower reading the log by id could pass an
        # id whose transaction commits later (SQLite has one writer at a time already). The
        # NOTIFY is what the library sends for its subscriptions.
        self._before = text(f"LOCK TABLE {name} IN EXCLUSIVE MODE") if is_postgresql else None
        self._after = text(f"NOTIFY {self.channel_name}") if is_postgresql else None

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        session: Any = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if session is not None:
            return self._insert(session.connection(), stored_events)
        with _connection(self, write=True) as connection:
            return self._insert(connection, stored_events)

    def _insert(self, connection: Connection, stored_events: Sequence[StoredEvent]) -> list[int]:
        if not stored_events:
            return []
        if self._before is not None:
            connection.execute(self._before)
        if self._sqlite_insert is not None:
            return [self._sqlite_insert.run(connection, e) for e in stored_events]
        rows = [_row(e) for e in stored_events]
        if len(rows) == 1:
            key = connection.execute(self._insert_one, rows[0]).inserted_primary_key
            assert key is not None
            ids = [int(key[0])]
        else:
            ids = [int(i) for i in connection.execute(self._insert_many, rows).scalars()]
        if self._after is not None:
            connection.execute(self._after)
        return ids

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        page = start is not None and inclusive_of_start and stop is None and not topics
        if page and self._page_plain:
            assert start is not None
            return self._page_from(start, limit)
        table = self.table
        query = select(
            table.c.id,
            table.c.originator_id,
            table.c.originator_version,
            table.c.topic,
            table.c.state,
        )
        if start is not None:
            query = query.where(table.c.id >= start if inclusive_of_start else table.c.id > start)
        if stop is not None:
            query = query.where(table.c.id <= stop)
        if topics:
            query = query.where(table.c.topic.in_(bindparam("topics", expanding=True)))
        query = query.order_by(table.c.id).limit(limit)
        with _connection(self, write=False) as connection:
            rows = connection.execute(query, {"topics": list(topics)} if topics else {}).all()
        return [
            Notification(
                id=r[0],
                originator_id=r[1],
                originator_version=r[2],
                topic=r[3],
                state=_bytes(r[4]),
            )
            for r in rows
        ]

    def _page_from(self, start: int, limit: int) -> list[Notification]:
        """The projector's and the executor's read: a page of the log from a position."""
        with _connection(self, write=False) as connection:
            raw = self._page.raw_rows(connection, {"start": start, "limit": limit})
        originator_id = self._page_ids
        return [_notification(r[0], originator_id(r[1]), r[2], r[3], _bytes(r[4])) for r in raw]

    def max_notification_id(self) -> int | None:
        with _connection(self, write=False) as connection:
            top = connection.execute(self._max_id).scalar()
        return None if top is None else int(top)


class Factory(SQLAlchemyFactory):
    aggregate_recorder_class = SnapshotRecorder
    application_recorder_class = EventRecorder
