"""Aggregates a write path keeps between calls, so its next call needs neither a load nor a copy.

The repository hands out a deep copy of its cached aggregate on every read (about 0.15 ms for a
Position with its recent fills), after a query to fast-forward it. A write path that saved an
aggregate already holds the stored state at the saved version: it keeps that object here and,
next time, takes it back when one query of the latest versions says it is still current
(`LatestVersions`).

An object is either here or owned by exactly one caller (`take` removes it), never shared: a
caller that fails to save simply does not give it back, and an object with unsaved events is
refused, so what is kept is always some stored version of its aggregate.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import Aggregate

# The singletons plus the recently filled orders.
WORKING_COPIES = 256


class WorkingCopies:
    def __init__(self, maxsize: int = WORKING_COPIES) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, aggregate_id: UUID, version: int) -> Aggregate | None:
        """The kept object if it is at `version` (the stored latest); it is the caller's now."""
        with self._lock:
            kept = self._items.pop(aggregate_id, None)
        return kept if kept is not None and kept.version == version else None

    def give_back(self, aggregates: Iterable[Aggregate]) -> None:
        """Keep objects that are stored state: saved, or read and left unchanged."""
        with self._lock:
            for aggregate in aggregates:
                if aggregate.pending_events:
                    continue
                self._items[aggregate.id] = aggregate
                self._items.move_to_end(aggregate.id)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
