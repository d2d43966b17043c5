"""What a GET's answer depends on (its stamp), and encoded answers kept by their ETag.

A read model changes only when the projector moves its tracking position, so that position
stamps every rm_* read. The bot writes the market tables (candles, the mark price) and the
runtime-config table outside the projector, so reads of those add the latest row's time or the
config version to their stamp. Equal stamp, equal answer: the ETag is a digest of the route, the
query and the stamp, and the body encoded for one tag is served again from memory for the next
request with that tag, so a dashboard polling unchanged data costs one indexed lookup.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, column, func, literal, select, table
from sqlalchemy.sql.elements import ColumnElement

from projections.schema import market_candles, market_marks, runtime_config
from projections.tracking import TRACKING_TABLE
from web.services.encoding import jsonable

APPLICATION = "Trading"
_tracking = table(TRACKING_TABLE, column("application_name"), column("notification_id"))
_events = table("trading_events", column("id"))


def projection_position() -> ColumnElement[Any]:
    """The last notification the read models include."""
    return (
        select(func.max(_tracking.c.notification_id))
        .where(_tracking.c.application_name == APPLICATION)
        .scalar_subquery()
    )


def event_store_head() -> ColumnElement[Any]:
    """The last notification in the event store (reads from the Trading app, not rm_*)."""
    return select(func.max(_events.c.id)).scalar_subquery()


def config_version() -> ColumnElement[Any]:
    return select(func.max(runtime_config.c.version)).scalar_subquery()


def mark_time(symbol: str) -> ColumnElement[Any]:
    return select(market_marks.c.time).where(market_marks.c.symbol == symbol).scalar_subquery()


def latest_candle(symbol: str, interval: str) -> ColumnElement[Any]:
    c = market_candles.c
    return (
        select(func.max(c.open_time))
        .where(c.symbol == symbol, c.interval == interval)
        .scalar_subquery()
    )


def day() -> ColumnElement[Any]:
    """For answers with a 'today' in them: the same data means something else tomorrow."""
    return literal(datetime.now(UTC).date().isoformat())


def position(conn: Connection) -> int:
    return int(conn.execute(select(projection_position())).scalar() or 0)


def stamp(conn: Connection, parts: Sequence[ColumnElement[Any]]) -> tuple[Any, ...]:
    """Every part in one SELECT: one round trip, whatever the route depends on."""
    row = conn.execute(select(*parts)).one()
    return tuple(str(value) if value is not None else None for value in row)


def etag(key: str, version: Sequence[Any]) -> str:
    digest = hashlib.blake2b(
        json.dumps([key, list(version)], default=str).encode(), digest_size=12
    ).hexdigest()
    return f'"{digest}"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """RFC 9110 If-None-Match: `*` or a list of (possibly weak) tags, compared weakly."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        value = candidate.strip()
        if value == "*" or value.removeprefix("W/") == tag:
            return True
    return False


def _money_and_time(value: Any) -> Any:
    if isinstance(value, Decimal | datetime):
        return jsonable(value)
    raise TypeError(f"{type(value).__name__} is not JSON-safe")


def encode(body: Any) -> bytes:
    return json.dumps(
        body,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_money_and_time,
    ).encode()


class ResponseCache:
    """Encoded bodies by ETag, least recently used dropped first, bounded in count and bytes."""

    def __init__(self, max_entries: int = 256, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, tag: str) -> bytes | None:
        with self._lock:
            body = self._bodies.get(tag)
            if body is not None:
                self._bodies.move_to_end(tag)
            return body

    def put(self, tag: str, body: bytes) -> None:
        if len(body) > self.max_bytes // 4:
            return  # one huge page would push everything else out
        with self._lock:
            previous = self._bodies.pop(tag, None)
            if previous is not None:
                self._bytes -= len(previous)
            self._bodies[tag] = body
            self._bytes += len(body)
            while len(self._bodies) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._bodies.popitem(last=False)
                self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._bodies)
