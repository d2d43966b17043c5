"""Runs the strategy on each closed candle and files its decisions as Commands.

The strategy sees history, position, open orders, balance, engine mode, its params and its
persisted state; it never touches the exchange. It runs on a thread of its own, so a slow
strategy cannot stall the streams; one that overruns its budget is logged and counted.

Only a decision on the newest closed candle (`live`) is filed: a backfilled or late candle
updates the strategy's view and state, but what it decides on one is not traded. Every filed
decision carries its candle's close time and a `valid_until` (that close plus one interval),
after which the executor expires it. Decisions become Commands with deterministic idempotency
keys (strategy, candle open time, action), so a replayed candle is the same Command. A strategy
that raises is logged; after `max_errors` in a row it is disabled and an alarm raised — the
engine, the executor and the reconciler keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import structlog
from sqlalchemy import Connection, Engine, select

from aggregates.command import ActorType, CommandKind
from aggregates.envelope import Source
from aggregates.market import Candle, interval_length
from alphaengine.account_view import AccountView
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Trading
from processes.executor import Filing
from processes.health import HealthWriter
from projections.schema import rm_orders
from strategies.base import Action, Context, Decision, PositionView, Strategy

log = structlog.get_logger(__name__)

MAX_HISTORY = 1000
BUDGET_SECONDS = 0.25
CONTEXT_SECONDS = 5.0


@dataclass(frozen=True)
class _Run:
    """One run of the strategy on the strategy thread: its context, the state it was given,
    and what it returned or raised."""

    context: Context
    before: dict[str, Any]
    result: Any
    error: Exception | None
    took: float


class FilingSink(Protocol):
    def file(self, filing: Filing) -> None: ...

    def after_filings(self, call: Callable[[], Awaitable[None]]) -> None: ...


class StrategyRunner:
    def __init__(
        self,
        trading: Trading,
        store: StoreThread,
        strategy: Strategy,
        *,
        name: str,
        symbol: str,
        sink: FilingSink,
        read_engine: Engine | None = None,
        health: HealthWriter | None = None,
        max_errors: int = 3,
        budget_seconds: float = BUDGET_SECONDS,
    ) -> None:
        self.trading = trading
        self.store = store
        self.strategy = strategy
        self.name = name
        self.symbol = symbol
        self.sink = sink
        self.budget_seconds = budget_seconds
        self.overruns = 0
        self.past_decisions = 0
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strategy")
        self.read_engine = read_engine
        self._connection: Connection | None = None  # the strategy thread's, made there
        self._connection_lock = threading.Lock()
        self._open_orders_query = select(rm_orders).where(
            rm_orders.c.is_open.is_(True), rm_orders.c.symbol == symbol
        )
        self.health = health
        self.max_errors = max_errors
        self.candles: deque[Candle] = deque(maxlen=MAX_HISTORY)
        self.errors = 0
        self.decisions = 0
        self.last_price: Decimal | None = None

    async def start(self, history: list[Candle]) -> None:
        for candle in history:
            self._remember(candle)
        run = await self._run_strategy(self.strategy.on_start)
        if run is not None:
            await self._keep_state(run.context, run.before)

    def _remember(self, candle: Candle) -> bool:
        if self.candles and candle.open_time <= self.candles[-1].open_time:
            return False
        self.candles.append(candle)
        self.last_price = candle.close
        return True

    async def on_candle(self, candle: Candle, live: bool) -> None:
        await self.decide(candle, live=live)

    async def decide(self, candle: Candle, *, live: bool = True) -> list[Filing]:
        """Run the strategy on a closed candle; return what it filed (nothing unless live)."""
        if not self._remember(candle):
            return []
        seen_at = time.perf_counter()
        run = await self._run_strategy(self.strategy.on_candle)
        decisions = run.result if run is not None else None
        filed: list[Filing] = []
        if decisions and not live:
            self.past_decisions += len(decisions)
            log.info(
                "decision on a past candle not traded",
                candle=candle.open_time.isoformat(),
                decisions=[d.action.value for d in decisions],
            )
        else:
            filed = [self._file(candle, d, seen_at) for d in decisions or []]
        if run is not None and run.context.state != run.before:
            context, before = run.context, run.before
            if filed:
                # Behind the orders just filed: their commit is the only one before they leave.
                self.sink.after_filings(lambda: self._keep_state(context, before))
            else:
                await self._keep_state(context, before)
        if self.health is not None:
            self.health.note("strategy", f"{self.name}: ok")
        return filed

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
        # Not under a query still running on the strategy thread (bounded: a stop must not hang).
        if self._connection_lock.acquire(timeout=1.0):
            try:
                if self._connection is not None:
                    with contextlib.suppress(Exception):
                        self._connection.close()
                    self._connection = None
            finally:
                self._connection_lock.release()

    async def _run_strategy(self, method: Callable[[Context], Any]) -> _Run | None:
        """Build the context and run `method` on it, both on the strategy thread (one hop:
        the account comes from the store thread's published view, the open orders from their
        read model). None when the strategy is disabled or raised."""
        view = self.trading.view
        if view is None or not self.trading.sole_writer:
            # Not kept current by this process's saves alone: read it now, within a deadline
            # (a decision waiting on a locked database would be stale when it came).
            async with asyncio.timeout(CONTEXT_SECONDS):
                view = await self.store.call(self.trading.publish_view)
        loop = asyncio.get_running_loop()
        run = await loop.run_in_executor(self._thread, self._on_thread, method, view)
        if run is None:
            self.errors = 0  # disabled: a person re-enabling it gives it a fresh count
            return None
        if run.error is not None:
            await self._failed(run.error)
            return None
        self.errors = 0
        if run.took > self.budget_seconds:
            self.overruns += 1
            log.warning(
                "strategy overran its budget",
                strategy=self.name,
                seconds=round(run.took, 3),
                budget=self.budget_seconds,
                overruns=self.overruns,
            )
        return run

    def _on_thread(self, method: Callable[[Context], Any], view: AccountView) -> _Run | None:
        context = self._context(view)
        if context is None:
            return None
        before = copy.deepcopy(context.state)
        started = time.perf_counter()
        try:
            result = method(context)
        except Exception as exc:
            return _Run(context, before, None, exc, time.perf_counter() - started)
        return _Run(context, before, result, None, time.perf_counter() - started)

    def _context(self, view: AccountView) -> Context | None:
        if view.strategy_disabled:
            return None
        orders = self._open_orders() if self.read_engine else []
        return Context(
            symbol=self.symbol,
            candles=list(self.candles),
            position=PositionView(view.position_quantity, view.entry_price),
            open_orders=orders,
            balance=view.wallet_balance,
            engine_mode=view.engine_mode,
            params=dict(self.strategy.params),
            state=copy.deepcopy(dict(view.strategy_state)),
        )

    def _open_orders(self) -> list[dict[str, Any]]:
        """The open orders' read-model rows, on the strategy thread's own connection: taking
        one from the pool (and giving it back) cost more than the query."""
        assert self.read_engine is not None
        with self._connection_lock:
            if self._connection is None:
                self._connection = self.read_engine.connect()
            try:
                rows = self._connection.execute(self._open_orders_query).all()
                self._connection.rollback()  # no read transaction outlives the query
            except Exception:
                self._connection.invalidate()
                self._connection = None
                raise
        return [dict(row._mapping) for row in rows]

    async def _failed(self, exc: Exception) -> None:
        self.errors += 1
        log.error(
            "strategy raised",
            strategy=self.name,
            errors_in_a_row=self.errors,
            exc_info=exc,
        )
        if self.errors >= self.max_errors:
            reason = f"{self.name} raised {self.errors} times in a row: {exc!r}"
            env = self.trading.envelope(Source.BOT)
            await self.store.call(self.trading.disable_strategy, reason, env)
            log.error("strategy disabled", strategy=self.name, reason=reason)

    async def _keep_state(self, ctx: Context, before: dict[str, Any]) -> None:
        """Persist what the strategy changed in its state."""
        if ctx.state != before:
            env = self.trading.envelope(Source.BOT)
            await self.store.call(self.trading.save_strategy_state, ctx.state, env)

    def _file(self, candle: Candle, decision: Decision, seen_at: float) -> Filing:
        open_ms = int(candle.open_time.timestamp() * 1000)
        # A candle's close time is the last millisecond of its interval.
        closed_at = candle.open_time + interval_length(candle.interval)
        freshness = {
            "candle_time": closed_at.isoformat(),
            "valid_until": (closed_at + interval_length(candle.interval)).isoformat(),
        }
        payload: dict[str, Any]
        if decision.action == Action.EXIT:
            kind = CommandKind.CLOSE_POSITION
            payload = {"reason": decision.reason[:200], **freshness}
        else:
            kind = CommandKind.PLACE_ORDER
            payload = {
                "side": "BUY" if decision.action == Action.ENTER_LONG else "SELL",
                "type": "MARKET",
                "reference_price": str(candle.close),
                "reason": decision.reason[:200],
                **freshness,
            }
            for name, price in (
                ("stop_price", decision.stop_price),
                ("take_profit_price", decision.take_profit_price),
            ):
                if price > 0:
                    payload[name] = str(price)
        filing = Filing(
            kind=kind.value,
            payload=payload,
            actor_type=ActorType.STRATEGY.value,
            actor_id=self.name,
            idempotency_key=f"{self.name}:{open_ms}:{decision.action.value}",
            seen_at=seen_at,
        )
        self.decisions += 1
        log.info("decision", key=filing.idempotency_key, kind=kind.value, reason=decision.reason)
        self.sink.file(filing)
        return filing
