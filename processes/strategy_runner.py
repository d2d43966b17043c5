"""Runs the strategy on each closed candle and files its decisions as Commands.

The strategy sees history, position, open orders, balance, engine mode, its params and its
persisted state; it never touches the exchange. Decisions become Commands with deterministic
idempotency keys (strategy, candle open time, action), so a replayed candle after a restart is
the same Command. A strategy that raises is logged; after `max_errors` in a row it is disabled
and an alarm raised — the engine, the executor and the reconciler keep running.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import Engine, select

from aggregates.command import ActorType, CommandKind
from aggregates.envelope import Source
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Trading
from processes.health import HealthWriter
from processes.market_stream import Candle
from projections.schema import rm_orders
from strategies.base import Action, Context, Decision, PositionView, Strategy

log = structlog.get_logger(__name__)

MAX_HISTORY = 1000


class StrategyRunner:
    def __init__(
        self,
        trading: Trading,
        store: StoreThread,
        strategy: Strategy,
        *,
        name: str,
        symbol: str,
        on_command: Callable[[UUID], None],
        read_engine: Engine | None = None,
        health: HealthWriter | None = None,
        max_errors: int = 3,
    ) -> None:
        self.trading = trading
        self.store = store
        self.strategy = strategy
        self.name = name
        self.symbol = symbol
        self.on_command = on_command
        self.read_engine = read_engine
        self.health = health
        self.max_errors = max_errors
        self.candles: deque[Candle] = deque(maxlen=MAX_HISTORY)
        self.errors = 0
        self.decisions = 0
        self.last_price: Decimal | None = None

    async def start(self, history: list[Candle]) -> None:
        for candle in history:
            self._remember(candle)
        ctx = await self._context()
        if ctx is not None:
            await self._call(lambda: self.strategy.on_start(ctx), ctx)

    def _remember(self, candle: Candle) -> bool:
        if self.candles and candle.open_time <= self.candles[-1].open_time:
            return False
        self.candles.append(candle)
        self.last_price = candle.close
        return True

    async def on_candle(self, candle: Candle) -> None:
        await self.decide(candle)

    async def decide(self, candle: Candle) -> list[UUID]:
        """Run the strategy on a closed candle; return the ids of the Commands it filed."""
        if not self._remember(candle):
            return []
        ctx = await self._context()
        if ctx is None:
            return []
        decisions = await self._call(lambda: self.strategy.on_candle(ctx), ctx)
        filed = [await self._file(candle, d) for d in decisions or []]
        if self.health is not None and self.health.due("strategy", 1.0):
            await asyncio.to_thread(self.health.set, "strategy", f"{self.name}: ok")
        return [c for c in filed if c is not None]

    async def _context(self) -> Context | None:
        engine, position, account = await self.store.call(self._state)
        if engine.strategy_disabled:
            self.errors = 0  # a person re-enabling it gives it a fresh count
            return None
        orders = await asyncio.to_thread(self._open_orders) if self.read_engine else []
        return Context(
            symbol=self.symbol,
            candles=list(self.candles),
            position=PositionView(position.quantity, position.entry_price),
            open_orders=orders,
            balance=account.wallet_balance("USDT"),
            engine_mode=engine.mode,
            params=dict(self.strategy.params),
            state=copy.deepcopy(engine.strategy_state),
        )

    def _state(self) -> tuple[Any, Any, Any]:
        return self.trading.engine(), self.trading.position(), self.trading.account()

    def _open_orders(self) -> list[dict[str, Any]]:
        assert self.read_engine is not None
        query = select(rm_orders).where(
            rm_orders.c.is_open.is_(True), rm_orders.c.symbol == self.symbol
        )
        with self.read_engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    async def _call(self, call: Callable[[], Any], ctx: Context) -> Any:
        before = copy.deepcopy(ctx.state)
        try:
            result = call()
        except Exception as exc:
            self.errors += 1
            log.exception("strategy raised", strategy=self.name, errors_in_a_row=self.errors)
            if self.errors >= self.max_errors:
                reason = f"{self.name} raised {self.errors} times in a row: {exc!r}"
                env = self.trading.envelope(Source.BOT)
                await self.store.call(self.trading.disable_strategy, reason, env)
                log.error("strategy disabled", strategy=self.name, reason=reason)
            return None
        self.errors = 0
        if ctx.state != before:
            env = self.trading.envelope(Source.BOT)
            await self.store.call(self.trading.save_strategy_state, ctx.state, env)
        return result

    async def _file(self, candle: Candle, decision: Decision) -> UUID | None:
        open_ms = int(candle.open_time.timestamp() * 1000)
        key = f"{self.name}:{open_ms}:{decision.action.value}"
        if decision.action == Action.EXIT:
            kind, payload = CommandKind.CLOSE_POSITION, {"reason": decision.reason}
        else:
            kind = CommandKind.PLACE_ORDER
            payload = {
                "side": "BUY" if decision.action == Action.ENTER_LONG else "SELL",
                "type": "MARKET",
                "reference_price": str(candle.close),
                "reason": decision.reason,
            }
            for name, price in (
                ("stop_price", decision.stop_price),
                ("take_profit_price", decision.take_profit_price),
            ):
                if price > 0:
                    payload[name] = str(price)
        command_id, new = await self.store.call(
            self.trading.submit_command,
            kind=kind.value,
            payload=payload,
            actor_type=ActorType.STRATEGY.value,
            actor_id=self.name,
            idempotency_key=key,
            source=Source.BOT,
        )
        if new:
            self.decisions += 1
            log.info("decision filed", key=key, kind=kind.value, reason=decision.reason)
            self.on_command(command_id)
        return command_id
