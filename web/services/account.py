"""Account reads for the dashboard: balance, position and PnL, orders, fills, candles, equity.

All from the read models (rm_*) the projector maintains and the market tables the bot writes;
the web never asks the exchange and never writes trading state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, select

from projections.schema import (
    market_candles,
    market_marks,
    rm_balances,
    rm_engine,
    rm_equity,
    rm_events,
    rm_fills,
    rm_orders,
    rm_positions,
)
from web.services.config import shown_config
from web.services.encoding import iso, jsonable, jsonable_dict, row_dict

QUOTE_ASSET = "USDT"
PROTECTIVE_TYPES = {
    "STOP_MARKET",
    "TAKE_PROFIT_MARKET",
    "STOP",
    "TAKE_PROFIT",
    "TRAILING_STOP_MARKET",
}
ZERO = Decimal(0)


@dataclass(frozen=True)
class Market:
    symbol: str
    interval: str


def current_market(conn: Connection) -> Market:
    """Symbol and interval of the latest config, read on the request's own connection.

    A config that no longer loads still names its market; failing that, the defaults.
    """
    shown = shown_config(conn)
    return Market(symbol=shown.symbol, interval=shown.interval)


def engine_state(conn: Connection) -> dict[str, Any]:
    row = conn.execute(select(rm_engine)).first()
    if row is None:
        return {"mode": "RUNNING", "reason": "", "alarms": {}, "strategy_disabled": False}
    return {
        "mode": row.mode,
        "reason": row.reason,
        "alarms": jsonable(row.alarms or {}),
        "strategy_disabled": bool(row.strategy_disabled),
        "updated_at": iso(row.updated_at),
    }


def balances(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(rm_balances).order_by(rm_balances.c.asset)).all()
    return [row_dict(r) for r in rows]


def mark_price(conn: Connection, symbol: str) -> tuple[Decimal | None, datetime | None]:
    row = conn.execute(select(market_marks).where(market_marks.c.symbol == symbol)).first()
    if row is None:
        return None, None
    return row.mark_price, row.time


def position(conn: Connection, symbol: str) -> dict[str, Any]:
    """The position with its unrealized PnL: (mark − entry) × signed quantity."""
    row = conn.execute(select(rm_positions).where(rm_positions.c.symbol == symbol)).first()
    mark, mark_time = mark_price(conn, symbol)
    quantity = row.quantity if row is not None else ZERO
    entry = row.entry_price if row is not None else ZERO
    unrealized = (mark - entry) * quantity if mark is not None and quantity else ZERO
    return jsonable_dict(
        {
            "symbol": symbol,
            "quantity": quantity,
            "side": "LONG" if quantity > 0 else "SHORT" if quantity < 0 else "FLAT",
            "entry_price": entry,
            "break_even_price": row.break_even_price if row is not None else ZERO,
            "realized_pnl": row.realized_pnl if row is not None else ZERO,
            "fees": row.fees if row is not None else ZERO,
            "leverage": row.leverage if row is not None else None,
            "mark_price": mark,
            "mark_time": mark_time,
            "unrealized_pnl": unrealized,
            "notional": abs(quantity) * mark if mark is not None else None,
            "updated_at": row.updated_at if row is not None else None,
        }
    )


def positions(conn: Connection) -> list[dict[str, Any]]:
    symbols = conn.execute(select(rm_positions.c.symbol).order_by(rm_positions.c.symbol)).all()
    return [position(conn, s.symbol) for s in symbols]


def _order(row: Any) -> dict[str, Any]:
    data = row_dict(row)
    data.pop("created_id", None)
    data["protective"] = bool(
        row.is_algo or row.type in PROTECTIVE_TYPES or row.reduce_only or row.close_position
    )
    return data


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    side: str | None = None
    type: str | None = None
    origin: str | None = None
    is_open: bool | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before


def _created(aggregate_id: Any) -> Any:
    """Join condition to an aggregate's first event, whose notification id orders and pages it."""
    return and_(rm_events.c.originator_id == aggregate_id, rm_events.c.originator_version == 1)


