"""Read-model tables: what the web and the dashboard read. Derived from events, rebuildable.

`rm_*` tables are written only by the projector (from the Trading notification log, in the same
transaction as its tracking record) and can be dropped and rebuilt by `python -m alphaengine
replay`. `market_*` and `health` are not account state: the bot writes them directly (candles
for the chart, the latest mark price, timestamps for /health). `runtime_config` holds the
versioned runtime configuration. Decimals are stored as text so no digit is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    inspect,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateTable
from sqlalchemy.types import TypeEngine


class DecimalText(TypeDecorator[Decimal]):
    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        # `process_bind_param` alone where the text column converts nothing itself (SQLite,
        # psycopg): one call per value instead of SQLAlchemy's two.
        if self.impl_instance.dialect_impl(dialect).bind_processor(dialect) is None:
            return _decimal_text
        return super().bind_processor(dialect)


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class _SQLiteDateTimeText(sqlite.DATETIME):
    """SQLite's DATETIME in its own storage format, written by `isoformat` (one C call) instead
    of %-formatting seven fields: the same text, at a fraction of the cost of the stock bind
    processor (a rebuild binds several per event)."""

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        stock = super().bind_processor(dialect)
        assert stock is not None
        if self._storage_format != _SQLITE_STORAGE_FORMAT:
            return stock

        def process(value: Any) -> Any:
            if type(value) is datetime:
                return value.replace(tzinfo=None).isoformat(" ", "microseconds")
            return stock(value)

        return process


_SQLITE_STORAGE_FORMAT = sqlite.DATETIME._storage_format


class UTCDateTime(TypeDecorator[Any]):
    """Timezone-aware UTC in and out, also on SQLite (which stores naive text). A time given
    in another zone is stored as the same instant in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteDateTimeText())  # type: ignore[no-untyped-call]
        return dialect.type_descriptor(self.impl_instance)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware UTC")
        return value if value.tzinfo is UTC else value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        chained = super().bind_processor(dialect)
        impl = self.load_dialect_impl(dialect)
        if not isinstance(impl, _SQLiteDateTimeText) or (
            impl._storage_format != _SQLITE_STORAGE_FORMAT
        ):
            return chained
        assert chained is not None

        def process(value: Any) -> Any:
            # A UTC time (nearly every one) with microseconds: orjson writes it as
            # "2026-01-05T12:00:00.000005+00:00" (RFC 3339), which holds SQLite's text with a
            # "T" for the space, in a third of the time `isoformat` takes.
            if type(value) is datetime and value.tzinfo is UTC and value.microsecond:
                return orjson.dumps(value)[1:27].decode().replace("T", " ")
            return chained(value)

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# A notification id as a primary key. On SQLite an INTEGER PRIMARY KEY is the rowid itself: one
# B-tree to keep instead of the table's and a separate index of the key, and every other index
# of the table ends in the notification id, so a filtered feed in notification order is read
# from the index without a sort. Elsewhere a 64-bit integer.
NotificationId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()
projection_metadata = MetaData()  # only the rm_* tables: what replay drops and rebuilds

