"""The bot runtime: one asyncio loop for I/O, one store thread for every event-store call, and a
supervisor that owns every task.

Start order (each step needs the one before): catch the read models up → reconcile with the
exchange → the executor (resumes unfinished Commands), the streams, the reconciler's timer and
the protection monitor → the configured leverage → the strategy, warmed up, fed closed candles.

`run` returns the process's exit code: 0 when told to stop, 1 when a task died (an alarm says
which). Either way the stop is bounded (STOP_SECONDS) and recorded as `Engine.Stopped`.
A runtime config that cannot load does not stop the bot: it keeps the account safe (streams,
reconciler, protection) without a strategy, raises the `config_invalid` alarm, and starts the
strategy once a config that loads is saved.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog

from adapters.binance.connection import BinanceConnection
from aggregates.command import ActorType, CommandKind
from aggregates.envelope import Source
from aggregates.facts import FillFact
from aggregates.market import interval_length
from aggregates.ports import ExchangeError, UserFact
from alphaengine.bootstrap import open_trading, read_engine
from alphaengine.exchange import connect_exchange
from alphaengine.runtime_config import ConfigError, ConfigStore, RuntimeConfig, StoredConfig
from alphaengine.settings import Settings
from alphaengine.storage_full import EXIT_STORAGE_FULL, is_storage_full
from alphaengine.store_thread import StoreThread
from alphaengine.supervisor import Supervisor
from processes.exchange_clock import ExchangeClock
from processes.executor import Executor
from processes.health import HealthWriter
from processes.ingest import Ingestor
from processes.market_stream import MarketStream
from processes.placement import crash_here, crash_point_from_env
from processes.protection import ProtectionMonitor
from processes.reconciler import Reconciler
from processes.risk import RiskGuard
from processes.serial_projector import SerialProjector
from processes.stats import StatsWriter
from processes.strategy_runner import StrategyRunner
from processes.user_stream import UserStream
from projections.projector import Projector
from projections.tracking import ReadModelRecorder
from strategies.loader import StrategyNotFound, load_strategy

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 5.0
CONFIG_CHECK_SECONDS = 1.0
STATS_SECONDS = 5.0
CONNECT_RETRY_MAX_SECONDS = 5.0
STOP_SECONDS = 1.5  # the tasks' share of the stop; recording it and closing take the rest
RECORD_SECONDS = 1.0
CONFIG_ALARM = "config_invalid"
LEVERAGE_ALARM = "leverage_not_applied"
TASK_ALARM = "task_failed"


class Bot:
    def __init__(self, settings: Settings, *, exchange_url: str | None = None) -> None:
        self.settings = settings
        self.exchange_url = exchange_url
        self.crash_at = crash_point_from_env()
        self.store = StoreThread()
        # It holds the bot lease: no other process changes the account's aggregates.
        self.trading = open_trading(settings, sole_writer=True)
        self.read = read_engine(settings)
        self.health = HealthWriter(self.read)
        self.stats = StatsWriter(self.read)
        self.symbol = self.trading.scope.symbol
        self.projector = SerialProjector(
            Projector(self.trading, ReadModelRecorder.for_trading(self.trading))
        )
        self.ready = asyncio.Event()
        self.connection: BinanceConnection | None = None
        self.executor: Executor | None = None
        self.runner: StrategyRunner | None = None
        self.market: MarketStream | None = None
        self.risk: RiskGuard | None = None
        self.clock: ExchangeClock | None = None
        self.config_version = 0
        self.config: RuntimeConfig | None = None
        self._strategy_key: tuple[str, str, str] | None = None
        self._supervisor = Supervisor()

    # ---- the whole life -------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> int:
        supervisor = self._supervisor
        supervisor.start("startup", self._start(), finite=True)
        failure = await supervisor.wait(stop)
        if failure is None:
            reason, code = "stopped", 0
        else:
            reason, code = f"task {failure.name} failed: {failure.error}", 1
            if is_storage_full(failure.exception):
                code = EXIT_STORAGE_FULL
                log.error(
                    "the database's storage is full: stopping, since nothing can be recorded "
                    "and so nothing may trade; a restart waits for space",
                    exit_code=code,
                )
        stopping = time.monotonic()
        if failure is not None:
            await self._bounded(self._alarm(TASK_ALARM, reason[:500]), "raising the alarm")
        await supervisor.shutdown(STOP_SECONDS)
        await self._close(reason, code)
        took = round(time.monotonic() - stopping, 3)
        log.info("bot stopped", reason=reason, exit_code=code, seconds=took)
        return code

    async def _bounded(self, coro: Any, what: str, seconds: float = RECORD_SECONDS) -> None:
        try:
            async with asyncio.timeout(seconds):
                await coro
        except Exception as exc:
            log.warning(f"{what} did not finish", error=repr(exc))

    async def _close(self, reason: str, code: int) -> None:
        env = self.trading.envelope(Source.BOT)
        # Not on the store thread: it may be stuck on a busy database; this call is bounded.
        await self._bounded(
            asyncio.to_thread(self.trading.record_bot_stopped, reason[:500], code, env),
            "recording the stop",
        )
        if self.executor is not None:
            await self._bounded(self.executor.close(), "the executor's close")
        if self.connection is not None:
            await self._bounded(self.connection.close(), "closing the exchange connection")
        if self.runner is not None:
            self.runner.close()
        self.store.shutdown(wait=False)
        self.trading.close()
        self.read.dispose()

    # ---- start-up -------------------------------------------------------------------------
    async def _start(self) -> None:
        stored = await asyncio.to_thread(ConfigStore(self.read).stored)
        config = self._parse(stored) or RuntimeConfig()
        self.config_version = stored.version
        connection = self.connection = await self._connect()
        gateway = connection.gateway
        rules = await gateway.symbol_rules(self.symbol)
        clock = self.clock = ExchangeClock(
            gateway.server_time, max_jump=interval_length(config.strategy.timeframe)
        )
        # Every event the bot records says when it happened by the exchange's clock.
        self.trading.exchange_clock = clock.now
        risk = self.risk = RiskGuard(config.risk, rules)
        # Orders resumed or filed before the market stream's first mark are sized with this;
        # without it the planner asks again when it needs a price.
        try:
            risk.on_mark(await gateway.mark_price(self.symbol))
        except ExchangeError as exc:
            log.warning("no mark price at start", error=str(exc)[:200])
        reconciler = Reconciler(
            self.trading,
            gateway,
            self.store,
            self.projector,
            self.health,
            symbol=self.symbol,
            interval=config.engine.reconcile_interval,
        )
        executor = self.executor = Executor(
            self.trading,
            gateway,
            self.store,
            self.projector,
            reconciler.request,
            risk,
            clock,
            symbol=self.symbol,
            default_leverage=config.trading.leverage,
            poll_interval=config.engine.command_poll_interval,
            crash_at=self.crash_at,
            read_engine=self.read,
        )
        ingestor = Ingestor(
            self.trading, self.store, on_recorded=self._recorded, on_failure=reconciler.request
        )
        protection = ProtectionMonitor(
            self.trading, gateway, self.store, executor, symbol=self.symbol, rules=rules
        )
        await self.store.call(self.projector.catch_up)
        await reconciler.reconcile("start")
        env = self.trading.envelope(Source.BOT)
        holder = f"{os.getpid()}@{socket.gethostname()}"
        await self.store.call(self.trading.record_bot_started, holder, env)
        # From here every save keeps the strategy's view of the account current.
        await self.store.call(self.trading.publish_view)
        start = self._supervisor.start
        start("executor", executor.run())
        await executor.ready.wait()
        start("reconciler", reconciler.run())
        start(
            "user-stream",
            UserStream(
                connection.streams,
                ingestor,
                reconciler.request,
                connection.metrics,
                self.health,
                watchdog_seconds=config.engine.stream_watchdog_seconds,
            ).run(),
        )
        start("heartbeat", self._heartbeat())
        start("protection", protection.run())
        start("stats", self._write_stats())
        await self._apply_leverage(config, stored.version)
        await self._start_strategy(config, stored.version)
        start("config-watch", self._watch_config())
        # What start-up allocated lives as long as the bot: out of the collector's way, so a
        # collection in the middle of a tick has less to walk.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        self.ready.set()
        log.info("bot running", symbol=self.symbol, strategy=config.strategy.name)

    def _parse(self, stored: StoredConfig) -> RuntimeConfig | None:
        try:
            config = stored.parsed()
        except ConfigError as exc:
            log.error("runtime config cannot load", error=str(exc))
            return None
        self.config = config
        return config

    async def _connect(self) -> BinanceConnection:
        """Keep trying until the exchange answers (a stop cancels this task)."""
        delay = 0.5
        while True:
            try:
                return await connect_exchange(self.settings, self.exchange_url)
            except (ExchangeError, OSError, TimeoutError) as exc:
                # Banned: no request before the ban ends (one sent during it lengthens it).
                until = getattr(exc, "banned_until", None)
                wait = (until - datetime.now(UTC)).total_seconds() if until else 0.0
                log.warning(
                    "exchange not reachable: retrying",
                    error=repr(exc),
                    in_seconds=round(max(delay, wait), 3),
                )
                await asyncio.sleep(max(delay, wait))
                delay = min(delay * 2, CONNECT_RETRY_MAX_SECONDS)
                continue

    # ---- the strategy ---------------------------------------------------------------------
    async def _start_strategy(self, config: RuntimeConfig | None, version: int) -> None:
        """Start (or restart, after a change) the strategy and the market stream it reads."""
        assert self.connection is not None and self.executor is not None
        assert self.risk is not None and self.clock is not None
        if config is None:
            await self._alarm(CONFIG_ALARM, f"runtime config version {version} cannot load")
            return
        key = (
            config.strategy.name,
            repr(sorted(config.strategy.params.items())),
            config.strategy.timeframe,
        )
        if key == self._strategy_key:
            return
        await self._stop_strategy()
        try:
            strategy = load_strategy(config.strategy.name, config.strategy.params)
        except (StrategyNotFound, ValueError, TypeError) as exc:
            message = f"version {version}: strategy {config.strategy.name!r} cannot load: {exc}"
            log.error("strategy not started", error=message)
            await self._alarm(CONFIG_ALARM, message[:500])
            return
        await self._clear_alarm(CONFIG_ALARM)
        runner = StrategyRunner(
            self.trading,
            self.store,
            strategy,
            name=config.strategy.name,
            symbol=self.symbol,
            sink=self.executor,
            read_engine=self.read,
            health=self.health,
        )
        self.clock.max_jump = interval_length(config.strategy.timeframe)
        market = MarketStream(
            self.connection.streams,
            self.connection.gateway,
            self.clock,
            self.connection.metrics,
            self.health,
            self.read,
            symbol=self.symbol,
            interval=config.strategy.timeframe,
            warmup=config.engine.warmup_candles,
            on_candle=runner.on_candle,
            on_mark=self.risk.on_mark,
        )
        history = await market.warm_up()
        if history and self.risk.mark_price is None:
            # Until the first mark price arrives, the last close is the best price to size with.
            self.risk.on_mark(history[-1].close)
        await runner.start(history)
        self.runner, self.market, self._strategy_key = runner, market, key
        self._supervisor.start("market-stream", market.run())
        log.info("strategy running", strategy=config.strategy.name, version=version)

    async def _stop_strategy(self) -> None:
        if self.market is None:
            return
        await self._supervisor.stop("market-stream", STOP_SECONDS)
        if self.runner is not None:
            self.runner.close()
        self.runner, self.market, self._strategy_key = None, None, None

    # ---- runtime config -------------------------------------------------------------------
    async def _watch_config(self) -> None:
        """Risk limits, leverage and strategy changes made in the web; the daily loss limit."""
        store = ConfigStore(self.read)
        while True:
            await asyncio.sleep(CONFIG_CHECK_SECONDS)
            stored = await asyncio.to_thread(store.stored)
            if stored.version != self.config_version:
                await self._config_changed(stored)
            await self._check_daily_loss()

    async def _config_changed(self, stored: StoredConfig) -> None:
        assert self.risk is not None
        previous = self.config
        self.config_version = stored.version
        config = self._parse(stored)
        log.info("runtime config changed", version=stored.version, loads=config is not None)
        if config is None:
            await self._alarm(CONFIG_ALARM, f"runtime config version {stored.version} cannot load")
            return
        self.risk.config = config.risk
        if previous is not None and config.trading.symbol != previous.trading.symbol:
            await self._alarm(
                "restart_needed",
                f"symbol {config.trading.symbol} takes effect at the next start "
                f"(trading {self.symbol})",
            )
        await self._apply_leverage(config, stored.version)
        await self._start_strategy(config, stored.version)

    async def _apply_leverage(self, config: RuntimeConfig | None, version: int) -> None:
        """File a SET_LEVERAGE Command when the exchange's leverage is not the configured one."""
        assert self.executor is not None
        if config is None:
            return
        wanted = config.trading.leverage
        position = await self.store.call(self.trading.position)
        if position.leverage == wanted:
            return
        command_id, new = await self.store.call(
            self.trading.submit_command,
            kind=CommandKind.SET_LEVERAGE.value,
            payload={"leverage": wanted},
            actor_type=ActorType.SYSTEM.value,
            actor_id="config",
            idempotency_key=f"config:{version}:leverage:{wanted}:{position.leverage}",
            source=Source.BOT,
        )
        if new:
            log.info("applying the configured leverage", leverage=wanted, was=position.leverage)
            self.executor.notify(command_id)
            self._supervisor.start(
                "leverage-check", self._leverage_outcome(command_id, wanted), finite=True
            )

    async def _leverage_outcome(self, command_id: Any, wanted: int) -> None:
        for _ in range(120):
            command = await self.store.call(self.trading.get_command, command_id)
            if command.is_finished:
                if command.status == "SUCCEEDED":
                    await self._clear_alarm(LEVERAGE_ALARM)
                else:
                    why = command.reason or command.last_error or command.status
                    await self._alarm(LEVERAGE_ALARM, f"leverage {wanted} not applied: {why}")
                return
            await asyncio.sleep(0.5)
        await self._alarm(LEVERAGE_ALARM, f"leverage {wanted}: no answer within a minute")

    async def _check_daily_loss(self) -> None:
        if self.executor is None or self.risk is None:
            return
        try:
            exposure = await self.executor.planner.exposure()
        except Exception:
            log.exception("daily loss check failed")
            return
        breach = self.risk.daily_loss_breach(exposure)
        if breach is not None:
            await self.executor.pause_for(breach)

    # ---- small duties ---------------------------------------------------------------------
    def _recorded(self, facts: list[UserFact]) -> None:
        assert self.executor is not None
        fills = [f for f in facts if isinstance(f, FillFact)]
        if fills:
            # Crash-matrix point (c): a fill is in the log, the read models not yet caught up.
            crash_here("after_fill", self.crash_at)
            for fill in fills:
                self.executor.entry_filled(fill.client_order_id)
        self.executor.catch_up_soon()

    async def _alarm(self, code: str, message: str) -> None:
        env = self.trading.envelope(Source.BOT)
        await self.store.call(self.trading.raise_alarm, code, message, env)

    async def _clear_alarm(self, code: str) -> None:
        env = self.trading.envelope(Source.BOT)
        await self.store.call(self.trading.clear_alarm, code, env)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.to_thread(self.health.set, "bot_heartbeat", "running")
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _write_stats(self) -> None:
        while True:
            await asyncio.sleep(STATS_SECONDS)
            await asyncio.to_thread(self.stats.write, self.counters())

    def counters(self) -> dict[str, int | float | Decimal]:
        found: dict[str, int | float | Decimal] = {}
        if self.connection is not None:
            found.update(self.connection.metrics)
        if self.executor is not None:
            found["commands_expired"] = self.executor.expired
            found.update(self.executor.timing_summary())
        if self.runner is not None:
            found["strategy_overruns"] = self.runner.overruns
            found["decisions_on_past_candles"] = self.runner.past_decisions
        if self.market is not None:
            found["market_malformed"] = self.market.malformed
            found["market_backfilled"] = self.market.backfilled
        return found
