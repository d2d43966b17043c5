"""The bot's counters in the database: one `bot_stats` row per name, for the web's /metrics.

The exchange and stream counters live in the bot's memory (adapters/binance/metrics.py); the web
is another process, so the bot hands them over through this table, e.g. every few seconds:

    StatsWriter(engine).write(metrics)   # any Mapping[str, int | float | Decimal]

A value is the counter's current total since the bot started (a restart starts again from zero,
which Prometheus reads as a counter reset).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, insert, update

from projections.schema import bot_stats

NAME_MAX_LENGTH = 64


class StatsError(ValueError):
    """A counter name or value that cannot be stored; the message names it."""


def _value(name: str, value: int | float | Decimal) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise StatsError(f"stat {name!r}: {value!r} is not a number")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise StatsError(f"stat {name!r}: {value!r} is not a finite number")
    return number


def _checked(counters: Mapping[str, int | float | Decimal]) -> dict[str, Decimal]:
    checked: dict[str, Decimal] = {}
    for name, value in counters.items():
        if not isinstance(name, str) or not 0 < len(name) <= NAME_MAX_LENGTH:
            raise StatsError(f"stat name {name!r}: 1 to {NAME_MAX_LENGTH} characters")
        checked[name] = _value(name, value)
    return checked


class StatsWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, counters: Mapping[str, int | float | Decimal]) -> None:
        """Store every counter's current value in one transaction (all or nothing).

        Bad input (a non-numeric or non-finite value, an empty or overlong name) raises
        StatsError before anything is written.
        """
        values = _checked(counters)
        if not values:
            return
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for name, value in values.items():
                # Write first (no read-then-write): SQLite refuses a read transaction's upgrade.
                changed = conn.execute(
                    update(bot_stats)
                    .where(bot_stats.c.name == name)
                    .values(value=value, updated_at=now)
                ).rowcount
                if not changed:
                    conn.execute(insert(bot_stats).values(name=name, value=value, updated_at=now))