rm_orders = Table(
    "rm_orders",
    projection_metadata,
    Column("id", String(36), primary_key=True),  # the Order aggregate id
    Column("client_order_id", String(64), nullable=False, index=True),
    Column("exchange_order_id", BigInteger, nullable=True),
    Column("is_algo", Boolean, nullable=False),
    Column("origin", String(16), nullable=False),  # ENGINE | EXTERNAL
    Column("symbol", String(32), nullable=False),
    Column("side", String(8), nullable=False),
    Column("type", String(32), nullable=False),
    Column("status", String(24), nullable=False, index=True),
    Column("is_open", Boolean, nullable=False, index=True),
    Column("quantity", DecimalText, nullable=False),
    Column("price", DecimalText, nullable=False),
    Column("stop_price", DecimalText, nullable=False),
    Column("reduce_only", Boolean, nullable=False),
    Column("close_position", Boolean, nullable=False),
    Column("time_in_force", String(8), nullable=False),
    Column("executed_quantity", DecimalText, nullable=False),
    Column("average_price", DecimalText, nullable=False),
    Column("fees", DecimalText, nullable=False),
    Column("command_id", String(36), nullable=True),
    Column("parent_client_algo_id", String(64), nullable=True),
    Column("child_exchange_order_id", BigInteger, nullable=True),
    Column("reject_reason", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

rm_fills = Table(
    "rm_fills",
    projection_metadata,
    Column("symbol", String(32), primary_key=True),
    Column("trade_id", BigInteger, primary_key=True),
    Column("client_order_id", String(64), nullable=False),
    Column("exchange_order_id", BigInteger, nullable=False),
    Column("side", String(8), nullable=False),
    Column("quantity", DecimalText, nullable=False),
    Column("price", DecimalText, nullable=False),
    Column("fee", DecimalText, nullable=False),
    Column("fee_asset", String(16), nullable=False),
    Column("realized_pnl", DecimalText, nullable=False),
    Column("is_maker", Boolean, nullable=False),
    Column("time", UTCDateTime, nullable=False, index=True),
    Column("source", String(16), nullable=False),
    Column("notification_id", BigInteger, nullable=False),
)

rm_positions = Table(
    "rm_positions",
    projection_metadata,
    Column("symbol", String(32), primary_key=True),
    Column("quantity", DecimalText, nullable=False),  # signed
    Column("entry_price", DecimalText, nullable=False),
    Column("break_even_price", DecimalText, nullable=False),
    Column("realized_pnl", DecimalText, nullable=False),
    Column("fees", DecimalText, nullable=False),
    Column("leverage", Integer, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

rm_balances = Table(
    "rm_balances",
    projection_metadata,
    Column("asset", String(16), primary_key=True),
    Column("wallet_balance", DecimalText, nullable=False),
    Column("cross_wallet_balance", DecimalText, nullable=False),
    Column("available_balance", DecimalText, nullable=True),
    Column("as_of", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

rm_account = Table(
    "rm_account",
    projection_metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("realized_pnl", DecimalText, nullable=False),
    Column("fees", DecimalText, nullable=False),
    Column("funding", DecimalText, nullable=False),
    Column("transfers", DecimalText, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

rm_commands = Table(
    "rm_commands",
    projection_metadata,
    Column("id", String(36), primary_key=True),
    Column("idempotency_key", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("client_order_ids", JSON, nullable=False),
    Column("result", JSON, nullable=False),
    Column("last_error", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

rm_events = Table(
    "rm_events",
    projection_metadata,
    Column("notification_id", NotificationId, primary_key=True),
    Column("originator_id", String(36), nullable=False, index=True),
    Column("originator_version", Integer, nullable=False),
    Column("aggregate_type", String(32), nullable=False, index=True),  # Order, Position, ...
    Column("event_type", String(48), nullable=False, index=True),  # e.g. Order.Filled
    Column("source", String(16), nullable=False, index=True),
    Column("command_id", String(36), nullable=True),
    Column("correlation_id", String(36), nullable=True),
    Column("dedup_key", String(200), nullable=True),
    Column("timestamp", UTCDateTime, nullable=False, index=True),
    Column("data", JSON, nullable=False),  # the event's own fields, JSON-safe (Decimals as text)
)

rm_equity = Table(
    "rm_equity",
    projection_metadata,
    Column("notification_id", NotificationId, primary_key=True),
    Column("time", UTCDateTime, nullable=False, index=True),
    Column("wallet_balance", DecimalText, nullable=False),
    Column("realized_pnl", DecimalText, nullable=False),
    Column("fees", DecimalText, nullable=False),
    Column("position_quantity", DecimalText, nullable=False),
    Column("entry_price", DecimalText, nullable=False),
)

rm_engine = Table(
    "rm_engine",
    projection_metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("mode", String(16), nullable=False),  # RUNNING | PAUSED
    Column("reason", Text, nullable=False),
    Column("alarms", JSON, nullable=False),  # {code: {"message", "at"}}
    Column("strategy_disabled", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

market_candles = Table(
    "market_candles",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("interval", String(8), primary_key=True),
    Column("open_time", UTCDateTime, primary_key=True),
    Column("open", DecimalText, nullable=False),
    Column("high", DecimalText, nullable=False),
    Column("low", DecimalText, nullable=False),
    Column("close", DecimalText, nullable=False),
    Column("volume", DecimalText, nullable=False),
    Column("close_time", UTCDateTime, nullable=False),
)

market_marks = Table(
    "market_marks",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("mark_price", DecimalText, nullable=False),
    Column("time", UTCDateTime, nullable=False),
)

health = Table(
    "health",
    metadata,
    # Keys: bot_heartbeat, user_stream_message, market_stream_message, reconcile, ...
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

runtime_config = Table(
    "runtime_config",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("version", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# The executor's follower state (not a read model: replay never drops it). Written in the same
# transaction as the executor's tracking record (processes/command_log.py).
executor_open_commands = Table(
    "executor_open_commands",
    metadata,
    Column("command_id", String(36), primary_key=True),
    Column("notification_id", BigInteger, nullable=False),
)

PROJECTION_TABLES = list(projection_metadata.sorted_tables)

bot_stats = Table(
    "bot_stats",
    metadata,
    # The bot's in-memory exchange and stream counters (adapters/binance/metrics.py), written
    # periodically by processes/stats.py so that another process (the web's /metrics) can read
    # them. Not derived from events: replay leaves it alone.
    Column("name", String(64), primary_key=True),
    Column("value", DecimalText, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The web's sign-in state: not trading state, so the web writes it. One row per login session
# (a family of rotated refresh tokens), and one row with the token generation and a password
# set through the API.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("family", String(32), primary_key=True),
    Column("subject", String(64), nullable=False),
    Column("refresh_jti", String(32), nullable=False),  # the one refresh token still usable
    Column("generation", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),  # refreshes never extend it
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revoked_reason", String(32), nullable=True),
)

web_auth = Table(
    "web_auth",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("generation", Integer, nullable=False),  # bumped by a password change
    Column("password_hash", Text, nullable=True),
    # sha256 of the configured hash this password replaced: a new configured hash wins again.
    Column("replaces_digest", String(64), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)


def lookup_indexes() -> list[Index]:
    """The read models' indexes that only speed up lookups (none is unique): a rebuild drops
    them while it fills the tables and makes them again at the end, which costs less than
    keeping each one in order row by row."""
    return [
        index
        for table in projection_metadata.sorted_tables
        for index in sorted(table.indexes, key=lambda index: str(index.name))
        if not index.unique
    ]


def ensure_indexes(conn: Connection) -> None:
    """Make every read-model index that is missing (a rebuild that stopped half-way)."""
    for index in lookup_indexes():
        index.create(conn, checkfirst=True)


# The suffix of a read-model table a rebuild set aside, until it is dropped.
REPLACED = "__replaced"


def set_aside(conn: Connection) -> list[str]:
    """Rename each read-model table to `<name>__replaced` and make it again, empty, from the
    current schema without its lookup indexes (those stay with the old table until it is
    dropped); return the names set aside. A rename costs nothing, whatever the table holds:
    the old tables are dropped by `drop_replaced` on another connection."""
    existing = set(inspect(conn).get_table_names())
    replaced = []
    for table in projection_metadata.sorted_tables:
        old = table.name + REPLACED
        if old in existing:  # left by a rebuild that was killed: gone first
            conn.execute(text(f'DROP TABLE "{old}"'))
        if table.name in existing:
            conn.execute(text(f'ALTER TABLE "{table.name}" RENAME TO "{old}"'))
            replaced.append(old)
        conn.execute(CreateTable(table))
    return replaced


def drop_replaced(conn: Connection, names: list[str] | None = None) -> None:
    """Drop the tables a rebuild set aside (all there are, without `names`)."""
    if names is None:
        existing = set(inspect(conn).get_table_names())
        names = [
            t.name + REPLACED
            for t in projection_metadata.sorted_tables
            if t.name + REPLACED in existing
        ]
    for name in names:
        conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
