"""Liveness timestamps for /health: one row per key in the `health` table, upserted."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, update

from projections.schema import health


class HealthWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._last_write: dict[str, float] = {}

    def set(self, key: str, value: str = "") -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            # Write first (no read-then-write): SQLite refuses a read transaction's upgrade.
            changed = conn.execute(
                update(health).where(health.c.key == key).values(value=value, updated_at=now)
            ).rowcount
            if not changed:
                conn.execute(insert(health).values(key=key, value=value, updated_at=now))
        self._last_write[key] = time.monotonic()

    def due(self, key: str, every: float = 1.0) -> bool:
        """Whether `key` was last written at least `every` seconds ago; claims the slot if so.

        Lets a stream decide on the event loop, cheaply, whether a write is needed at all.
        """
        now = time.monotonic()
        last = self._last_write.get(key)
        if last is not None and now - last < every:
            return False
        self._last_write[key] = now
        return True
