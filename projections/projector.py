"""The projector: follows the Trading notification log and keeps the rm_* read models.

Each page of notifications is applied in one transaction together with its tracking record, so
the read models are never ahead of or behind the position they claim. Rows are derived from the
aggregates' own state, folded event by event (`event.mutate`), so a read model can only say what
the domain model says; a replay from zero gives the same rows.

The folded aggregates are kept between pages and between catch-ups (a bounded LRU): the
projector is the only folder, and each aggregate's next event in the log is the next version of
the aggregate it already holds. Loading an aggregate from the repository happens only when it
was never folded here (an incremental start) or was evicted. What is kept is dropped whenever
it may not match the committed read models: a page that failed to commit, or a tracking
position this projector did not write (a rebuild elsewhere).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic
from sqlalchemy import Dialect, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aggregates import ids
from aggregates.account import Account
from aggregates.command import Command
from aggregates.engine import Engine
from aggregates.order import Order
from aggregates.position import Position
from alphaengine.event_mapper import EventMapper
from alphaengine.trading import Trading
from projections import schema
from projections.event_json import event_json
from projections.jsonable import jsonable
from projections.tracking import (
    FollowerTracking,
    PositionMoved,
    ReadModelRecorder,
    projection_lag,
)

APPLICATION = "Trading"
# The aggregates with read models of their own (rm_orders, rm_positions, ...): the ones folded.
_PROJECTED = (Order, Position, Account, Command, Engine)
# How many folded aggregates are kept between pages: every singleton plus the recently active
# orders and commands. An evicted one is loaded again from the repository when its next event
# comes.
FOLDED_AGGREGATES = 4096
# How many pages a catch-up folds ahead while its writes wait (`catch_up`'s `writes_after`).
PAGES_AHEAD = 8


class _Folded:
    """The aggregates as folded through notification `through`, least recently used first.

    Keyed by the ids' integers: a UUID's hash and equality are Python methods, called several
    times per event."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.aggregates: OrderedDict[int, Any] = OrderedDict()
        self.through: int | None = None

    def get(self, key: int) -> Any:
        return self.aggregates.get(key)

    def put(self, key: int, aggregate: Any) -> None:
        self.aggregates[key] = aggregate
        self.aggregates.move_to_end(key)
        if len(self.aggregates) > self.maxsize:
            self.aggregates.popitem(last=False)

    def forget(self) -> None:
        self.aggregates.clear()
        self.through = None


# Columns an upsert writes only when it inserts the row: when a row was created is the time the
# page that created its aggregate showed, and a later page knows only the aggregate's recorded
# creation time (not the exchange's).
_KEPT = frozenset({"created_at"})


def _insert_statement(table: Table, upsert_on: str | None, dialect: Dialect) -> Any:
    """INSERT, or with `upsert_on` (the primary key) an INSERT that updates every other column
    of a row already there but the `_KEPT` ones (SQLite and PostgreSQL's ON CONFLICT DO
    UPDATE)."""
    if upsert_on is None:
        return insert(table)
    statement: sqlite.Insert | postgresql.Insert = (
        sqlite.insert(table) if dialect.name == "sqlite" else postgresql.insert(table)
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c[upsert_on]],
        set_={
            c.key: statement.excluded[c.key]
            for c in table.c
            if c.key != upsert_on and c.key not in _KEPT
        },
    )


