"""A starting point for your own strategy: copy this file into strategies/ and rename the class.

Select it with `strategy: {name: my_module}` in the runtime config (or a dotted path
`my_package.my_module:MyStrategy`). Rules the engine relies on:
- return decisions, never call the exchange; the risk guard sizes entries from your stop;
- keep what must survive a restart in `ctx.state` (a JSON-safe dict, persisted after each candle);
- an exception is logged; after repeated errors the strategy is disabled and an alarm raised.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from strategies.base import Action, Context, Decision, Strategy


class Template(Strategy):
    name = "template"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.stop_pct = Decimal(str(params.get("stop_pct", "0.01")))
        self.take_profit_pct = Decimal(str(params.get("take_profit_pct", "0.02")))

    def on_start(self, ctx: Context) -> None:
        ctx.state.setdefault("candles_seen", 0)

    def on_candle(self, ctx: Context) -> list[Decision]:
        ctx.state["candles_seen"] = int(ctx.state.get("candles_seen", 0)) + 1
        candle = ctx.candle
        # Example rule: enter long after a green candle when flat, leave after a red one.
        if ctx.position.is_flat and candle.close > candle.open:
            return [
                Decision(
                    Action.ENTER_LONG,
                    stop_price=candle.close * (1 - self.stop_pct),
                    take_profit_price=candle.close * (1 + self.take_profit_pct),
                    reason="green candle",
                )
            ]
        if ctx.position.quantity > 0 and candle.close < candle.open:
            return [Decision(Action.EXIT, reason="red candle")]
        return []
