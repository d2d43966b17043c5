"""Fast/slow simple-moving-average crossover with a stop and a take-profit on every entry."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from strategies.base import Action, Bar, Context, Decision, Strategy


def sma(closes: Sequence[Decimal], length: int) -> Decimal:
    window = closes[-length:]
    return sum(window, Decimal(0)) / len(window)


class SmaCross(Strategy):
    name = "sma_cross"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.fast = int(params.get("fast", 5))
        self.slow = int(params.get("slow", 20))
        self.stop_pct = Decimal(str(params.get("stop_pct", "0.004")))
        self.take_profit_pct = Decimal(str(params.get("take_profit_pct", "0.008")))
        if not 0 < self.fast < self.slow:
            raise ValueError(f"sma_cross needs 0 < fast < slow, got {self.fast}/{self.slow}")
        if self.stop_pct <= 0 or self.take_profit_pct <= 0:
            raise ValueError("sma_cross needs positive stop_pct and take_profit_pct")

    def _trend(self, candles: Sequence[Bar]) -> int:
        closes = [c.close for c in candles]
        fast, slow = sma(closes, self.fast), sma(closes, self.slow)
        return (fast > slow) - (fast < slow)

    def on_candle(self, ctx: Context) -> list[Decision]:
        if len(ctx.candles) < self.slow + 1:
            return []
        before, now = self._trend(ctx.candles[:-1]), self._trend(ctx.candles)
        if now == 0 or now == before:
            return []
        price = ctx.candle.close
        position = ctx.position.quantity
        if (position > 0 and now < 0) or (position < 0 and now > 0):
            return [Decision(Action.EXIT, reason=f"sma {self.fast}/{self.slow} crossed against")]
        if position != 0:
            return []
        if now > 0:
            return [
                Decision(
                    Action.ENTER_LONG,
                    stop_price=price * (1 - self.stop_pct),
                    take_profit_price=price * (1 + self.take_profit_pct),
                    reason=f"sma {self.fast} crossed above {self.slow}",
                )
            ]
        return [
            Decision(
                Action.ENTER_SHORT,
                stop_price=price * (1 + self.stop_pct),
                take_profit_price=price * (1 - self.take_profit_pct),
                reason=f"sma {self.fast} crossed below {self.slow}",
            )
        ]