class _Inserter:
    """An executemany INSERT of whole rows into one table, driver-level.

    Each value goes through its column type's own bind processor (public SQLAlchemy API), so the
    stored values are what `session.execute(insert(table), rows)` stores (`as_text` columns
    arrive already serialized); SQLAlchemy's own per-row parameter handling costs more than
    these conversions.
    """

    def __init__(
        self,
        table: Table,
        dialect: Dialect,
        *,
        as_text: tuple[str, ...] = (),
        upsert_on: str | None = None,
    ) -> None:
        keys = [column.key for column in table.c]
        self.columns = keys
        compiled = _insert_statement(table, upsert_on, dialect).compile(
            dialect=dialect, column_keys=keys
        )
        self.sql = str(compiled)
        self.positional = compiled.positional
        self.keys = list(compiled.positiontup or keys) if compiled.positional else keys
        self.values = itemgetter(*self.keys)
        processors = [
            None
            if key in as_text
            else table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
            for key in self.keys
        ]
        self.conversions = [(i, convert) for i, convert in enumerate(processors) if convert]

    def converter(self, key: str) -> Callable[[Any], Any] | None:
        """What `insert` does to a value of column `key` (None: nothing), for `insert_values`."""
        processors = dict(self.conversions)
        return processors.get(self.keys.index(key))

    def value_params(self, rows: Sequence[tuple[Any, ...]]) -> Sequence[Any]:
        """The parameters of rows given as tuples in the table's column order, each value
        already what the driver takes (see `converter`): no dictionary and no conversion pass
        per row."""
        if self.positional and self.keys == self.columns:
            return rows
        columns, keys = self.columns, self.keys
        named = [dict(zip(columns, row, strict=True)) for row in rows]
        return [tuple(r[k] for k in keys) for r in named] if self.positional else named

    def params(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """The parameters of rows given as dictionaries, through each column's conversion."""
        values, conversions, keys = self.values, self.conversions, self.keys
        params: list[Any] = []
        for row in rows:
            converted = list(values(row))
            for i, convert in conversions:
                converted[i] = convert(converted[i])
            params.append(
                tuple(converted) if self.positional else dict(zip(keys, converted, strict=True))
            )
        return params

    def run(self, session: Session, params: Sequence[Any]) -> None:
        if params:
            session.connection().exec_driver_sql(self.sql, params)


class Projector:
    def __init__(
        self,
        trading: Trading,
        recorder: FollowerTracking,
        *,
        folded_aggregates: int = FOLDED_AGGREGATES,
    ) -> None:
        self.trading = trading
        self.recorder = recorder
        self._lock = threading.Lock()
        self._folded = _Folded(folded_aggregates)
        self._position_key = ids.position_id(trading.scope).int
        dialect = trading.recorder.datastore.engine.dialect  # type: ignore[attr-defined]
        self._inserters = {
            # rm_events.data arrives as JSON text (projections/event_json.py).
            "rm_events": _Inserter(schema.rm_events, dialect, as_text=("data",)),
            "rm_fills": _Inserter(schema.rm_fills, dialect),
            "rm_equity": _Inserter(schema.rm_equity, dialect),
        }
        if self._inserters["rm_events"].columns != _EVENT_COLUMNS:
            raise RuntimeError("rm_events' columns changed: update _EventRows.row to match")
        self._event_rows = _EventRows(self._inserters["rm_events"].converter("timestamp"))
        # Each page's rows of the tables with a row per aggregate (or asset): one executemany
        # that inserts or updates (`_Batch.prepare`).
        self._upserters = (
            {table.name: _Inserter(table, dialect, upsert_on=key) for table, key in _UPSERTED}
            if dialect.name in ("sqlite", "postgresql")
            else {}
        )

    @classmethod
    def for_trading(cls, trading: Trading) -> Projector:
        return cls(trading, ReadModelRecorder.for_trading(trading))

    def position(self) -> int:
        return self.recorder.position(APPLICATION)

    def lag(self) -> int:
        with self.recorder.datastore.engine.connect() as conn:  # type: ignore[union-attr]
            return projection_lag(conn)

    def catch_up(
        self,
        batch_size: int = 500,
        progress: Callable[[int], None] | None = None,
        *,
        writes_after: threading.Event | None = None,
    ) -> int:
        """Apply every notification not applied yet, a page per transaction; return how many.

        A page is decoded and folded, and its rows made, before its transaction begins: the
        write lock the bot's own commits wait for is held only while the rows are written.
        With `writes_after`, pages are folded ahead (up to `PAGES_AHEAD`) until it is set, then
        written in order: a rebuild folds its first pages while the old tables are dropped.
        """
        with self._lock:
            ahead: list[_Page] = []  # folded, not written yet
            try:
                return self._follow(batch_size, progress, writes_after, ahead)
            finally:
                if ahead:  # never written: what was folded is ahead of the position
                    self._folded.forget()

    def _follow(
        self,
        batch_size: int,
        progress: Callable[[int], None] | None,
        writes_after: threading.Event | None,
        ahead: list[_Page],
    ) -> int:
        processed = 0
        while True:
            # Where this projector stopped (or the last page folded ahead stops); read from the
            # tracking table only when it has not projected yet (or forgot what it folded).
            position = ahead[-1].through if ahead else self._folded.through
            if position is None:
                position = self.position()
            notifications = self._select(position + 1, batch_size)
            if notifications:
                ahead.append(self._prepare(notifications, position))
            last = len(notifications) < batch_size
            if writes_after is not None and not writes_after.is_set():
                if not last and len(ahead) < PAGES_AHEAD:
                    continue
                writes_after.wait()
            try:
                while ahead:
                    self._write(ahead[0])
                    page = ahead.pop(0)
                    processed += page.count
                    if progress is not None:
                        progress(page.count)
            except PositionMoved:
                # Another writer moved the position: go on from where it is.
                ahead.clear()
                continue
            if last:
                return processed

    def _select(self, start: int, limit: int) -> Sequence[Notification]:
        return self.trading.recorder.select_notifications(start, limit)

    def _domain_events(self, notifications: Sequence[Notification]) -> Sequence[Any]:
        mapper = self.trading.mapper
        if isinstance(mapper, EventMapper):
            return mapper.to_domain_events(notifications)
        return [mapper.to_domain_event(notification) for notification in notifications]

    def _prepare(self, notifications: Sequence[Notification], position: int) -> _Page:
        batch = _Batch(
            self.trading,
            self._folded,
            self._position_key,
            self._inserters,
            self._upserters,
            self._event_rows,
        )
        try:
            events = self._domain_events(notifications)
            for notification, domain_event in zip(notifications, events, strict=True):
                batch.apply(notification.id, domain_event)
            writes = batch.prepare()
        except BaseException:
            # What this page folded was not committed.
            self._folded.forget()
            raise
        return _Page(position, notifications[-1].id, len(notifications), writes)

    def _write(self, page: _Page) -> None:
        try:
            self.recorder.write(APPLICATION, page.through, page.writes.run, expected=page.expected)
        except BaseException:
            # The folds of this page were not committed (or describe another position).
            self._folded.forget()
            raise
        self._folded.through = page.through


class _Page:
    """A page folded and made ready: committed with the projector's position moved from
    `expected` to `through`."""

    def __init__(self, expected: int, through: int, count: int, writes: _Writes) -> None:
        self.expected = expected
        self.through = through
        self.count = count
        self.writes = writes


class _Writes:
    """A page's writes, every value already what the driver takes: made from the folded
    aggregates before the transaction, run inside it."""

    def __init__(self, inserters: dict[str, _Inserter]) -> None:
        self.inserters = inserters
        # Realized PnL booked on fills written by earlier pages: trade id, PnL.
        self.realized_pnl: list[tuple[int, Decimal]] = []
        # Equity points whose position is the one committed before this page (the position was
        # not folded when they came): completed from rm_positions inside the transaction.
        self.equity_from_table: list[dict[str, Any]] = []
        # Upserts where the dialect has none: the rows, per table and key.
        self.upsert_rows: list[tuple[Table, str, dict[Any, dict[str, Any]]]] = []
        # In order: the upserts, then rm_events, rm_fills and rm_equity.
        self.statements: list[tuple[_Inserter, Sequence[Any]]] = []

    def run(self, session: Session) -> None:
        statements = list(self.statements)
        if self.equity_from_table:
            row = session.execute(
                select(schema.rm_positions.c.quantity, schema.rm_positions.c.entry_price)
            ).first()
            quantity, entry = (row[0], row[1]) if row else (Decimal(0), Decimal(0))
            for equity in self.equity_from_table:
                equity["position_quantity"], equity["entry_price"] = quantity, entry
            inserter = self.inserters["rm_equity"]
            statements.append((inserter, inserter.params(self.equity_from_table)))
        for trade_id, realized_pnl in self.realized_pnl:
            session.execute(
                update(schema.rm_fills)
                .where(schema.rm_fills.c.trade_id == trade_id)
                .values(realized_pnl=realized_pnl)
            )
        for table, key, rows in self.upsert_rows:
            _select_update_insert(session, table, key, rows)
        for inserter, params in statements:
            inserter.run(session, params)


def _select_update_insert(
    session: Session, table: Table, key: str, rows: dict[Any, dict[str, Any]]
) -> None:
    # One SELECT of the keys present, then one executemany UPDATE and one INSERT.
    column = table.c[key]
    present = set(session.execute(select(column).where(column.in_(list(rows)))).scalars())
    updates = [
        {**{c: v for c, v in row.items() if c not in _KEPT}, "_key": k}
        for k, row in rows.items()
        if k in present
    ]
    inserts = [row for k, row in rows.items() if k not in present]
    if updates:
        session.execute(update(table).where(column == bindparam("_key")), updates)
    if inserts:
        session.execute(insert(table), inserts)


class _Batch:
    """Folds one page's events into aggregates and prepares each touched row's write once."""

    def __init__(
        self,
        trading: Trading,
        folded: _Folded,
        position_key: int,
        inserters: dict[str, _Inserter],
        upserters: dict[str, _Inserter],
        event_rows: _EventRows,
    ) -> None:
        self.trading = trading
        self.inserters = inserters
        self.upserters = upserters
        self.event_rows = event_rows
        self.folded = folded
        self.position_key = position_key
        self.writes = _Writes(inserters)
        # Keyed by the aggregate id's integer, as `_Folded`.
        self.dirty: dict[int, tuple[Any, datetime]] = {}
        self.created: dict[int, datetime] = {}
        # Append-only rows, written with one executemany per table at the end of the page:
        # compiling an INSERT per row costs more than the database work itself.
        self.equity: list[dict[str, Any]] = []
        # rm_events rows as the driver takes them (`_EventRows`).
        self.events: list[tuple[Any, ...]] = []
        self.fills: dict[int, dict[str, dict[str, Any]]] = {}  # trade id -> symbol -> row
        self.upserts: dict[str, tuple[Table, str, dict[Any, dict[str, Any]]]] = {}

    def _fold(self, domain_event: Any, at: datetime) -> Any:
        """The aggregate after this event; None for a new aggregate of a kind without read
        models of its own (a fact's index entry: one per fill), which is never loaded again."""
        aggregate_id = domain_event.originator_id
        key = aggregate_id.int
        version = domain_event.originator_version
        aggregate = None
        if version > 1:
            touched = self.dirty.get(key)
            aggregate = touched[0] if touched else self.folded.get(key)
            if aggregate is None or aggregate.version != version - 1:
                aggregate = self.trading.repository.get(aggregate_id, version=version - 1)
        elif not issubclass(resolve_topic(domain_event.originator_topic), _PROJECTED):
            return None
        else:
            self.created[key] = at
        aggregate = domain_event.mutate(aggregate)
        self.folded.put(key, aggregate)
        self.dirty[key] = (aggregate, at)
        return aggregate

    def apply(self, notification_id: int, domain_event: Any) -> None:
        at = shown_time(domain_event)
        aggregate = self._fold(domain_event, at)
        kind = (
            type(aggregate).__name__
            if aggregate is not None
            else resolve_topic(domain_event.originator_topic).__name__
        )
        self.events.append(self.event_rows.row(notification_id, domain_event, kind, at))
        if aggregate is None:
            return
        name = type(domain_event).__name__
        if name == "Filled" and isinstance(aggregate, Order):
            row = _fill_row(notification_id, domain_event, aggregate)
            self.fills.setdefault(row["trade_id"], {})[row["symbol"]] = row
        if isinstance(aggregate, Account):
            if name == "FillBooked":
                self._book_realized_pnl(domain_event.trade_id, domain_event.realized_pnl)
            if name != "Opened":
                self.equity.append(self._equity_row(notification_id, domain_event, aggregate))

    def _book_realized_pnl(self, trade_id: int, realized_pnl: Decimal) -> None:
        # The fill's realized PnL is the position's netting result, booked with the fill: in
        # this batch's pending row, or in the row an earlier batch wrote.
        pending = self.fills.get(trade_id, {})
        for row in pending.values():
            row["realized_pnl"] = realized_pnl
        if not pending:
            self.writes.realized_pnl.append((trade_id, realized_pnl))

    def _equity_row(
        self, notification_id: int, domain_event: Any, account: Account
    ) -> dict[str, Any]:
        # The position as of this notification: folded in this batch, or the row as the
        # previous batch left it (never the live aggregate, which may already be further on).
        touched = self.dirty.get(self.position_key)
        position = touched[0] if touched else self.folded.get(self.position_key)
        row = {
            "notification_id": notification_id,
            "time": shown_time(domain_event),
            "wallet_balance": account.wallet_balance("USDT"),
            "realized_pnl": account.realized_pnl,
            "fees": account.fees,
            "position_quantity": None,
            "entry_price": None,
        }
        if position is not None:
            row["position_quantity"], row["entry_price"] = position.quantity, position.entry_price
        else:
            self.writes.equity_from_table.append(row)
        return row

    def prepare(self) -> _Writes:
        """The page's writes, with every touched aggregate's row as it is now."""
        for aggregate, at in self.dirty.values():
            if isinstance(aggregate, Order):
                self._upsert(schema.rm_orders, "id", self._order_row(aggregate, at))
            elif isinstance(aggregate, Position):
                self._upsert(schema.rm_positions, "symbol", _position_row(aggregate, at))
            elif isinstance(aggregate, Account):
                self._write_account(aggregate, at)
            elif isinstance(aggregate, Command):
                self._upsert(schema.rm_commands, "id", self._command_row(aggregate, at))
            elif isinstance(aggregate, Engine):
                self._upsert(schema.rm_engine, "id", _engine_row(aggregate, at))
        writes = self.writes
        for table, key, rows in self.upserts.values():
            upserter = self.upserters.get(table.name)
            if upserter is not None:
                writes.statements.append((upserter, upserter.params(list(rows.values()))))
            else:
                writes.upsert_rows.append((table, key, rows))
        events, fills, equity = (self.inserters[name] for name in _APPENDED)
        writes.statements.append((events, events.value_params(self.events)))
        fill_rows = [row for rows in self.fills.values() for row in rows.values()]
        writes.statements.append((fills, fills.params(fill_rows)))
        # An equity point waiting for the committed position is converted once it has it.
        ready = [row for row in self.equity if row["position_quantity"] is not None]
        writes.statements.append((equity, equity.params(ready)))
        return writes

    def _created_at(self, aggregate: Aggregate, fallback: datetime) -> datetime:
        created = self.created.get(aggregate.id.int)
        if created is not None:
            return created
        return aggregate.created_on if aggregate.created_on else fallback

    def _order_row(self, order: Order, at: datetime) -> dict[str, Any]:
        return {
            "id": str(order.id),
            "client_order_id": order.client_order_id,
            "exchange_order_id": order.exchange_order_id,
            "is_algo": order.is_algo,
            "origin": order.origin,
            "symbol": order.symbol,
            "side": order.side,
            "type": order.order_type,
            "status": order.status,
            "is_open": order.is_open,
            "quantity": order.quantity,
            "price": order.price,
            "stop_price": order.stop_price,
            "reduce_only": order.reduce_only,
            "close_position": order.close_position,
            "time_in_force": order.time_in_force,
            "executed_quantity": order.cumulative_quantity,
            "average_price": order.average_price,
            "fees": order.fees,
            "command_id": str(order.command_id) if order.command_id else None,
            "parent_client_algo_id": order.parent_client_algo_id,
            "child_exchange_order_id": order.child_exchange_order_id,
            "reject_reason": order.reject_reason,
            "created_at": self._created_at(order, at),
            "updated_at": at,
        }

    def _command_row(self, command: Command, at: datetime) -> dict[str, Any]:
        return {
            "id": str(command.id),
            "idempotency_key": command.idempotency_key,
            "kind": command.kind,
            "payload": jsonable(command.payload),
            "actor_type": command.actor_type,
            "actor_id": command.actor_id,
            "priority": command.priority,
            "status": command.status,
            "client_order_ids": list(command.client_order_ids),
            "result": jsonable(command.result),
            "last_error": jsonable(command.last_error),
            "reason": command.reason,
            "created_at": self._created_at(command, at),
            "updated_at": at,
        }

    def _write_account(self, account: Account, at: datetime) -> None:
        for asset, row in account.balances.items():
            self._upsert(
                schema.rm_balances,
                "asset",
                {
                    "asset": asset,
                    "wallet_balance": row["wallet"],
                    "cross_wallet_balance": row["cross_wallet"],
                    "available_balance": row.get("available"),
                    "as_of": row["as_of"],
                    "updated_at": at,
                },
            )
        self._upsert(
            schema.rm_account,
            "id",
            {
                "id": 1,
                "realized_pnl": account.realized_pnl,
                "fees": account.fees,
                "funding": account.funding,
                "transfers": account.transfers,
                "updated_at": at,
            },
        )

    def _upsert(self, table: Table, key: str, row: dict[str, Any]) -> None:
        self.upserts.setdefault(table.name, (table, key, {}))[2][row[key]] = row


# The tables with a row per aggregate (or asset), and their keys.
_UPSERTED = (
    (schema.rm_orders, "id"),
    (schema.rm_positions, "symbol"),
    (schema.rm_balances, "asset"),
    (schema.rm_account, "id"),
    (schema.rm_commands, "id"),
    (schema.rm_engine, "id"),
)
# The append-only tables, in the order they are written.
_APPENDED = ("rm_events", "rm_fills", "rm_equity")


def _position_row(position: Position, at: datetime) -> dict[str, Any]:
    return {
        "symbol": position.symbol,
        "quantity": position.quantity,
        "entry_price": position.entry_price,
        "break_even_price": position.break_even_price,
        "realized_pnl": position.realized_pnl,
        "fees": position.fees,
        "leverage": position.leverage,
        "updated_at": at,
    }


def _engine_row(engine: Engine, at: datetime) -> dict[str, Any]:
    return {
        "id": 1,
        "mode": engine.mode,
        "reason": engine.reason,
        "alarms": jsonable(engine.alarms),
        "strategy_disabled": engine.strategy_disabled,
        "updated_at": at,
    }


def _fill_row(notification_id: int, event: Any, order: Order) -> dict[str, Any]:
    envelope = event.envelope
    return {
        "symbol": order.symbol,
        "trade_id": event.trade_id,
        "client_order_id": order.client_order_id,
        "exchange_order_id": event.exchange_order_id,
        "side": order.side,
        "quantity": event.quantity,
        "price": event.price,
        "fee": event.fee,
        "fee_asset": event.fee_asset,
        "realized_pnl": Decimal(0),
        "is_maker": event.is_maker,
        "time": event.time,
        "source": envelope.source,
        "notification_id": notification_id,
    }


def shown_time(event: Any) -> datetime:
    """When a person sees the event happen: by the exchange's clock when the recorder knew it
    (the bot does), else when it was recorded."""
    envelope = getattr(event, "envelope", None)
    at: datetime | None = envelope.exchange_time if envelope is not None else None
    if at is None:
        at = event.timestamp
    assert at is not None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


_SKIP = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "envelope"}
)
# The order of `_EventRows.row`'s tuple: rm_events' columns (checked when a projector is made).
_EVENT_COLUMNS = [
    "notification_id",
    "originator_id",
    "originator_version",
    "aggregate_type",
    "event_type",
    "source",
    "command_id",
    "correlation_id",
    "dedup_key",
    "timestamp",
    "data",
]


