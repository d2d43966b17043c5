"""/health: is the database reachable, how fresh are the bot's streams, how far behind the log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from projections.schema import health
from projections.tracking import projection_lag
from web.services.account import engine_state
from web.services.encoding import iso

AGE_KEYS = ("bot_heartbeat", "user_stream_message", "market_stream_message", "reconcile")
# Beyond this a stream or heartbeat counts as stale and the bot is reported not ready.
STALE_AFTER_SECONDS = 120.0


def report(conn: Connection, *, mode: str, now: datetime | None = None) -> dict[str, Any]:
    at = now or datetime.now(UTC)
    rows = {r.key: r for r in conn.execute(select(health)).all()}
    ages: dict[str, float | None] = {}
    details: dict[str, dict[str, Any]] = {}
    for key in sorted(set(AGE_KEYS) | set(rows)):
        row = rows.get(key)
        ages[key] = round((at - row.updated_at).total_seconds(), 3) if row else None
        if row is not None:
            details[key] = {"value": row.value, "updated_at": iso(row.updated_at)}
    heartbeat = ages.get("bot_heartbeat")
    bot_alive = heartbeat is not None and heartbeat <= STALE_AFTER_SECONDS
    engine = engine_state(conn)
    lag = projection_lag(conn)
    return {
        "status": "ok" if bot_alive else "degraded",
        "live": True,
        "ready": True,
        "database": "ok",
        "mode": mode,
        "engine_mode": engine["mode"],
        "bot_alive": bot_alive,
        "user_stream_age_seconds": ages.get("user_stream_message"),
        "reconcile_age_seconds": ages.get("reconcile"),
        "projection_lag": lag,
        "ages_seconds": ages,
        "checks": details,
        "time": iso(at),
    }
