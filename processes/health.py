"""Liveness timestamps for /health: one row per key in the `health` table, upserted.

`set` writes at once. `note` only remembers (cheap, on the event loop) and a background writer
`flush`es what was noted, all keys in one transaction: a write of the shared database while a
candle's decision commits makes that commit wait for the lock (SQLite's busy handler sleeps a
millisecond or more), so the writers that run beside the decision path note instead.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, update

from projections.schema import health


class HealthWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._last_write: dict[str, float] = {}
        self._noted: dict[str, tuple[str, datetime]] = {}

    def set(self, key: str, value: str = "") -> None:
        self._write({key: (value, datetime.now(UTC))})
        self._last_write[key] = time.monotonic()

    def note(self, key: str, value: str = "") -> None:
        """Remember `key` as alive now; written by the next `flush`."""
        self._noted[key] = (value, datetime.now(UTC))

    def flush(self) -> None:
        """Write what was noted since the last flush (call it off the event loop)."""
        noted, self._noted = self._noted, {}
        if noted:
            self._write(noted)

    def _write(self, rows: dict[str, tuple[str, datetime]]) -> None:
        with self.engine.begin() as conn:
            for key, (value, at) in rows.items():
                # Write first (no read-then-write): SQLite refuses a read transaction's upgrade.
                changed = conn.execute(
                    update(health).where(health.c.key == key).values(value=value, updated_at=at)
                ).rowcount
                if not changed:
                    conn.execute(insert(health).values(key=key, value=value, updated_at=at))

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
