"""The market: a seeded (or replayed) price path, 1m candles, klines and a finite book."""

from __future__ import annotations

import bisect
import csv
import math
import random
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .config import SimulatorConfig
from .decimals import ZERO, floor_to, round_to

MINUTE_MS = 60_000
_YEAR_SECONDS = 365 * 86_400

INTERVAL_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": 1440 * MINUTE_MS,
    "3d": 3 * 1440 * MINUTE_MS,
    "1w": 7 * 1440 * MINUTE_MS,
    "1M": 31 * 1440 * MINUTE_MS,  # upper bound; buckets follow calendar months
}
# Binance weeks start on Monday; the epoch was a Thursday.
_WEEK_OFFSET_MS = 4 * 1440 * MINUTE_MS
MAX_CANDLES = 200_000


def bucket_start(ms: int, interval: str) -> int:
    if interval == "1M":
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
        return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() * 1000)
    size = INTERVAL_MS[interval]
    if interval == "1w":
        return (ms - _WEEK_OFFSET_MS) // size * size + _WEEK_OFFSET_MS
    return ms // size * size


def bucket_end(start: int, interval: str) -> int:
    """Exclusive end of the bucket that starts at ``start``."""
    if interval == "1M":
        moment = datetime.fromtimestamp(start / 1000, tz=UTC)
        year, month = (
            (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        )
        return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)
    return start + INTERVAL_MS[interval]


