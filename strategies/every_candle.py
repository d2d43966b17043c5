"""A decision on every closed candle: enter long when flat, exit otherwise.

Not a way to make money: it exercises the whole decision-to-order path once per candle, which is
what the latency benchmark and the soak need (`strategy: {name: every_candle}`).
"""

from __future__ import annotations

from decimal import Decimal

from strategies.base import Action, Context, Decision, Strategy


class EveryCandle(Strategy):
    name = "every_candle"

    def on_candle(self, ctx: Context) -> list[Decision]:
        if ctx.position.is_flat:
            price = ctx.candle.close
            return [
                Decision(
                    Action.ENTER_LONG, stop_price=price * Decimal("0.99"), reason="every candle"
                )
            ]
        return [Decision(Action.EXIT, reason="every candle")]
