"""Tracking for followers of the notification log: their writes and their position, committed
together, so a crash never leaves a follower's state ahead of (or behind) the position it claims.

The library's `eventsourcing.projection.Projection` records one tracking object per event, each
in its own transaction; the projector and the executor's command log apply a page of
notifications per transaction (hundreds of events: rebuilds run an order of magnitude faster),
so they write the position themselves, on the recorder's public `tracking_table`, inside their
own transaction. Reads of the position go through the library (`max_tracking_id`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, cast

from eventsourcing_sqlalchemy.recorders import SQLAlchemyTrackingRecorder
from sqlalchemy import Connection, CursorResult, column, func, insert, select, table, update
from sqlalchemy.orm import Session

from alphaengine.trading import Trading

TRACKING_TABLE = "projections_tracking"
PROJECTOR = "Trading"  # the projector's row in the tracking table
# The Trading application's notification log, as eventsourcing-sqlalchemy names it.
_events = table("trading_events", column("id"))
_tracking = table(TRACKING_TABLE, column("application_name"), column("notification_id"))


def projection_lag(conn: Connection) -> int:
    """Notifications in the log the projector has not applied yet, read on `conn` (the one
    definition: the projector asks it of its own connection, the web of a request's)."""
    last = conn.execute(select(func.max(_events.c.id))).scalar() or 0
    tracked = (
        conn.execute(
            select(func.max(_tracking.c.notification_id)).where(
                _tracking.c.application_name == PROJECTOR
            )
        ).scalar()
        or 0
    )
    return max(0, int(last) - int(tracked))


class FollowerTracking(SQLAlchemyTrackingRecorder):
    """A tracking table on the Trading application's datastore (one row per follower)."""

    @classmethod
    def for_trading(
        cls, trading: Trading, table: str, *, create_table: bool = False
    ) -> FollowerTracking:
        datastore = trading.recorder.datastore  # type: ignore[attr-defined]
        # One recorder per datastore and table: each defines a record class on the datastore's
        # declarative base, and a second definition of the same name replaces the first.
        known = _RECORDERS.setdefault(datastore, {})
        recorder = known.get(table)
        if recorder is None:
            recorder = known[table] = cls(datastore=datastore, tracking_table_name=table)
        if create_table:
            recorder.create_table()
        return recorder

    def position(self, follower: str) -> int:
        return int(self.max_tracking_id(follower) or 0)

    def write(
        self,
        follower: str,
        notification_id: int,
        apply: Callable[[Session], Any],
        *,
        expected: int | None = None,
    ) -> None:
        """Move `follower` to `notification_id` and run `apply` (its writes), committed together.

        With `expected`, only from that position: PositionMoved (nothing written) if another
        writer moved it since. A follower that knows where it stopped skips reading it again.
        """
        with self.transaction(commit=True) as session:
            # The position first: it takes the write lock before `apply` reads anything.
            self.advance(session, follower, notification_id, expected=expected)
            apply(session)

    def advance(
        self,
        session: Session,
        follower: str,
        notification_id: int,
        *,
        expected: int | None = None,
    ) -> None:
        table = self.tracking_table
        where = table.c.application_name == follower
        if expected is not None:
            where = where & (table.c.notification_id == expected)
        result = session.execute(update(table).where(where).values(notification_id=notification_id))
        moved = cast(CursorResult[Any], result).rowcount
        if not moved:
            if expected:  # a follower at 0 has no row yet
                raise PositionMoved(f"{follower} is no longer at notification {expected}")
            session.execute(
                insert(table).values(application_name=follower, notification_id=notification_id)
            )


class PositionMoved(Exception):
    """A follower's position is not the one it expected: another writer moved it."""


_RECORDERS: weakref.WeakKeyDictionary[Any, dict[str, FollowerTracking]] = (
    weakref.WeakKeyDictionary()
)


class ReadModelRecorder:
    """The followers' tracking table (the projector's row is "Trading")."""

    @staticmethod
    def for_trading(trading: Trading, *, create_table: bool = False) -> FollowerTracking:
        return FollowerTracking.for_trading(trading, TRACKING_TABLE, create_table=create_table)
