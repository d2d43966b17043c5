"""The Trading application's recorder: the library's, with a save's events inserted by one
SQLAlchemy Core statement instead of one ORM object each.

A fill saves four or five events; building, adding and flushing an ORM object per event cost
more than the SQLite commit itself. The rows, the notification ids (RETURNING, in the order of
the events) and the locking are the library's: PostgreSQL still takes its table lock first, so
notification ids are committed in order, and a duplicate (originator_id, originator_version)
still fails the unique index and raises the library's IntegrityError.

On SQLite, a save that is its own transaction also skips the ORM session around it (a
connection transaction, under the datastore's write lock as the library takes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy.exc
from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing_sqlalchemy.datastore import exception_classes, transactions
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Engine, Insert, Table, insert
from sqlalchemy.orm import Session


class CoreInsertRecorder(SQLAlchemyApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        events: Table = self.events_record_cls.__table__
        self._insert: Insert = insert(events).returning(events.c.id, sort_by_parameter_order=True)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, session: Session | None = None, **kwargs: Any
    ) -> Sequence[int] | None:
        engine = self.datastore.engine
        if (
            session is not None
            or transactions.get(None) is not None  # part of a larger transaction
            or not isinstance(engine, Engine)
            or engine.dialect.name != "sqlite"
            or not self._ordered_returning(engine.dialect)
            or not stored_events
        ):
            return super().insert_events(stored_events, session=session, **kwargs)
        lock = self.datastore.write_lock
        if lock is not None:
            lock.acquire()
        try:
            with engine.begin() as connection:
                return list(connection.execute(self._insert, self._rows(stored_events)).scalars())
        except sqlalchemy.exc.SQLAlchemyError as error:
            # The library's exception for each of SQLAlchemy's (IntegrityError: a conflict).
            raise exception_classes.get(type(error).__name__, PersistenceError)(error) from error
        finally:
            if lock is not None:
                lock.release()

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events or not self._ordered_returning(session.get_bind().dialect):
            # Nothing to insert, or a database without ordered RETURNING: the library's way.
            return super()._insert_stored_events(session, stored_events, **kwargs)
        self._lock_table(session)
        notification_ids = list(session.execute(self._insert, self._rows(stored_events)).scalars())
        self._notify_channel(session)
        return notification_ids

    @staticmethod
    def _ordered_returning(dialect: Any) -> bool:
        return bool(dialect.insert_executemany_returning_sort_by_parameter_order)

    @staticmethod
    def _rows(stored_events: Sequence[StoredEvent]) -> list[dict[str, Any]]:
        return [
            {
                "originator_id": event.originator_id,
                "originator_version": event.originator_version,
                "topic": event.topic,
                "state": event.state,
            }
            for event in stored_events
        ]
