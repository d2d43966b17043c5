"""The projector: follows the Trading notification log and keeps the rm_* read models.

Each batch of notifications is applied in one transaction together with its tracking record,
so the read models are never ahead of or behind the position they claim. Rows are derived from
the aggregates' own state, folded event by event (`event.mutate`), so a read model can only say
what the domain model says; a replay from zero gives the same rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from aggregates.account import Account
from aggregates.command import Command
from aggregates.engine import Engine
from aggregates.order import Order
from aggregates.position import Position
from alphaengine.trading import Trading
from projections import schema
from projections.jsonable import jsonable
from projections.tracking import FollowerTracking, ReadModelRecorder, projection_lag

APPLICATION = "Trading"


class Projector:
    def __init__(self, trading: Trading, recorder: FollowerTracking) -> None:
        self.trading = trading
        self.recorder = recorder
        self._lock = threading.Lock()

    @classmethod
    def for_trading(cls, trading: Trading) -> Projector:
        return cls(trading, ReadModelRecorder.for_trading(trading))

    def position(self) -> int:
        return self.recorder.position(APPLICATION)

    def lag(self) -> int:
        with self.recorder.datastore.engine.connect() as conn:  # type: ignore[union-attr]
            return projection_lag(conn)

    def catch_up(self, batch_size: int = 500, progress: Callable[[int], None] | None = None) -> int:
        processed = 0
        with self._lock:
            while True:
                start = self.position() + 1
                notifications = self.trading.recorder.select_notifications(start, batch_size)
                if not notifications:
                    return processed
                self._apply_batch(notifications)
                processed += len(notifications)
                if progress is not None:
                    progress(len(notifications))
                if len(notifications) < batch_size:
                    return processed

    def _apply_batch(self, notifications: Sequence[Notification]) -> None:
        events = [self.trading.mapper.to_domain_event(n) for n in notifications]

        def apply(session: Session) -> None:
            batch = _Batch(self.trading, session)
            for notification, domain_event in zip(notifications, events, strict=True):
                batch.apply(notification.id, domain_event)
            batch.flush()

        self.recorder.write(APPLICATION, notifications[-1].id, apply)


class _Batch:
    """Folds one batch's events into aggregates and writes each touched row once."""

    def __init__(self, trading: Trading, session: Session) -> None:
        self.trading = trading
        self.session = session
        self.aggregates: dict[UUID, Any] = {}
        self.dirty: dict[UUID, datetime] = {}
        self.created: dict[UUID, datetime] = {}
        # Append-only rows, written with one executemany per table at the end of the batch:
        # compiling an INSERT per row costs more than the database work itself.
        self.rows: dict[str, list[dict[str, Any]]] = {"rm_events": [], "rm_equity": []}
        self.fills: dict[tuple[str, int], dict[str, Any]] = {}
        self.upserts: dict[str, tuple[Table, str, dict[Any, dict[str, Any]]]] = {}

    def _fold(self, domain_event: Any) -> Any:
        aggregate_id = domain_event.originator_id
        aggregate = self.aggregates.get(aggregate_id)
        if aggregate is None and domain_event.originator_version > 1:
            aggregate = self.trading.repository.get(
                aggregate_id, version=domain_event.originator_version - 1
            )
        aggregate = domain_event.mutate(aggregate)
        self.aggregates[aggregate_id] = aggregate
        if domain_event.originator_version == 1:
            self.created[aggregate_id] = domain_event.timestamp
        return aggregate

    def apply(self, notification_id: int, domain_event: Any) -> None:
        aggregate = self._fold(domain_event)
        self.dirty[aggregate.id] = domain_event.timestamp
        self.rows["rm_events"].append(_event_row(notification_id, domain_event, aggregate))
        name = type(domain_event).__name__
        if isinstance(aggregate, Order) and name == "Filled":
            row = _fill_row(notification_id, domain_event, aggregate)
            self.fills[(row["symbol"], row["trade_id"])] = row
        if isinstance(aggregate, Account) and name == "FillBooked":
            self._book_realized_pnl(domain_event.trade_id, domain_event.realized_pnl)
        if isinstance(aggregate, Account) and name != "Opened":
            self.rows["rm_equity"].append(
                self._equity_row(notification_id, domain_event, aggregate)
            )

    def _book_realized_pnl(self, trade_id: int, realized_pnl: Decimal) -> None:
        # The fill's realized PnL is the position's netting result, booked with the fill: in
        # this batch's pending row, or in the row an earlier batch wrote.
        pending = [row for key, row in self.fills.items() if key[1] == trade_id]
        for row in pending:
            row["realized_pnl"] = realized_pnl
        if not pending:
            self.session.execute(
                update(schema.rm_fills)
                .where(schema.rm_fills.c.trade_id == trade_id)
                .values(realized_pnl=realized_pnl)
            )

    def _equity_row(
        self, notification_id: int, domain_event: Any, account: Account
    ) -> dict[str, Any]:
        # The position as of this notification: folded in this batch, or the row as the
        # previous batch left it (never the live aggregate, which may already be further on).
        position = self.aggregates.get(_position_id(self.trading))
        if position is not None:
            quantity, entry = position.quantity, position.entry_price
        else:
            row = self.session.execute(
                select(schema.rm_positions.c.quantity, schema.rm_positions.c.entry_price)
            ).first()
            quantity, entry = (row[0], row[1]) if row else (Decimal(0), Decimal(0))
        return {
            "notification_id": notification_id,
            "time": domain_event.timestamp,
            "wallet_balance": account.wallet_balance("USDT"),
            "realized_pnl": account.realized_pnl,
            "fees": account.fees,
            "position_quantity": quantity,
            "entry_price": entry,
        }

    def flush(self) -> None:
        for aggregate_id, at in self.dirty.items():
            aggregate = self.aggregates[aggregate_id]
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
        self._write_upserts()
        for table, rows in (
            (schema.rm_events, self.rows["rm_events"]),
            (schema.rm_fills, list(self.fills.values())),
            (schema.rm_equity, self.rows["rm_equity"]),
        ):
            if rows:
                self.session.execute(insert(table), rows)

    def _created_at(self, aggregate: Aggregate, fallback: datetime) -> datetime:
        created = self.created.get(aggregate.id)
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

    def _write_upserts(self) -> None:
        # One SELECT of the keys present, then one executemany UPDATE and one INSERT per table.
        for table, key, rows in self.upserts.values():
            column = table.c[key]
            present = set(
                self.session.execute(select(column).where(column.in_(list(rows)))).scalars()
            )
            updates = [{**row, "_key": k} for k, row in rows.items() if k in present]
            inserts = [row for k, row in rows.items() if k not in present]
            if updates:
                self.session.execute(update(table).where(column == bindparam("_key")), updates)
            if inserts:
                self.session.execute(insert(table), inserts)


def _position_id(trading: Trading) -> UUID:
    from aggregates import ids

    return ids.position_id(trading.scope)


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


_SKIP = {"originator_id", "originator_version", "timestamp", "originator_topic", "envelope"}


def _event_row(notification_id: int, event: Any, aggregate: Any) -> dict[str, Any]:
    envelope = getattr(event, "envelope", None)
    data = {k: jsonable(v) for k, v in event.__dict__.items() if k not in _SKIP}
    timestamp = event.timestamp if event.timestamp.tzinfo else event.timestamp.replace(tzinfo=UTC)
    return {
        "notification_id": notification_id,
        "originator_id": str(event.originator_id),
        "originator_version": event.originator_version,
        "aggregate_type": type(aggregate).__name__,
        "event_type": f"{type(aggregate).__name__}.{type(event).__name__}",
        "source": envelope.source if envelope is not None else "BOT",
        "command_id": str(envelope.command_id) if envelope and envelope.command_id else None,
        "correlation_id": str(envelope.correlation_id) if envelope else None,
        "dedup_key": envelope.dedup_key if envelope is not None else None,
        "timestamp": timestamp,
        "data": data,
    }
