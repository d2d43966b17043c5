"""The account as it was: balances, position and open orders at a notification id or UTC time.

Rebuilt from the event store itself (not the read models): each aggregate is loaded at its last
version recorded at or before the chosen notification.

Which version that is, per aggregate, is one aggregate query on the events table (through the
recorder's own record class). The library's public API could only answer it by reading every
notification up to the chosen one, which for a long history (100,000 events) takes seconds where
the query takes milliseconds; the aggregates themselves are loaded through the repository.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from sqlalchemy import func

from aggregates import ids
from aggregates.account import Account
from aggregates.engine import Engine
from aggregates.order import Order
from aggregates.position import Position
from alphaengine.trading import Trading

ORDER_CREATED_TOPIC = get_topic(Order.Placed)  # type: ignore[attr-defined]


class TimeTravelError(ValueError):
    pass


def _records(trading: Trading) -> tuple[Any, Any]:
    recorder: Any = trading.recorder
    return recorder, recorder.events_record_cls


def notification_at(trading: Trading, at: datetime) -> int:
    """The last notification recorded at or before `at` (binary search on event timestamps)."""
    if at.tzinfo is None:
        raise TimeTravelError("the time must be timezone-aware UTC, e.g. 2026-01-01T12:00:00Z")
    high = int(trading.recorder.max_notification_id() or 0)
    low, found = 1, 0
    while low <= high:
        middle = (low + high) // 2
        batch = trading.recorder.select_notifications(middle, 1)
        if not batch:
            high = middle - 1
            continue
        notification = batch[0]
        decoded: Any = trading.mapper.to_domain_event(notification)
        timestamp: datetime = decoded.timestamp
        if timestamp <= at:
            found = notification.id
            low = notification.id + 1
        else:
            high = middle - 1
    return found


def _versions_at(trading: Trading, notification_id: int) -> dict[UUID, int]:
    recorder, record = _records(trading)
    with recorder.transaction(commit=False) as session:
        rows = (
            session.query(record.originator_id, func.max(record.originator_version))
            .filter(record.id <= notification_id)
            .group_by(record.originator_id)
            .all()
        )
    return {UUID(str(r[0])): int(r[1]) for r in rows}


def _order_ids(trading: Trading, notification_id: int) -> list[UUID]:
    recorder, record = _records(trading)
    with recorder.transaction(commit=False) as session:
        rows = (
            session.query(record.originator_id)
            .filter(record.id <= notification_id, record.topic == ORDER_CREATED_TOPIC)
            .all()
        )
    return [UUID(str(r[0])) for r in rows]


def _get(trading: Trading, aggregate_id: UUID, versions: dict[UUID, int]) -> Any:
    version = versions.get(aggregate_id)
    if version is None:
        return None
    return trading.repository.get(aggregate_id, version=version)


def state_at(trading: Trading, at: int | datetime | None = None) -> dict[str, Any]:
    last = int(trading.recorder.max_notification_id() or 0)
    if at is None:
        notification_id = last
    elif isinstance(at, datetime):
        notification_id = notification_at(trading, at)
    else:
        if at < 0:
            raise TimeTravelError(f"notification id must be >= 0, not {at}")
        notification_id = min(at, last)
    versions = _versions_at(trading, notification_id) if notification_id else {}
    scope = trading.scope
    account: Account | None = _get(trading, ids.account_id(scope), versions)
    position: Position | None = _get(trading, ids.position_id(scope), versions)
    engine: Engine | None = _get(trading, ids.engine_id(scope), versions)
    orders = [_get(trading, oid, versions) for oid in _order_ids(trading, notification_id)]
    as_of = None
    if notification_id:
        batch = trading.recorder.select_notifications(notification_id, 1)
        if batch:
            event: Any = trading.mapper.to_domain_event(batch[0])
            as_of = event.timestamp.astimezone(UTC)
    return {
        "notification_id": notification_id,
        "as_of": as_of.isoformat() if as_of else None,
        "balances": [
            {
                "asset": asset,
                "walletBalance": str(row["wallet"]),
                "crossWalletBalance": str(row["cross_wallet"]),
                "availableBalance": None if row.get("available") is None else str(row["available"]),
            }
            for asset, row in sorted((account.balances if account else {}).items())
        ],
        "position": {
            "symbol": scope.symbol,
            "positionAmt": str(position.quantity) if position else "0",
            "entryPrice": str(position.entry_price) if position else "0",
            "breakEvenPrice": str(position.break_even_price) if position else "0",
            "realizedPnl": str(position.realized_pnl) if position else "0",
            "leverage": position.leverage if position else None,
        },
        "open_orders": [
            {
                "clientOrderId": o.client_order_id,
                "orderId": o.exchange_order_id,
                "isAlgo": o.is_algo,
                "origin": o.origin,
                "side": o.side,
                "type": o.order_type,
                "status": o.status,
                "origQty": str(o.quantity),
                "price": str(o.price),
                "stopPrice": str(o.stop_price),
                "executedQty": str(o.cumulative_quantity),
                "reduceOnly": o.reduce_only,
            }
            for o in orders
            if o is not None and o.is_open
        ],
        "engine": {
            "mode": engine.mode if engine else "RUNNING",
            "reason": engine.reason if engine else "",
            "alarms": sorted(engine.alarms) if engine else [],
        },
    }
