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
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, TextClause, text

from projections.tracking import TRACKING_TABLE
from web.services.encoding import jsonable

APPLICATION = "Trading"


@dataclass(frozen=True)
class Part:
    """One thing an answer depends on: a scalar subquery and its parameters."""

    sql: str
    params: tuple[tuple[str, Any], ...] = ()


# Plain SQL, each an indexed lookup: built once, so a stamp costs no statement construction.
PROJECTION_POSITION = Part(
    f"(SELECT max(notification_id) FROM {TRACKING_TABLE} WHERE application_name = '{APPLICATION}')"
)
EVENT_STORE_HEAD = Part("(SELECT max(id) FROM trading_events)")
CONFIG_VERSION = Part("(SELECT max(version) FROM runtime_config)")


def projection_position() -> Part:
    """The last notification the read models include."""
    return PROJECTION_POSITION


def event_store_head() -> Part:
    """The last notification in the event store (reads from the Trading app, not rm_*)."""
    return EVENT_STORE_HEAD


def config_version() -> Part:
    return CONFIG_VERSION


def mark_time(symbol: str) -> Part:
    return Part(
        "(SELECT time FROM market_marks WHERE symbol = :mark_symbol)", (("mark_symbol", symbol),)
    )


def latest_candle(symbol: str, interval: str) -> Part:
    return Part(
        "(SELECT max(open_time) FROM market_candles"
        ' WHERE symbol = :candle_symbol AND "interval" = :candle_interval)',
        (("candle_symbol", symbol), ("candle_interval", interval)),
    )


def day() -> Part:
    """For answers with a 'today' in them: the same data means something else tomorrow."""
    return Part("(:utc_day)", (("utc_day", datetime.now(UTC).date().isoformat()),))


def position(conn: Connection) -> int:
    return int(conn.execute(text(PROJECTION_POSITION.sql.strip("()"))).scalar() or 0)


_statements: dict[tuple[str, ...], TextClause] = {}


def stamp(conn: Connection, parts: Sequence[Part]) -> tuple[Any, ...]:
    """Every part in one SELECT: one round trip, whatever the route depends on."""
    key = tuple(part.sql for part in parts)
    statement = _statements.get(key)
    if statement is None:
        statement = _statements.setdefault(key, text("SELECT " + ", ".join(key)))
    params = {name: value for part in parts for name, value in part.params}
    row = conn.execute(statement, params).one()
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
