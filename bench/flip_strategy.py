"""The benchmark's strategy: a decision on every closed candle (enter when flat, else exit)."""

from __future__ import annotations

from decimal import Decimal

from strategies.base import Action, Context, Decision, Strategy


class Flip(Strategy):
    name = "flip"

    def on_candle(self, ctx: Context) -> list[Decision]:
        if ctx.position.is_flat:
            price = ctx.candle.close
            return [Decision(Action.ENTER_LONG, stop_price=price * Decimal("0.99"), reason="flip")]
        return [Decision(Action.EXIT, reason="flip")]
