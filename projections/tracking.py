"""Tracking for read-model followers: read-model writes and the tracking record in one transaction.

Follows the library's pattern for materialised views: a tracking recorder subclass whose write
method takes the tracking position, so a crash can never leave a read model ahead of (or behind)
the notification it was built from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing_sqlalchemy.recorders import SQLAlchemyTrackingRecorder
from sqlalchemy.orm import Session

from alphaengine.trading import Trading

TRACKING_TABLE = "projections_tracking"


class ReadModelRecorder(SQLAlchemyTrackingRecorder):
    @classmethod
    def for_trading(cls, trading: Trading, *, create_table: bool = False) -> ReadModelRecorder:
        datastore = trading.recorder.datastore  # type: ignore[attr-defined]
        recorder = cls(datastore=datastore, tracking_table_name=TRACKING_TABLE)
        if create_table:
            recorder.create_table()
        return recorder

    def position(self, application_name: str) -> int:
        return int(self.max_tracking_id(application_name) or 0)

    def write(self, apply: Callable[[Session], Any], tracking: Tracking) -> None:
        """Run `apply` (read-model writes) and record `tracking`, committed together."""
        with self.transaction(commit=True) as session:
            # Tracking first: it takes the write lock before any read happens in `apply`.
            self._insert_tracking(session, tracking)
            apply(session)