_NO_ENVELOPE = object()


class _EventRows:
    """rm_events rows, in the table's column order, as the driver takes them: the timestamp
    through its column's conversion, the data as JSON text.

    What recurs is converted once: an id's text, an event class's type name, and what the
    events of one fact share (the same envelope object, the same shown time; both immutable).
    """

    def __init__(self, bind_time: Callable[[Any], Any] | None) -> None:
        self.bind_time = bind_time
        self.text = _IdTexts()
        self.types: dict[tuple[str, type], str] = {}
        self._envelope: tuple[Any, tuple[Any, ...]] = (_NO_ENVELOPE, ())
        self._time: tuple[Any, Any] = (None, None)

    def row(
        self, notification_id: int, event: Any, aggregate_type: str, timestamp: datetime
    ) -> tuple[Any, ...]:
        envelope: Any = getattr(event, "envelope", None)
        last = self._envelope
        if envelope is last[0]:
            shared = last[1]
        elif envelope is None:
            shared = ("BOT", None, None, None)
        else:
            shared = (
                envelope.source,
                self.text(envelope.command_id) if envelope.command_id else None,
                self.text(envelope.correlation_id),
                envelope.dedup_key,
            )
            self._envelope = (envelope, shared)
        time = self._time
        if timestamp is not time[0]:
            bound = self.bind_time(timestamp) if self.bind_time else timestamp
            time = self._time = (timestamp, bound)
        kind = type(event)
        event_type = self.types.get((aggregate_type, kind))
        if event_type is None:
            event_type = self.types[aggregate_type, kind] = f"{aggregate_type}.{kind.__name__}"
        return (
            notification_id,
            self.text(event.originator_id),
            event.originator_version,
            aggregate_type,
            event_type,
            *shared,
            time[1],
            event_json(event.__dict__, skip=_SKIP),
        )


class _IdTexts:
    """`str(uuid)` of the ids that recur on many events (an aggregate's, a correlation's)."""

    def __init__(self, maxsize: int = 65536) -> None:
        self.maxsize = maxsize
        self.texts: dict[int, str] = {}

    def __call__(self, value: Any) -> str:
        key = value.int
        text = self.texts.get(key)
        if text is None:
            if len(self.texts) >= self.maxsize:
                self.texts.clear()
            text = self.texts[key] = str(value)
        return text
