"""Market data as the engine sees it: closed candles, the mark price, the symbol's filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

INTERVAL_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}


def interval_length(interval: str) -> timedelta:
    try:
        return timedelta(milliseconds=INTERVAL_MS[interval])
    except KeyError:
        raise ValueError(f"unsupported kline interval {interval!r}") from None


@dataclass(frozen=True)
class Candle:
    symbol: str
    interval: str
    open_time: datetime
    close_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class SymbolRules:
    """The exchange's filters for the symbol (exchangeInfo)."""

    step_size: Decimal = Decimal("0.001")
    tick_size: Decimal = Decimal("0.1")
    min_quantity: Decimal = Decimal("0.001")
    min_notional: Decimal = Decimal("100")

    def round_quantity(self, quantity: Decimal) -> Decimal:
        return (quantity / self.step_size).to_integral_value(ROUND_DOWN) * self.step_size

    def round_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(ROUND_HALF_UP) * self.tick_size
