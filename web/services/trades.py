"""Closed trades and performance, derived from the fills (rm_fills).

Fills are netted one-way per symbol in trade-id order: a trade opens when the position leaves
zero and closes when it returns to zero; a fill that crosses zero (a flip) closes one trade and
opens the next with the rest of its quantity, its fee split between the two by quantity.

Per trade: quantity is the total opened (equal to the total closed), entry and exit prices are
the quantity-weighted averages of the opening and the closing fills, and realized PnL is the
closing notional minus the opening notional (negated for a short). Over a whole round trip that
equals the exchange's average-cost PnL, without a division's rounding. Fees count in the quote
asset (USDT) only; a fee paid in another asset (BNB) has no USDT value here.

The derived list is kept per projection position: it changes only when the read models do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from projections.schema import rm_fills
from web.services.encoding import jsonable_dict

QUOTE_ASSET = "USDT"
ZERO = Decimal(0)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Fill:
    symbol: str
    trade_id: int
    side: str  # BUY | SELL
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    time: datetime


@dataclass(frozen=True)
class Trade:
    id: int
    symbol: str
    side: str  # LONG | SHORT
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    opened_at: datetime
    closed_at: datetime
    fees: Decimal
    realized_pnl: Decimal

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees

    def as_dict(self) -> dict[str, Any]:
        return jsonable_dict(
            {
                "id": self.id,
                "symbol": self.symbol,
                "side": self.side,
                "quantity": self.quantity,
                "entry_price": self.entry_price,
                "exit_price": self.exit_price,
                "opened_at": self.opened_at,
                "closed_at": self.closed_at,
                "duration_seconds": (self.closed_at - self.opened_at).total_seconds(),
                "fees": self.fees,
                "realized_pnl": self.realized_pnl,
                "net_pnl": self.net_pnl,
            }
        )


@dataclass
class _Open:
    id: int
    direction: int  # +1 long, -1 short
    opened_at: datetime
    position: Decimal = ZERO  # absolute, still open
    opened: Decimal = ZERO
    opened_notional: Decimal = ZERO
    closed: Decimal = ZERO
    closed_notional: Decimal = ZERO
    fees: Decimal = ZERO

    def add(self, quantity: Decimal, price: Decimal, fee: Decimal) -> None:
        self.position += quantity
        self.opened += quantity
        self.opened_notional += quantity * price
        self.fees += fee

    def reduce(self, quantity: Decimal, price: Decimal, fee: Decimal) -> None:
        self.position -= quantity
        self.closed += quantity
        self.closed_notional += quantity * price
        self.fees += fee

    def close(self, symbol: str, at: datetime) -> Trade:
        return Trade(
            id=self.id,
            symbol=symbol,
            side="LONG" if self.direction > 0 else "SHORT",
            quantity=self.opened,
            entry_price=self.opened_notional / self.opened,
            exit_price=self.closed_notional / self.closed,
            opened_at=self.opened_at,
            closed_at=at,
            fees=self.fees,
            realized_pnl=(self.closed_notional - self.opened_notional) * self.direction,
        )


def _usdt_fee(fill: Fill) -> Decimal:
    return fill.fee if fill.fee_asset == QUOTE_ASSET else ZERO


def round_trips(fills: Iterable[Fill]) -> list[Trade]:
    """Closed round trips, oldest first, from fills of any symbols (netted per symbol)."""
    by_symbol: dict[str, list[Fill]] = {}
    for fill in fills:
        by_symbol.setdefault(fill.symbol, []).append(fill)
    trades: list[Trade] = []
    for symbol, symbol_fills in by_symbol.items():
        trades += _symbol_round_trips(symbol, sorted(symbol_fills, key=lambda f: f.trade_id))
    trades.sort(key=lambda t: (t.closed_at, t.id))
    return trades


def _symbol_round_trips(symbol: str, fills: Sequence[Fill]) -> list[Trade]:
    trades: list[Trade] = []
    current: _Open | None = None
    for fill in fills:
        if fill.quantity <= 0:
            continue
        direction = 1 if fill.side == "BUY" else -1
        fee = _usdt_fee(fill)
        if current is None:
            current = _Open(fill.trade_id, direction, fill.time)
            current.add(fill.quantity, fill.price, fee)
            continue
        if direction == current.direction:
            current.add(fill.quantity, fill.price, fee)
            continue
        closing = min(fill.quantity, current.position)
        closing_fee = fee if closing == fill.quantity else fee * closing / fill.quantity
        current.reduce(closing, fill.price, closing_fee)
        if current.position == 0:
            trades.append(current.close(symbol, fill.time))
            current = None
        rest = fill.quantity - closing
        if rest > 0:
            # A flip: the rest of this fill opens the next trade in the other direction.
            current = _Open(fill.trade_id, direction, fill.time)
            current.add(rest, fill.price, fee - closing_fee)
    return trades


def load_fills(conn: Connection) -> list[Fill]:
    c = rm_fills.c
    rows = conn.execute(
        select(
            c.symbol, c.trade_id, c.side, c.quantity, c.price, c.fee, c.fee_asset, c.time
        ).order_by(c.symbol, c.trade_id)
    ).all()
    return [Fill(*row) for row in rows]


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def stats(trades: Sequence[Trade], *, days: Decimal) -> dict[str, Any]:
    """Win rate, PnL, profit factor and drawdown of closed trades (in closing order)."""
    nets = [t.net_pnl for t in trades]
    wins = [n for n in nets if n > 0]
    losses = [n for n in nets if n < 0]
    gross_loss = -sum(losses, ZERO)
    peak = equity = drawdown = ZERO
    for net in nets:
        equity += net
        peak = max(peak, equity)
        drawdown = max(drawdown, peak - equity)
    return {
        "trades": len(trades),
        "wins": len(wins),
        "losses": len(losses),
        "win_rate": _decimal(Decimal(len(wins)) / len(trades)) if trades else None,
        "total_pnl": _decimal(sum(nets, ZERO)),
        "fees": _decimal(sum((t.fees for t in trades), ZERO)),
        "profit_factor": _decimal(sum(wins, ZERO) / gross_loss) if gross_loss else None,
        "max_drawdown": _decimal(drawdown),
        "trades_per_day": _decimal(Decimal(len(trades)) / days),
        "best_trade": _decimal(max(nets)) if nets else None,
        "worst_trade": _decimal(min(nets)) if nets else None,
    }


def performance(trades: Sequence[Trade], *, now: datetime | None = None) -> dict[str, Any]:
    """`all` over every closed trade, `today` over those closed since 00:00 UTC.

    trades_per_day divides by the days from the first trade's opening to now, at least one.
    """
    at = (now or datetime.now(UTC)).astimezone(UTC)
    midnight = datetime.combine(at.date(), time(0), tzinfo=UTC)
    today = [t for t in trades if t.closed_at >= midnight]
    first = min((t.opened_at for t in trades), default=at)
    span = Decimal(str(max((at - first) / DAY, 1.0)))
    return {
        "all": stats(trades, days=span),
        "today": stats(today, days=Decimal(1)),
        "as_of": at.isoformat().replace("+00:00", "Z"),
        "time_zone": "UTC",
    }


@dataclass
class TradeBook:
    """The round trips of the latest projection position, computed once per position."""

    _position: int | None = None
    _trades: list[Trade] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def trades(self, conn: Connection, position: int) -> list[Trade]:
        with self._lock:
            if position != self._position:
                self._trades = round_trips(load_fills(conn))
                self._position = position
            return self._trades


def page(trades: Sequence[Trade], *, limit: int, cursor: int | None) -> dict[str, Any]:
    """Newest first (by opening trade id); `cursor` is the last id of the previous page."""
    ordered = sorted(trades, key=lambda t: t.id, reverse=True)
    if cursor is not None:
        ordered = [t for t in ordered if t.id < cursor]
    chosen = ordered[:limit]
    more = len(ordered) > limit
    return {
        "items": [t.as_dict() for t in chosen],
        "next_cursor": chosen[-1].id if more and chosen else None,
    }
