"""Market data against the simulator (60x speed: a 1m candle closes every second)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import func, select

from processes.market_stream import Candle, MarketStream
from projections.schema import health, market_candles, market_marks
from tests.adapter.conftest import SYMBOL, World, add_fault
from tests.waiting import eventually

MINUTE = timedelta(minutes=1)


def stream_for(world: World, delivered: list[Candle], marks: list[Decimal]) -> MarketStream:
    async def on_candle(candle: Candle) -> None:
        delivered.append(candle)

    return MarketStream(
        world.connection,
        world.health,
        world.health.engine,
        symbol=SYMBOL,
        interval="1m",
        warmup=20,
        on_candle=on_candle,
        on_mark=marks.append,
    )


def assert_contiguous(candles: list[Candle]) -> None:
    for before, after in pairwise(candles):
        assert after.open_time - before.open_time == MINUTE, (before.open_time, after.open_time)


async def test_warm_up_then_closed_candles_in_order_with_the_mark(world: World) -> None:
    delivered: list[Candle] = []
    marks: list[Decimal] = []
    stream = stream_for(world, delivered, marks)
    history = await stream.warm_up()
    assert len(history) == 20
    assert_contiguous(history)
    world.start(stream.run())
    await eventually(lambda: len(delivered) >= 3 and bool(marks), timeout=10)
    assert_contiguous([*history, *delivered])  # the first live candle follows the warm-up
    assert all(isinstance(c.close, Decimal) for c in delivered)
    with world.health.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(market_candles)).scalar()
        mark = conn.execute(select(market_marks.c.mark_price)).scalar()
        keys = set(conn.execute(select(health.c.key)).scalars())
    assert stored is not None and stored >= 23
    assert mark is not None and mark > 0
    assert "market_stream_message" in keys


async def test_candles_lost_in_a_stall_are_backfilled_from_rest(world: World) -> None:
    delivered: list[Candle] = []
    stream = stream_for(world, delivered, [])
    await stream.warm_up()
    world.start(stream.run())
    await eventually(lambda: len(delivered) >= 1, timeout=10)
    await add_fault(world.sim, kind="stall_websockets", duration_seconds=3)
    await asyncio.sleep(3.5)
    count = len(delivered)
    await eventually(lambda: len(delivered) >= count + 2, timeout=10)
    assert stream.backfilled >= 2
    assert_contiguous(delivered)


async def test_malformed_market_messages_are_skipped(world: World) -> None:
    delivered: list[Candle] = []
    stream = stream_for(world, delivered, [])
    await stream.warm_up()
    world.start(stream.run())
    await eventually(lambda: len(delivered) >= 1, timeout=10)
    for _ in range(50):
        world.sim.hub.publish_market("btcusdt@kline_1m", {"e": "kline", "k": {"x": True}})
    count = len(delivered)
    await eventually(lambda: stream.malformed == 50 and len(delivered) > count, timeout=10)
    assert world.connection.metrics["malformed_messages"] == 50
    assert_contiguous(delivered)
