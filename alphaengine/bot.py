"""The bot runtime: one asyncio loop for I/O, one store thread for every event-store call.

Start order (each step needs the one before): catch the read models up → reconcile with the
exchange → start the executor (resumes unfinished Commands), the streams and the reconciler's
timer → warm the strategy up and feed it closed candles.
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

import structlog

from adapters.binance.connection import BinanceConnection, connect
from alphaengine.bootstrap import open_trading, read_engine
from alphaengine.runtime_config import ConfigStore
from alphaengine.settings import Settings
from alphaengine.store_thread import StoreThread
from processes.executor import Executor
from processes.health import HealthWriter
from processes.ingest import Ingestor
from processes.market_stream import MarketStream
from processes.placement import crash_here, crash_point_from_env
from processes.protection import ProtectionMonitor
from processes.reconciler import Reconciler
from processes.risk import RiskGuard, SymbolRules
from processes.serial_projector import SerialProjector
from processes.strategy_runner import StrategyRunner
from processes.user_stream import UserStream
from projections.projector import Projector
from projections.tracking import ReadModelRecorder
from strategies.loader import load_strategy

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 5.0
RISK_CHECK_SECONDS = 1.0
CONNECT_RETRY_MAX_SECONDS = 60.0


async def symbol_rules(connection: BinanceConnection, symbol: str) -> SymbolRules:
    info: Any = await connection.client.futures_exchange_info()
    for row in info.get("symbols", []):
        if row.get("symbol") != symbol:
            continue
        filters = {f["filterType"]: f for f in row.get("filters", [])}
        return SymbolRules(
            step_size=Decimal(str(filters["LOT_SIZE"]["stepSize"])),
            tick_size=Decimal(str(filters["PRICE_FILTER"]["tickSize"])),
            min_quantity=Decimal(str(filters["LOT_SIZE"]["minQty"])),
            min_notional=Decimal(str(filters.get("MIN_NOTIONAL", {}).get("notional", "5"))),
        )
    raise ValueError(f"{symbol} is not listed by the exchange")


class Bot:
    def __init__(self, settings: Settings, *, exchange_url: str | None = None) -> None:
        self.settings = settings
        self.exchange_url = exchange_url
        self.crash_at = crash_point_from_env()
        self.store = StoreThread()
        self.trading = open_trading(settings)
        self.read = read_engine(settings)
        self.health = HealthWriter(self.read)
        _, self.config = ConfigStore(self.read).get()
        self.symbol = self.config.trading.symbol
        self.projector = SerialProjector(
            Projector(self.trading, ReadModelRecorder.for_trading(self.trading))
        )
        self.ready = asyncio.Event()
        self.executor: Executor | None = None
        self.connection: BinanceConnection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._run(stop)
        finally:
            if self.connection is not None:
                await self.connection.close()
            self.store.shutdown()
            self.trading.close()
            self.read.dispose()
            log.info("bot stopped")

    async def _run(self, stop: asyncio.Event) -> None:
        config = self.config
        connection = await self._connect(stop)
        if connection is None:
            return
        self.connection = connection
        risk = RiskGuard(config.risk, await symbol_rules(connection, self.symbol), self.read)
        reconciler = Reconciler(
            self.trading,
            connection.gateway,
            self.store,
            self.projector,
            self.health,
            symbol=self.symbol,
            interval=config.engine.reconcile_interval,
        )
        self.executor = executor = Executor(
            self.trading,
            connection.gateway,
            self.store,
            self.projector,
            reconciler,
            risk,
            symbol=self.symbol,
            default_leverage=config.trading.leverage,
            poll_interval=config.engine.command_poll_interval,
            crash_at=self.crash_at,
        )
        ingestor = Ingestor(
            self.trading,
            self.store,
            on_recorded=lambda: self._recorded(ingestor, executor),
            on_failure=reconciler.request,
        )
        runner = StrategyRunner(
            self.trading,
            self.store,
            load_strategy(config.strategy.name, config.strategy.params),
            name=config.strategy.name,
            symbol=self.symbol,
            on_command=executor.notify,
            read_engine=self.read,
            health=self.health,
        )
        market = MarketStream(
            connection,
            self.health,
            self.read,
            symbol=self.symbol,
            interval=config.strategy.timeframe,
            warmup=config.engine.warmup_candles,
            on_candle=runner.on_candle,
            on_mark=risk.on_mark,
        )
        protection = ProtectionMonitor(
            self.trading,
            connection.gateway,
            self.store,
            executor,
            symbol=self.symbol,
            rules=risk.rules,
        )
        await self.store.call(self.projector.catch_up)
        await reconciler.reconcile("start")
        tasks = [
            asyncio.create_task(executor.run(), name="executor"),
            asyncio.create_task(reconciler.run(), name="reconciler"),
            asyncio.create_task(
                UserStream(
                    connection,
                    ingestor,
                    reconciler,
                    self.health,
                    watchdog_seconds=config.engine.stream_watchdog_seconds,
                ).run(),
                name="user-stream",
            ),
            asyncio.create_task(self._heartbeat(), name="heartbeat"),
            asyncio.create_task(self._risk_watch(executor, risk), name="risk-watch"),
            asyncio.create_task(protection.run(), name="protection"),
        ]
        await executor.ready.wait()
        history = await market.warm_up()
        if history and risk.mark_price is None:
            # Until the first mark price arrives, the last close is the best price to size with.
            risk.on_mark(history[-1].close)
        await runner.start(history)
        tasks.append(asyncio.create_task(market.run(), name="market-stream"))
        self.ready.set()
        log.info("bot running", symbol=self.symbol, strategy=config.strategy.name)
        stopper = asyncio.create_task(stop.wait(), name="stop")
        try:
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    log.error("bot task failed", task=task.get_name(), error=repr(task.exception()))
        finally:
            for task in [stopper, *tasks]:
                task.cancel()
            for task in [stopper, *tasks]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _connect(self, stop: asyncio.Event) -> BinanceConnection | None:
        """Keep trying until the exchange answers (or we are told to stop)."""
        delay = 1.0
        while not stop.is_set():
            try:
                return await connect(self.settings, exchange_url=self.exchange_url)
            except Exception as exc:
                log.warning("exchange not reachable: retrying", error=repr(exc), in_seconds=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, CONNECT_RETRY_MAX_SECONDS)
        return None

    def _recorded(self, ingestor: Ingestor, executor: Executor) -> None:
        if ingestor.counters.get("fills", 0) > 0:
            # Crash-matrix point (c): a fill is in the log, the read models not yet caught up.
            crash_here("after_fill", self.crash_at)
        executor.catch_up_soon()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.to_thread(self.health.set, "bot_heartbeat", "running")
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _risk_watch(self, executor: Executor, risk: RiskGuard) -> None:
        """Daily loss limit between candles: marks move the unrealized part all the time.

        Also picks up risk limits a person changed in the web (a new runtime-config version).
        """
        store = ConfigStore(self.read)
        version = 0
        while True:
            await asyncio.sleep(RISK_CHECK_SECONDS)
            try:
                latest, config = await asyncio.to_thread(store.get)
                if latest != version:
                    if version:
                        log.info("risk limits updated", version=latest)
                    version, risk.config = latest, config.risk
                exposure = await executor.planner.exposure()
                breach = await asyncio.to_thread(risk.daily_loss_breach, exposure)
            except Exception:
                log.exception("risk check failed")
                continue
            if breach is not None:
                await executor.pause_for(breach)
