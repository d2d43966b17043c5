"""The strategy interface: a strategy sees closed candles and the account, and returns decisions.

A strategy never calls the exchange and never imports the adapter. The runner turns each
`Decision` into a Command with a deterministic idempotency key, so replaying a candle after a
restart cannot place an order twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol


class Bar(Protocol):
    """A closed candle (processes.market_stream.Candle has this shape)."""

    @property
    def open_time(self) -> datetime: ...
    @property
    def open(self) -> Decimal: ...
    @property
    def high(self) -> Decimal: ...
    @property
    def low(self) -> Decimal: ...
    @property
    def close(self) -> Decimal: ...
    @property
    def volume(self) -> Decimal: ...


class Action(StrEnum):
    ENTER_LONG = "ENTER_LONG"
    ENTER_SHORT = "ENTER_SHORT"
    EXIT = "EXIT"


@dataclass(frozen=True)
class Decision:
    """What the strategy wants. Entries carry their protective prices; the risk guard sizes them."""

    action: Action
    stop_price: Decimal = Decimal(0)
    take_profit_price: Decimal = Decimal(0)
    reason: str = ""


@dataclass(frozen=True)
class PositionView:
    quantity: Decimal  # signed: > 0 long, < 0 short
    entry_price: Decimal

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0


@dataclass
class Context:
    symbol: str
    candles: Sequence[Bar]  # oldest first; the last one just closed
    position: PositionView
    open_orders: list[dict[str, Any]]
    balance: Decimal  # futures wallet balance (USDT)
    engine_mode: str
    params: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)  # persisted between candles and restarts

    @property
    def candle(self) -> Bar:
        return self.candles[-1]


class Strategy:
    """Subclass and override `on_candle`; `on_start` runs once with the warm-up history."""

    name = "strategy"

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_start(self, ctx: Context) -> None:
        return None

    def on_candle(self, ctx: Context) -> list[Decision]:
        raise TypeError(f"{type(self).__name__} must override on_candle")