@dataclass
class Candle:
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0
    taker_buy_base: Decimal = ZERO
    taker_buy_quote: Decimal = ZERO
    first_trade_id: int = 0
    last_trade_id: int = 0
    closed: bool = False

    def add(self, price: Decimal, qty: Decimal, trades: int, first_id: int, last_id: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.quote_volume += qty * price
        self.trades += trades
        half = floor_to(qty / 2, Decimal("0.001"))
        self.taker_buy_base += half
        self.taker_buy_quote += half * price
        if not self.first_trade_id:
            self.first_trade_id = first_id
        self.last_trade_id = last_id


@dataclass(frozen=True)
class Tick:
    index: int
    time_ms: int
    price: Decimal
    qty: Decimal
    trades: int
    first_trade_id: int
    last_trade_id: int
    closed: Candle | None


def _load_csv(path: str | Path) -> list[tuple[Decimal, Decimal, Decimal, Decimal, Decimal]]:
    """Binance kline CSV rows (openTime, open, high, low, close, volume, ...); header allowed."""
    rows: list[tuple[Decimal, Decimal, Decimal, Decimal, Decimal]] = []
    with open(path, newline="") as handle:
        for record in csv.reader(handle):
            if len(record) < 6 or not record[1].replace(".", "", 1).isdigit():
                continue
            o, h, low, c, v = (Decimal(x) for x in record[1:6])
            rows.append((o, h, low, c, v))
    return rows


class Market:
    def __init__(self, config: SimulatorConfig, start_ms: int, *, history: bool = True) -> None:
        """A path starting at ``start_ms``; ``history=False`` skips the warm-up candles (the
        caller restores a saved market over it)."""
        self.config = config
        self.rules = config.rules
        self.tick_size = config.rules.tick_size
        self.tick_ms = MINUTE_MS // config.ticks_per_candle
        self._rng = random.Random(config.seed)
        self._forced: deque[Decimal] = deque()
        self._replay: deque[tuple[Decimal, Decimal]] = deque()
        # Replay ticks used so far: a restored market skips as many of the same CSV.
        self.replay_consumed = 0
        start_price = config.start_price
        if config.kline_csv is not None:
            rows = _load_csv(config.kline_csv)
            if rows:
                start_price = rows[0][0]
                self._replay = deque(self._replay_ticks(rows))
        self.start_ms = start_ms
        self.last = round_to(start_price, self.tick_size)
        self.trade_id = 1_000_000
        self.tick_index = 0
        self.next_tick_ms = start_ms + self.tick_ms
        self.candles: list[Candle] = self._history(start_ms, self.last) if history else []
        self.candles.append(Candle(start_ms, self.last, self.last, self.last, self.last))
        self._book_cache: dict[str, list[Decimal]] = {}
        self._consumed: dict[tuple[str, int], Decimal] = {}

    # ------------------------------------------------------------------ price path

    @property
    def mark(self) -> Decimal:
        # Mark price equals the last price: keeps MARK_PRICE and CONTRACT_PRICE triggers consistent.
        return self.last

    @property
    def current(self) -> Candle:
        return self.candles[-1]

    def _step_return(self, rng: random.Random) -> float:
        dt = self.tick_ms / 1000 / _YEAR_SECONDS
        sigma = self.config.volatility
        r = (self.config.drift - 0.5 * sigma * sigma) * dt + sigma * math.sqrt(dt) * rng.gauss(0, 1)
        if self.config.jump_probability > 0 and rng.random() < self.config.jump_probability:
            r += rng.gauss(0, self.config.jump_volatility)
        return r

    def _apply_return(self, price: Decimal, r: float) -> Decimal:
        # The random factor is a float; the price itself stays a Decimal on the tick grid.
        moved = round_to(price * Decimal(repr(math.exp(r))), self.tick_size)
        return max(moved, self.tick_size)

    def _history(self, start_ms: int, end_price: Decimal) -> list[Candle]:
        """Seeded warm-up candles that end exactly at the start price (a walk run backwards)."""
        rng = random.Random(f"{self.config.seed}:history")
        n = self.config.history_candles
        k = self.config.ticks_per_candle
        prices = [end_price]
        for _ in range(n * k):
            prices.append(self._apply_return(prices[-1], -self._step_return(rng)))
        prices.reverse()
        candles: list[Candle] = []
        trade_id = 1
        for i in range(n):
            segment = prices[i * k : (i + 1) * k + 1]
            candle = Candle(
                start_ms - (n - i) * MINUTE_MS, segment[0], segment[0], segment[0], segment[0]
            )
            for price in segment[1:]:
                qty = Decimal(rng.randint(500, 5000)) / 1000
                trades = rng.randint(5, 60)
                candle.add(price, qty, trades, trade_id, trade_id + trades - 1)
                trade_id += trades
            candle.closed = True
            candles.append(candle)
        self.trade_id = trade_id
        return candles

    def _replay_ticks(
        self, rows: list[tuple[Decimal, Decimal, Decimal, Decimal, Decimal]]
    ) -> list[tuple[Decimal, Decimal]]:
        """Each CSV candle becomes ticks along open → low/high → high/low → close."""
        k = self.config.ticks_per_candle
        ticks: list[tuple[Decimal, Decimal]] = []
        for o, h, low, c, v in rows:
            waypoints = [o, low, h, c] if c >= o else [o, h, low, c]
            per_tick = floor_to(v / k, self.rules.step_size)
            for j in range(1, k + 1):
                pos = Decimal(j * 3) / k
                seg = min(int(pos), 2)
                frac = pos - seg
                price = waypoints[seg] + (waypoints[seg + 1] - waypoints[seg]) * frac
                ticks.append((round_to(price, self.tick_size), per_tick))
        return ticks

    def _next_price(self) -> tuple[Decimal, Decimal | None]:
        if self._forced:
            return self._forced.popleft(), None
        if self._replay:
            self.replay_consumed += 1
            return self._replay.popleft()
        return self._apply_return(self.last, self._step_return(self._rng)), None

    def due(self, sim_now_ms: int) -> bool:
        return self.next_tick_ms <= sim_now_ms

    def advance(self) -> Tick:
        """Move the path one tick; closes the current candle on the minute boundary."""
        price, replay_qty = self._next_price()
        qty = replay_qty if replay_qty is not None else Decimal(self._rng.randint(500, 5000)) / 1000
        trades = self._rng.randint(5, 60)
        time_ms = self.next_tick_ms
        self.tick_index += 1
        self.next_tick_ms += self.tick_ms
        return self._record(price, qty, trades, time_ms)

    def _record(self, price: Decimal, qty: Decimal, trades: int, time_ms: int) -> Tick:
        first_id = self.trade_id
        self.trade_id += trades
        self.last = price
        self._book_cache.clear()
        self._consumed.clear()
        candle = self.current
        candle.add(price, qty, trades, first_id, self.trade_id - 1)
        closed: Candle | None = None
        if time_ms >= candle.open_time + MINUTE_MS:
            candle.closed = True
            closed = candle
            self.candles.append(Candle(candle.open_time + MINUTE_MS, price, price, price, price))
            if len(self.candles) > MAX_CANDLES:
                del self.candles[: len(self.candles) - MAX_CANDLES]
        return Tick(
            self.tick_index, time_ms, price, qty, trades, first_id, self.trade_id - 1, closed
        )

    def jump(self, target: Decimal, time_ms: int) -> Tick:
        """An immediate trade at ``target`` (no clock movement); the path continues from there."""
        self._forced.clear()
        price = max(round_to(target, self.tick_size), self.tick_size)
        first_id = self.trade_id
        self.trade_id += 1
        self.last = price
        self._book_cache.clear()
        self._consumed.clear()
        self.current.add(price, self.rules.min_qty, 1, first_id, first_id)
        return Tick(
            self.tick_index, time_ms, price, self.rules.min_qty, 1, first_id, first_id, None
        )

    def drift_to(self, target: Decimal, ticks: int | None = None) -> None:
        """Walk linearly to ``target`` over the next ticks (one candle by default)."""
        n = ticks or self.config.ticks_per_candle
        start = self.last
        self._forced = deque(
            max(round_to(start + (target - start) * Decimal(i) / n, self.tick_size), self.tick_size)
            for i in range(1, n + 1)
        )

    # ------------------------------------------------------------------ persistence

    def cursor(self) -> dict[str, Any]:
        """Where the path stands (JSON-ready): restoring it continues the very same path."""
        version, internal, gauss_next = self._rng.getstate()
        return {
            "start_ms": self.start_ms,
            "last": str(self.last),
            "trade_id": self.trade_id,
            "tick_index": self.tick_index,
            "next_tick_ms": self.next_tick_ms,
            "rng": [version, list(internal), gauss_next],
            "forced": [str(p) for p in self._forced],
            "replay_consumed": self.replay_consumed,
            "consumed": [[side, level, str(qty)] for (side, level), qty in self._consumed.items()],
        }

    def restore_cursor(self, cursor: dict[str, Any], candles: list[Candle]) -> None:
        version, internal, gauss_next = cursor["rng"]
        self._rng.setstate((int(version), tuple(int(x) for x in internal), gauss_next))
        self.start_ms = int(cursor["start_ms"])
        self.last = Decimal(cursor["last"])
        self.trade_id = int(cursor["trade_id"])
        self.tick_index = int(cursor["tick_index"])
        self.next_tick_ms = int(cursor["next_tick_ms"])
        self._forced = deque(Decimal(p) for p in cursor["forced"])
        consumed = int(cursor["replay_consumed"])
        for _ in range(min(consumed, len(self._replay))):
            self._replay.popleft()
        self.replay_consumed = consumed
        self._book_cache.clear()
        self._consumed = {(str(s), int(lv)): Decimal(q) for s, lv, q in cursor["consumed"]}
        if not candles or candles[-1].closed:
            raise ValueError("the saved market has no forming candle")
        self.candles = candles

    # ------------------------------------------------------------------ order book

    def _level_sizes(self, side: str, count: int) -> list[Decimal]:
        sizes = self._book_cache.get(side)
        if sizes is None or len(sizes) < count:
            rng = random.Random(f"{self.config.seed}:{self.tick_index}:{side}:{self.last}")
            low = int(self.config.book_level_min_qty / self.rules.step_size)
            high = int(self.config.book_level_max_qty / self.rules.step_size)
            sizes = [Decimal(rng.randint(low, high)) * self.rules.step_size for _ in range(count)]
            self._book_cache[side] = sizes
        return sizes

    def level_price(self, side: str, level: int) -> Decimal:
        """``side`` is the book side: "ask" levels start at last, "bid" levels one tick below."""
        offset = self.tick_size * self.config.book_level_ticks * level
        if side == "ask":
            return self.last + offset
        return self.last - self.tick_size - offset

    def book(self, side: str, depth: int) -> list[tuple[Decimal, Decimal]]:
        sizes = self._level_sizes(side, max(depth, 1))
        levels: list[tuple[Decimal, Decimal]] = []
        for i in range(depth):
            price = self.level_price(side, i)
            if price <= 0:
                break
            qty = sizes[i] - self._consumed.get((side, i), ZERO)
            if qty > 0:
                levels.append((price, qty))
        return levels

    @property
    def best_ask(self) -> Decimal:
        return self.level_price("ask", 0)

    @property
    def best_bid(self) -> Decimal:
        return self.level_price("bid", 0)

    def sweep(
        self, taker_side: str, qty: Decimal, limit: Decimal | None, *, commit: bool
    ) -> list[tuple[Decimal, Decimal]]:
        """Fills a taker of ``qty`` would get walking the book up to ``limit`` (None = no limit)."""
        book_side = "ask" if taker_side == "BUY" else "bid"
        fills: list[tuple[Decimal, Decimal]] = []
        remaining = qty
        level = 0
        while remaining > 0 and level < 2000:
            price = self.level_price(book_side, level)
            if price <= 0 or (
                limit is not None and (price > limit if taker_side == "BUY" else price < limit)
            ):
                break
            size = self._level_sizes(book_side, level + 1)[level] - self._consumed.get(
                (book_side, level), ZERO
            )
            if size > 0:
                take = min(size, remaining)
                fills.append((price, take))
                remaining -= take
                if commit:
                    self._consumed[(book_side, level)] = (
                        self._consumed.get((book_side, level), ZERO) + take
                    )
            level += 1
        return fills

    def touch_size(self) -> Decimal:
        """Volume available to a resting order whose price the market only touches this tick."""
        return self._level_sizes("touch", 1)[0]

    # ------------------------------------------------------------------ klines

    def klines(self, interval: str, start: int | None, end: int | None, limit: int) -> list[Candle]:
        if start is None:
            reach = (end if end is not None else self.current.open_time) - INTERVAL_MS[interval] * (
                limit + 1
            )
        else:
            reach = start
        times = [c.open_time for c in self.candles]
        idx = max(0, bisect.bisect_left(times, bucket_start(reach, interval)))
        bars: list[Candle] = []
        for candle in self.candles[idx:]:
            if end is not None and candle.open_time > end:
                break
            b_start = bucket_start(candle.open_time, interval)
            if bars and bars[-1].open_time == b_start:
                bar = bars[-1]
                bar.high = max(bar.high, candle.high)
                bar.low = min(bar.low, candle.low)
                bar.close = candle.close
                bar.volume += candle.volume
                bar.quote_volume += candle.quote_volume
                bar.trades += candle.trades
                bar.taker_buy_base += candle.taker_buy_base
                bar.taker_buy_quote += candle.taker_buy_quote
                bar.last_trade_id = candle.last_trade_id or bar.last_trade_id
                bar.closed = candle.closed and candle.open_time + MINUTE_MS >= bucket_end(
                    b_start, interval
                )
            else:
                bar = replace(candle, open_time=b_start)
                bar.closed = candle.closed and candle.open_time + MINUTE_MS >= bucket_end(
                    b_start, interval
                )
                bars.append(bar)
        if start is not None:
            bars = [b for b in bars if b.open_time >= bucket_start(start, interval)]
            return bars[:limit]
        return bars[-limit:]

    def bar(self, interval: str) -> Candle:
        """The forming bar of ``interval`` (or, right after a close, the bar just closed)."""
        return self.klines(interval, None, None, 1)[-1]
