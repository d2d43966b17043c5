"""Market data for the strategy: closed candles in order, without gaps, and the mark price.

One multiplexed socket carries `<symbol>@kline_<interval>` and `<symbol>@markPrice@1s`. Only a
kline's final update (x: true) is a candle; a candle that does not follow the previous one means
the stream missed some, and the missing ones are read from REST before it is delivered. Candles
go to `market_candles` (the chart) and the mark to `market_marks`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Connection, Engine, Table, insert, update

from adapters.binance.connection import BinanceConnection
from adapters.binance.parsing import ms_to_datetime
from adapters.binance.sockets import SocketPump
from processes.health import HealthWriter
from processes.ingest import raw_text
from processes.ports import ExchangeError
from projections.schema import market_candles, market_marks

log = structlog.get_logger(__name__)

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
KLINES_PAGE = 1000
MARK_WRITE_SECONDS = 1.0
# markPrice@1s ticks every second: a longer silence means a stalled socket.
SILENCE_SECONDS = 15.0


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


class _Kline(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    t: int
    T: int
    s: str
    i: str
    o: Decimal
    c: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - Binance's field name
    v: Decimal
    x: bool


class _KlineEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    k: _Kline


class _MarkEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    p: Decimal
    E: int


def _candle_from_row(symbol: str, interval: str, row: Any) -> Candle:
    """A REST kline row: [openTime, open, high, low, close, volume, closeTime, ...]."""
    if not isinstance(row, list) or len(row) < 7:
        raise ValueError(f"not a kline row: {row!r}"[:200])
    return Candle(
        symbol=symbol,
        interval=interval,
        open_time=ms_to_datetime(int(row[0])),
        close_time=ms_to_datetime(int(row[6])),
        open=Decimal(str(row[1])),
        high=Decimal(str(row[2])),
        low=Decimal(str(row[3])),
        close=Decimal(str(row[4])),
        volume=Decimal(str(row[5])),
    )


def _upsert(conn: Connection, table: Table, keys: dict[str, Any], values: dict[str, Any]) -> None:
    where = [table.c[name] == value for name, value in keys.items()]
    if not conn.execute(update(table).where(*where).values(**values)).rowcount:
        conn.execute(insert(table).values(**keys, **values))


class MarketStream:
    def __init__(
        self,
        connection: BinanceConnection,
        health: HealthWriter,
        read_engine: Engine,
        *,
        symbol: str,
        interval: str,
        warmup: int,
        on_candle: Callable[[Candle], Awaitable[None]],
        on_mark: Callable[[Decimal], None] | None = None,
    ) -> None:
        if interval not in INTERVAL_MS:
            raise ValueError(f"unsupported kline interval {interval!r}")
        self.connection = connection
        self.health = health
        self.engine = read_engine
        self.symbol = symbol
        self.interval = interval
        self.interval_ms = INTERVAL_MS[interval]
        self.warmup = warmup
        self.on_candle = on_candle
        self.on_mark = on_mark
        self.metrics = connection.metrics
        self.last_open_time: datetime | None = None
        self.mark_price: Decimal | None = None
        self.malformed = 0
        self.backfilled = 0
        self._mark_written = 0.0

    # ---- history --------------------------------------------------------------------------
    async def warm_up(self) -> list[Candle]:
        """The last `warmup` closed candles from REST, stored for the chart."""
        if self.warmup <= 0:
            return []
        candles = await self._closed_klines(limit=self.warmup + 1)
        candles = candles[-self.warmup :]
        await asyncio.to_thread(self._store_candles, candles)
        if candles:
            self.last_open_time = candles[-1].open_time
        return candles

    async def _closed_klines(
        self, *, limit: int, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[Candle]:
        """Klines from REST without the bar still in progress (the last row, until it closes)."""
        params: dict[str, Any] = {"symbol": self.symbol, "interval": self.interval}
        params["limit"] = min(limit, KLINES_PAGE)
        if start_ms is not None:
            params["startTime"] = start_ms
        if end_ms is not None:
            params["endTime"] = end_ms
        rows = await self.connection.governor.request("get", "klines", params, signed=False)
        if not isinstance(rows, list):
            raise ValueError(f"klines: expected a list, got {type(rows).__name__}")
        candles = [_candle_from_row(self.symbol, self.interval, row) for row in rows]
        if end_ms is None and candles:
            # Without an end the answer runs up to now, and its last bar is the open one.
            candles = candles[:-1]
        return candles

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

    # ---- live -----------------------------------------------------------------------------
    async def run(self) -> None:
        name = self.symbol.lower()
        streams = f"streams={name}@kline_{self.interval}/{name}@markPrice@1s"
        root = self.connection.endpoints.stream + "market/"
        failures = 0
        while True:
            try:
                async with SocketPump(root, "stream?", streams) as pump:
                    failures = 0
                    await self._consume(pump.queue)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("market stream failed", error=f"{type(exc).__name__}: {exc}")
            self.metrics.inc("market_gaps")
            self.metrics.inc("market_reconnects")
            await asyncio.sleep(min(30.0, 0.2 * 2**failures) if failures else 0.0)

    async def _consume(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), timeout=SILENCE_SECONDS)
            except TimeoutError:
                log.warning("market stream silent: reconnecting", seconds=SILENCE_SECONDS)
                return
            self.metrics.inc("market_messages")
            if self.health.due("market_stream_message"):
                await asyncio.to_thread(self.health.set, "market_stream_message")
            if isinstance(message, dict) and message.get("e") == "error":
                log.warning("market socket dropped", type=message.get("type"))
                return
            try:
                await self._handle(message)
            except (ValidationError, ValueError, TypeError, KeyError) as exc:
                self.malformed += 1
                self.metrics.inc("malformed_messages")
                log.warning(
                    "malformed market message skipped",
                    error=str(exc)[:300],
                    raw=raw_text(message),
                )

    async def _handle(self, message: Any) -> None:
        if not isinstance(message, dict):
            raise ValueError(f"expected a JSON object, got {type(message).__name__}")
        stream = str(message.get("stream", ""))
        data = message.get("data")
        if not isinstance(data, dict):
            raise ValueError("combined-stream message without data")
        if "@markPrice" in stream:
            await self._mark(_MarkEvent.model_validate(data))
        elif "@kline_" in stream:
            kline = _KlineEvent.model_validate(data).k
            if kline.x:
                await self._closed(
                    Candle(
                        symbol=kline.s,
                        interval=kline.i,
                        open_time=ms_to_datetime(kline.t),
                        close_time=ms_to_datetime(kline.T),
                        open=kline.o,
                        high=kline.h,
                        low=kline.l,
                        close=kline.c,
                        volume=kline.v,
                    )
                )

    async def _mark(self, event: _MarkEvent) -> None:
        self.mark_price = event.p
        if self.on_mark is not None:
            self.on_mark(event.p)
        now = asyncio.get_running_loop().time()
        if now - self._mark_written >= MARK_WRITE_SECONDS:
            self._mark_written = now
            await asyncio.to_thread(self._store_mark, event.p, ms_to_datetime(event.E))

    async def _closed(self, candle: Candle) -> None:
        last = self.last_open_time
        if last is not None and candle.open_time <= last:
            return  # seen already (a replay after reconnect, or the warm-up's last bar)
        missing: list[Candle] = []
        if last is not None:
            expected_ms = int(last.timestamp() * 1000) + self.interval_ms
            open_ms = int(candle.open_time.timestamp() * 1000)
            if open_ms > expected_ms:
                missing = await self._backfill(expected_ms, open_ms - 1)
        for c in [*missing, candle]:
            if self.last_open_time is not None and c.open_time <= self.last_open_time:
                continue
            self.last_open_time = c.open_time
            # The strategy first: the chart's copy of the candle is not on the tick-to-order path.
            await self.on_candle(c)
            await asyncio.to_thread(self._store_candles, [c])

    async def _backfill(self, start_ms: int, end_ms: int) -> list[Candle]:
        count = (end_ms - start_ms) // self.interval_ms + 1
        log.warning("candle gap: backfilling from REST", missing=count)
        try:
            candles = await self._closed_klines(limit=count, start_ms=start_ms, end_ms=end_ms)
        except ExchangeError as exc:
            # Deliver the live candle anyway; the strategy sees a gap rather than stalling.
            log.error("candle backfill failed", error=str(exc))
            return []
        self.backfilled += len(candles)
        return candles