def orders(
    conn: Connection,
    f: OrderFilter | None = None,
    *,
    limit: int = 50,
    cursor: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first by the notification that created each order; `cursor` is the previous
    page's `next_cursor` (that notification id). A page never shifts as new orders arrive."""
    f = f or OrderFilter()
    c = rm_orders.c
    created = rm_events.c.notification_id
    query = select(rm_orders, created.label("created_id")).join(rm_events, _created(c.id))
    for column, value in (
        (c.status, f.status),
        (c.side, f.side),
        (c.type, f.type),
        (c.origin, f.origin),
        (c.is_open, f.is_open),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.since is not None:
        query = query.where(c.created_at >= f.since)
    if f.until is not None:
        query = query.where(c.created_at < f.until)
    if cursor is not None:
        query = query.where(created < cursor)
    rows = conn.execute(query.order_by(created.desc()).limit(limit + 1)).all()
    items = [_order(r) for r in rows[:limit]]
    return items, (int(rows[limit - 1].created_id) if len(rows) > limit else None)


def fills(
    conn: Connection,
    *,
    limit: int = 50,
    before: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Newest first; `before` is a notification id cursor from the previous page."""
    query = select(rm_fills).order_by(rm_fills.c.notification_id.desc())
    if before is not None:
        query = query.where(rm_fills.c.notification_id < before)
    if since is not None:
        query = query.where(rm_fills.c.time >= since)
    if until is not None:
        query = query.where(rm_fills.c.time < until)
    return [row_dict(r) for r in conn.execute(query.limit(limit)).all()]


def fills_page(
    conn: Connection,
    *,
    limit: int,
    before: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    rows = fills(conn, limit=limit + 1, before=before, since=since, until=until)
    items = rows[:limit]
    more = len(rows) > limit
    return {"items": items, "next_cursor": items[-1]["notification_id"] if more else None}


def today_pnl(conn: Connection, unrealized: Decimal, *, now: datetime | None = None) -> Decimal:
    """Realized PnL of today's fills (since 00:00 UTC) minus their fees, plus unrealized."""
    midnight = datetime.combine((now or datetime.now(UTC)).date(), time(0), tzinfo=UTC)
    rows = conn.execute(
        select(rm_fills.c.realized_pnl, rm_fills.c.fee, rm_fills.c.fee_asset).where(
            rm_fills.c.time >= midnight
        )
    ).all()
    realized = sum((r.realized_pnl for r in rows), ZERO)
    # A fee paid in another asset (BNB) has no USDT value here; it is not netted.
    fees = sum((r.fee for r in rows if r.fee_asset == QUOTE_ASSET), ZERO)
    return realized - fees + unrealized


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def candles(
    conn: Connection,
    symbol: str,
    interval: str,
    *,
    limit: int = 200,
    since: datetime | None = None,
    before: datetime | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """The latest `limit` closed candles before `before`, oldest first; the cursor for older
    ones is the first candle's open time in epoch milliseconds."""
    c = market_candles.c
    query = (
        select(market_candles)
        .where(c.symbol == symbol, c.interval == interval)
        .order_by(c.open_time.desc())
    )
    if since is not None:
        query = query.where(c.open_time >= since)
    if before is not None:
        query = query.where(c.open_time < before)
    rows = conn.execute(query.limit(limit + 1)).all()
    chosen = list(reversed(rows[:limit]))
    more = len(rows) > limit
    return [row_dict(r) for r in chosen], (epoch_ms(chosen[0].open_time) if more else None)


def equity(
    conn: Connection, *, limit: int = 500, since: datetime | None = None, before: int | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """The wallet balance after each change, oldest first; the cursor for older points is the
    first point's notification id.

    Historic points are realized equity (the wallet); the mark at those moments is not kept.
    """
    query = select(rm_equity).order_by(rm_equity.c.notification_id.desc())
    if since is not None:
        query = query.where(rm_equity.c.time >= since)
    if before is not None:
        query = query.where(rm_equity.c.notification_id < before)
    rows = conn.execute(query.limit(limit + 1)).all()
    chosen = list(reversed(rows[:limit]))
    points = [
        {
            "notification_id": r.notification_id,
            "time": iso(r.time),
            "equity": jsonable(r.wallet_balance),
            "wallet_balance": jsonable(r.wallet_balance),
            "realized_pnl": jsonable(r.realized_pnl),
            "fees": jsonable(r.fees),
            "position_quantity": jsonable(r.position_quantity),
        }
        for r in chosen
    ]
    return points, (chosen[0].notification_id if len(rows) > limit else None)


def dashboard(conn: Connection) -> dict[str, Any]:
    market = current_market(conn)
    pos = position(conn, market.symbol)
    unrealized = Decimal(pos["unrealized_pnl"])
    all_balances = balances(conn)
    quote = next((b for b in all_balances if b["asset"] == QUOTE_ASSET), None)
    wallet = Decimal(quote["wallet_balance"]) if quote else None
    open_orders, _ = orders(conn, OrderFilter(is_open=True), limit=200)
    engine = engine_state(conn)
    return jsonable_dict(
        {
            "symbol": market.symbol,
            "interval": market.interval,
            "engine": engine,
            "balance": quote,
            "balances": all_balances,
            "equity": wallet + unrealized if wallet is not None else None,
            "position": pos,
            "today_pnl": today_pnl(conn, unrealized),
            "open_orders": {
                "normal": [o for o in open_orders if not o["protective"]],
                "protective": [o for o in open_orders if o["protective"]],
            },
            "last_fills": fills(conn, limit=20),
            "alarms": [
                {"code": code, **detail} for code, detail in sorted(engine["alarms"].items())
            ],
            "as_of": datetime.now(UTC),
            "time_zone": "UTC",
        }
    )
