"""Market data against the simulator (60x speed: a 1m candle closes every second)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import func, select

from adapters.simulator import SimulatorServer
from aggregates.market import Candle
from processes.market_stream import MarketStream
from projections.schema import health, market_candles, market_marks
from tests.adapter.conftest import SYMBOL, World, add_fault, sim_config
from tests.waiting import eventually

MINUTE = timedelta(minutes=1)


class Delivered:
    def __init__(self) -> None:
        self.live: list[Candle] = []
        self.past: list[Candle] = []

    @property
    def all(self) -> list[Candle]:
        return sorted([*self.live, *self.past], key=lambda c: c.open_time)

    async def __call__(self, candle: Candle, live: bool) -> None:
        (self.live if live else self.past).append(candle)


def stream_for(world: World, delivered: Delivered, marks: list[Decimal]) -> MarketStream:
    return world.market_stream(delivered, marks.append)


def assert_contiguous(candles: list[Candle]) -> None:
    for before, after in pairwise(candles):
        assert after.open_time - before.open_time == MINUTE, (before.open_time, after.open_time)


async def test_warm_up_then_closed_candles_in_order_with_the_mark(world: World) -> None:
    delivered, marks = Delivered(), list[Decimal]()
    stream = stream_for(world, delivered, marks)
    history = await stream.warm_up()
    assert len(history) == 20
    assert_contiguous(history)
    world.start(stream.run())
    await eventually(lambda: len(delivered.live) >= 3 and bool(marks), timeout=10)
    assert_contiguous([*history, *delivered.all])  # the first live candle follows the warm-up
    assert all(isinstance(c.close, Decimal) for c in delivered.live)

    def stored_for_the_chart() -> bool:
        # Written in the background, at most once a second, never right after a candle.
        with world.health.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(market_candles)).scalar()
            mark = conn.execute(select(market_marks.c.mark_price)).scalar()
            keys = set(conn.execute(select(health.c.key)).scalars())
        return bool(stored and stored >= 23 and mark and mark > 0) and (
            "market_stream_message" in keys
        )

    await eventually(stored_for_the_chart, timeout=10)


async def test_candles_lost_in_a_stall_are_backfilled_as_history(world: World) -> None:
    delivered = Delivered()
    stream = stream_for(world, delivered, [])
    await stream.warm_up()
    world.start(stream.run())
    await eventually(lambda: len(delivered.live) >= 1, timeout=10)
    await add_fault(world.sim, kind="stall_websockets", duration_seconds=3)
    stalled_at = time.monotonic()
    await eventually(lambda: stream.backfilled >= 2, timeout=15)
    live_after = len(delivered.live)
    await eventually(lambda: len(delivered.live) > live_after, timeout=10)
    # Back within 5 s of the stall clearing, the gap filled from REST, none of it traded on.
    assert time.monotonic() - stalled_at < 3 + 5 + 2
    assert len(delivered.past) >= 2
    assert_contiguous(delivered.all)


async def test_a_server_side_close_reconnects_within_seconds(world: World) -> None:
    delivered = Delivered()
    stream = stream_for(world, delivered, [])
    await stream.warm_up()
    world.start(stream.run())
    await eventually(lambda: len(delivered.live) >= 1, timeout=10)
    for round_ in range(3):
        await add_fault(world.sim, kind="drop_websockets")
        dropped_at = time.monotonic()

        def reconnected(sessions: int = round_ + 2) -> bool:
            return stream.sessions >= sessions

        await eventually(reconnected, timeout=5)
        count = len(delivered.live)

        def delivering(before: int = count) -> bool:
            return len(delivered.live) > before

        await eventually(delivering, timeout=5)
        assert time.monotonic() - dropped_at < 5
    assert world.connection.metrics["market_reconnects"] >= 3
    assert_contiguous(delivered.all)


async def test_twenty_drops_leave_no_connection_behind(world: World) -> None:
    delivered = Delivered()
    stream = stream_for(world, delivered, [])
    await stream.warm_up()
    world.start(stream.run())
    await eventually(lambda: stream.connected.is_set() and len(delivered.live) >= 1, timeout=10)
    before = established_to(world.sim.port)
    for round_ in range(20):
        await add_fault(world.sim, kind="drop_websockets")

        def reconnected(sessions: int = round_ + 2) -> bool:
            return stream.sessions >= sessions and stream.connected.is_set()

        await eventually(reconnected, timeout=5)
    await eventually(lambda: len(world.sim.hub.market) == 1, timeout=5)
    await eventually(lambda: established_to(world.sim.port) == before, timeout=5)


def established_to(port: int) -> int:
    """This process's established TCP connections to `port` (client ends only)."""
    import psutil

    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port == port
    )


