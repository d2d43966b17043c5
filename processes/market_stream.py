"""Market data for the strategy: closed candles in order, without gaps, and the mark price.

One session carries the configured interval's klines and the mark price. Only a kline's final
update is a candle. A candle that does not follow the previous one means the stream missed some:
the missing ones are read from REST and delivered first, marked as history. Only the newest
closed candle is delivered `live` (a decision may trade on it); a backfilled or late one updates
the strategy's view but cannot place an order.

Input is guarded: another symbol or interval, a price that is not positive, a kline dated more
than one interval ahead of the exchange clock, or a mark whose time is not believable is skipped
and counted as malformed, so no single frame can blind the stream or move its clock for good.

The session is watched over its whole life: opening, reading and closing each have a deadline,
and more than SILENCE_SECONDS without a message (the mark price ticks every second) ends it.
Candles go to `market_candles` (the chart) and the mark to `market_marks`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, Table, insert, update

from aggregates.market import INTERVAL_MS, Candle, interval_length
from aggregates.ports import (
    Counters,
    ExchangeError,
    ExchangeGateway,
    ExchangeStreams,
    KlineUpdate,
    Malformed,
    MarketSession,
    MarkUpdate,
    StreamClosed,
)
from processes.exchange_clock import ExchangeClock
from processes.health import HealthWriter
from processes.log_throttle import LogThrottle
from processes.reconnect_pacing import ReconnectPacing
from projections.schema import market_candles, market_marks

log = structlog.get_logger(__name__)

KLINES_PAGE = 1000
# The chart's copies (candles, the mark) are written together, at most once a second and never
# right after a candle: the decision on that candle is committing then, and SQLite has one writer.
WRITE_SECONDS = 1.0
AFTER_CANDLE_SECONDS = 0.2
# markPrice@1s ticks every second: a longer silence means a stalled socket.
SILENCE_SECONDS = 4.0

CandleHandler = Callable[[Candle, bool], Awaitable[None]]


class BadMarketData(ValueError):
    pass


def _upsert(conn: Connection, table: Table, keys: dict[str, Any], values: dict[str, Any]) -> None:
    where = [table.c[name] == value for name, value in keys.items()]
    if not conn.execute(update(table).where(*where).values(**values)).rowcount:
        conn.execute(insert(table).values(**keys, **values))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class MarketStream:
    def __init__(
        self,
        streams: ExchangeStreams,
        gateway: ExchangeGateway,
        clock: ExchangeClock,
        counters: Counters,
        health: HealthWriter,
        read_engine: Engine,
        *,
        symbol: str,
        interval: str,
        warmup: int,
        on_candle: CandleHandler,
        on_mark: Callable[[Decimal], None] | None = None,
        silence_seconds: float = SILENCE_SECONDS,
    ) -> None:
        self.streams = streams
        self.gateway = gateway
        self.clock = clock
        self.counters = counters
        self.health = health
        self.engine = read_engine
        self.symbol = symbol
        self.interval = interval
        self.step = interval_length(interval)
        self.interval_ms = INTERVAL_MS[interval]
        self.warmup = warmup
        self.on_candle = on_candle
        self.on_mark = on_mark
        self.silence_seconds = silence_seconds
        self.last_open_time: datetime | None = None
        self.mark_price: Decimal | None = None
        self.malformed = 0
        self.backfilled = 0
        self.sessions = 0
        self.connected = asyncio.Event()
        self._unwritten: list[Candle] = []
        self._unwritten_mark: tuple[Decimal, datetime] | None = None
        self._last_candle_at = 0.0
        self._malformed_log = LogThrottle()
        self._ended_log = LogThrottle()

    # ---- history --------------------------------------------------------------------------
    async def warm_up(self) -> list[Candle]:
        """The last `warmup` closed candles from REST, stored for the chart."""
        await self._synchronise_clock()
        if self.warmup <= 0:
            return []
        candles = await self.gateway.klines(self.symbol, self.interval, limit=self.warmup + 1)
        candles = candles[-self.warmup :]
        await asyncio.to_thread(self._store_candles, candles)
        if candles:
            self.last_open_time = candles[-1].open_time
        return candles

    async def _synchronise_clock(self) -> None:
        """The exchange's market time from REST: the bar in progress has opened already."""
        closed = await self.gateway.klines(self.symbol, self.interval, limit=2)
        if closed:
            self.clock.synchronise(closed[-1].open_time + self.step)

    def _store_candles(self, candles: list[Candle]) -> None:
        if not candles:
            return
        with self.engine.begin() as conn:
            for c in candles:
                _upsert(
                    conn,
                    market_candles,
                    {"symbol": c.symbol, "interval": c.interval, "open_time": c.open_time},
                    {
                        "open": c.open,
                        "high": c.high,
                        "low": c.low,
                        "close": c.close,
                        "volume": c.volume,
                        "close_time": c.close_time,
                    },
                )

    def _store_mark(self, price: Decimal, at: datetime) -> None:
        with self.engine.begin() as conn:
            _upsert(conn, market_marks, {"symbol": self.symbol}, {"mark_price": price, "time": at})

    async def _write_for_the_chart(self) -> None:
        while True:
            await asyncio.sleep(WRITE_SECONDS)
            wait = self._last_candle_at + AFTER_CANDLE_SECONDS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._flush()

    async def _flush(self) -> None:
        candles, self._unwritten = self._unwritten, []
        mark, self._unwritten_mark = self._unwritten_mark, None
        if candles:
            await asyncio.to_thread(self._store_candles, candles)
        if mark is not None:
            await asyncio.to_thread(self._store_mark, *mark)
        # Liveness noted since the last write (this stream's, the strategy's): written here,
        # where nothing is deciding, never right after a candle.
        await asyncio.to_thread(self.health.flush)

    # ---- live -----------------------------------------------------------------------------
    async def run(self) -> None:
        writer = asyncio.create_task(self._write_for_the_chart(), name="market-chart-writer")
        try:
            await self._run()
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(writer, 1.0)

    async def _run(self) -> None:
        pacing = ReconnectPacing()
        while True:
            session: MarketSession | None = None
            try:
                session = await self.streams.open_market(self.symbol, self.interval)
                pacing.opened()
                self.sessions += 1
                self.connected.set()
                await self._synchronise_clock()
                await self._consume(session)
            except (StreamClosed, TimeoutError) as exc:
                if self._ended_log.allow():
                    log.warning(
                        "market stream ended: reconnecting",
                        reason=str(exc) or "silence",
                        failures=pacing.failures,
                        unreported=self._ended_log.take_suppressed(),
                    )
            except ExchangeError as exc:
                if self._ended_log.allow():
                    log.warning(
                        "market stream failed",
                        error=f"{type(exc).__name__}: {exc}",
                        failures=pacing.failures,
                        unreported=self._ended_log.take_suppressed(),
                    )
            finally:
                self.connected.clear()
                if session is not None:
                    await session.close()
            self.counters.inc("market_gaps")
            self.counters.inc("market_reconnects")
            await asyncio.sleep(pacing.ended())

    async def _consume(self, session: MarketSession) -> None:
        while True:
            try:
                async with asyncio.timeout(self.silence_seconds):
                    item = await session.receive()
            except TimeoutError:
                raise TimeoutError(f"no market message for {self.silence_seconds:g} s") from None
            self.counters.inc("market_messages")
            self.health.note("market_stream_message")
            try:
                if isinstance(item, Malformed):
                    raise BadMarketData(item.reason)
                if isinstance(item, MarkUpdate):
                    await self._observe(item.event_time)
                    await self._mark(item)
                elif isinstance(item, KlineUpdate):
                    await self._observe(item.event_time)
                    self._check_kline(item)
                    if item.closed:
                        await self._closed(item.candle)
            except BadMarketData as exc:
                self.malformed += 1
                self.counters.inc("malformed_messages")
                if self._malformed_log.allow():
                    log.warning(
                        "malformed market message skipped",
                        error=str(exc)[:300],
                        raw=item.raw if isinstance(item, Malformed) else repr(item)[:500],
                        skipped_since_last_report=self._malformed_log.take_suppressed(),
                    )

    async def _observe(self, event_time: datetime) -> None:
        """The exchange's time on an event moves our clock, when it is believable."""
        if self.clock.observe(event_time):
            return
        # Far ahead of the clock: after a stall the exchange really is there, or the frame is
        # forged. REST says which.
        await self._synchronise_clock()
        if not self.clock.observe(event_time):
            raise BadMarketData(f"event time {event_time.isoformat()} is in the future")

    def _check_kline(self, update: KlineUpdate) -> None:
        candle = update.candle
        if candle.symbol != self.symbol or candle.interval != self.interval:
            raise BadMarketData(f"kline of {candle.symbol} {candle.interval}, not ours")
        prices = (candle.open, candle.high, candle.low, candle.close)
        if not all(p.is_finite() and p > 0 for p in prices) or not candle.volume.is_finite():
            raise BadMarketData(f"kline prices must be positive: {prices}")
        if candle.low > candle.high or candle.volume < 0:
            raise BadMarketData("kline low above high or negative volume")
        span = candle.close_time - candle.open_time
        if span >= self.step or span <= timedelta(0):
            raise BadMarketData("kline times do not span its interval")
        if candle.open_time > self.clock.now() + self.step:
            raise BadMarketData(
                f"kline opens at {candle.open_time.isoformat()}, more than one interval ahead "
                f"of the exchange clock ({self.clock.now().isoformat()})"
            )

    async def _mark(self, mark: MarkUpdate) -> None:
        if mark.symbol != self.symbol:
            raise BadMarketData(f"mark price of {mark.symbol}, not ours")
        if not (mark.price.is_finite() and mark.price > 0):
            raise BadMarketData(f"mark price must be positive: {mark.price}")
        self.mark_price = mark.price
        if self.on_mark is not None:
            self.on_mark(mark.price)
        self._unwritten_mark = (mark.price, mark.event_time)

    async def _closed(self, candle: Candle) -> None:
        last = self.last_open_time
        if last is not None and candle.open_time <= last:
            return  # seen already (a replay after reconnect, or the warm-up's last bar)
        missing: list[Candle] = []
        if last is not None:
            expected_ms = _ms(last) + self.interval_ms
            open_ms = _ms(candle.open_time)
            if open_ms > expected_ms:
                missing = await self._backfill(expected_ms, open_ms - 1)
        for c in missing:
            await self._deliver(c, live=False)
        # A closed kline that arrives after its successor should have closed is history too.
        fresh = candle.close_time + self.step >= self.clock.now()
        await self._deliver(candle, live=fresh)
        self._unwritten.extend([*missing, candle])
        self._last_candle_at = time.monotonic()

    async def _deliver(self, candle: Candle, *, live: bool) -> None:
        if self.last_open_time is not None and candle.open_time <= self.last_open_time:
            return
        self.last_open_time = candle.open_time
        # The strategy first: the chart's copy of the candle is not on the tick-to-order path.
        await self.on_candle(candle, live)

    async def _backfill(self, start_ms: int, end_ms: int) -> list[Candle]:
        count = (end_ms - start_ms) // self.interval_ms + 1
        log.warning("candle gap: backfilling from REST", missing=count)
        try:
            candles = await self.gateway.klines(
                self.symbol, self.interval, limit=count, start_ms=start_ms, end_ms=end_ms
            )
        except ExchangeError as exc:
            # Deliver the live candle anyway; the strategy sees a gap rather than stalling.
            log.error("candle backfill failed", error=str(exc))
            return []
        candles = [c for c in candles if c.symbol == self.symbol and c.interval == self.interval]
        self.backfilled += len(candles)
        return candles