async def test_a_restarted_exchange_on_the_same_port_is_followed(world: World) -> None:
    delivered = Delivered()
    stream = stream_for(world, delivered, [])
    await stream.warm_up()
    world.start(stream.run())
    await eventually(lambda: len(delivered.live) >= 1, timeout=10)
    port = world.sim.port
    await world.sim.stop()
    reconnects = world.connection.metrics.get("market_reconnects", 0)
    await asyncio.sleep(1.5)
    # While the port refuses, attempts back off (0.1 s, 0.2 s, ...) instead of spinning.
    assert world.connection.metrics.get("market_reconnects", 0) - reconnects <= 6
    replacement = SimulatorServer(sim_config())
    await replacement.start(host="127.0.0.1", port=port)
    started = time.monotonic()
    try:
        await eventually(lambda: bool(replacement.hub.market), timeout=5)
        assert time.monotonic() - started < 5
        count = len(delivered.live) + len(delivered.past)
        await eventually(lambda: len(delivered.live) + len(delivered.past) > count, timeout=10)
    finally:
        await replacement.stop()


def frame(stream: str, data: object) -> str:
    return json.dumps({"stream": stream, "data": data})


def kline(**fields: object) -> dict[str, object]:
    k: dict[str, object] = {
        "t": 0,
        "T": 59_999,
        "s": SYMBOL,
        "i": "1m",
        "o": "1",
        "c": "1",
        "h": "1",
        "l": "1",
        "v": "1",
        "x": True,
    }
    k.update(fields)
    return {"e": "kline", "E": 1, "k": k}


async def test_foreign_negative_and_future_klines_are_skipped_and_counted(world: World) -> None:
    delivered = Delivered()
    stream = stream_for(world, delivered, [])
    history = await stream.warm_up()
    world.start(stream.run())
    await eventually(lambda: len(delivered.live) >= 1, timeout=10)
    last = history[-1].open_time
    base = int(last.timestamp() * 1000)
    month = 30 * 24 * 3600 * 1000
    bad = [
        frame("btcusdt@kline_1m", kline(s="ETHUSDT", t=base + 60_000, T=base + 119_999)),
        frame("btcusdt@kline_1m", kline(i="5m", t=base + 60_000, T=base + 119_999)),
        frame("btcusdt@kline_1m", kline(c="-5", t=base + 60_000, T=base + 119_999)),
        frame("btcusdt@kline_1m", kline(t=base + month, T=base + month + 59_999)),
        frame("btcusdt@markPrice@1s", {"e": "markPriceUpdate", "E": 1, "s": SYMBOL, "p": "0"}),
        frame("btcusdt@kline_1m", {"e": "kline", "k": {"x": True}}),
        "not json {",
    ]
    # Over the wire: the simulator sends each frame as it is, to every market socket.
    await add_fault(world.sim, kind="raw_frames", target="market", frames=bad)
    await eventually(lambda: stream.malformed == len(bad), timeout=10)
    assert world.connection.metrics["malformed_messages"] == len(bad)
    # The future kline did not blind the stream: real candles keep coming.
    count = len(delivered.live)
    await eventually(lambda: len(delivered.live) > count + 1, timeout=10)
    assert all(c.symbol == SYMBOL and c.close > 0 for c in delivered.all)
    assert_contiguous(delivered.all)


async def test_a_late_closed_kline_is_history_not_a_decision(world: World) -> None:
    seen = Delivered()
    stream = stream_for(world, seen, [])
    await stream.warm_up()
    assert stream.last_open_time is not None
    # The stream is behind by ten candles: the next closed kline it receives is old news.
    stream.last_open_time -= 10 * MINUTE
    world.start(stream.run())
    await eventually(lambda: len(seen.live) >= 1, timeout=10)
    assert seen.past, "the candles it had to backfill were delivered as history"
    assert all(p.open_time < seen.live[0].open_time for p in seen.past)
