"""The user-data stream against the simulator: gaps of every kind end in the exchange's state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from decimal import Decimal
from pathlib import Path

from adapters.binance.sockets import CLOSE_SECONDS, PROBE_SECONDS
from aggregates.intent import OrderIntent
from alphaengine.exchange import connect_exchange
from processes.user_stream import UserStream
from tests.adapter.conftest import World, add_fault
from tests.tcp_proxy import TcpProxy
from tests.waiting import eventually


async def started(world: World, **kwargs: float) -> UserStream:
    stream = world.user_stream(**kwargs)
    world.start(stream.run())
    world.start(world.reconciler.run())
    await asyncio.wait_for(stream.connected.wait(), timeout=5)
    return stream


async def reconciled_after(world: World, moment: float) -> None:
    """Wait for a reconcile that started after `moment` (wall clock) to finish."""

    def done() -> bool:
        report = world.reconciler.last_report
        return report is not None and report.started_at.timestamp() > moment

    await eventually(done, timeout=15)


async def burst(world: World, prefix: str, count: int) -> None:
    for i in range(count):
        await world.place(f"{prefix}{i}", "BUY" if i % 3 else "SELL", "0.004")


async def test_socket_dropped_during_a_burst_of_fills(world: World) -> None:
    stream = await started(world, watchdog_seconds=30)
    await burst(world, "ae-a", 5)
    await add_fault(world.sim, kind="drop_websockets")
    await burst(world, "ae-b", 5)  # some of these land while the socket is down
    after_burst = time.time()
    await eventually(lambda: world.connection.metrics["gaps"] >= 1)
    world.reconciler.request("test: burst over")
    await reconciled_after(world, after_burst)
    assert stream.gaps and world.connection.metrics["reconnects"] >= 1
    recovered = [d for r in world.reconciler.history for d in r.differences if "fill" in d]
    assert recovered  # the stream lost fills and REST brought them back
    assert len(world.sim.state()["trades"]) == 10
    world.assert_matches_exchange()


async def test_a_stall_loses_no_fill_and_the_stream_resumes_on_its_own(world: World) -> None:
    # A quiet stream whose connection still answers pings is not reconnected; what the stall
    # swallowed comes back through the reconciler's timer (REST is the truth).
    world.reconciler.interval = 1.0
    stream = await started(world, watchdog_seconds=0.5)
    await add_fault(world.sim, kind="stall_websockets", duration_seconds=2)
    stalled_at = time.time()
    await world.place("ae-s1", "BUY", "0.010")  # its events vanish into the stall
    await reconciled_after(world, stalled_at)
    await eventually(lambda: world.trading.find_order("ae-s1") is not None)
    world.assert_matches_exchange()
    assert stream.sessions == 1 and not stream.gaps  # pinged, answered: the socket is alive
    # Once the stall is over the same socket delivers again.
    await eventually(lambda: not any(s.stalled for s in world.sim.hub.users), timeout=5)
    world.reconciler.interval = 3600
    messages = world.connection.metrics["user_messages"]
    await world.place("ae-s2", "SELL", "0.004")
    trade = world.sim.state()["trades"][-1]
    await eventually(lambda: world.trading.has_fact(f"fill:BTCUSDT:{trade['id']}"))
    assert world.connection.metrics["user_messages"] > messages


async def test_a_dead_connection_is_found_by_the_watchdog_ping(
    world: World, tmp_path: Path
) -> None:
    # Between the bot and the exchange the network goes silent both ways: no close, no pong.
    proxy = TcpProxy("127.0.0.1", world.sim.port)
    await proxy.start()
    connection = await connect_exchange(world.settings, proxy.url)
    try:
        stream = UserStream(
            connection.streams,
            world.ingestor,
            world.reconciler.request,
            connection.metrics,
            world.health,
            watchdog_seconds=0.5,
        )
        world.start(stream.run())
        await asyncio.wait_for(stream.connected.wait(), timeout=5)
        frozen_at = time.monotonic()
        proxy.freeze()
        await eventually(lambda: bool(stream.gaps), timeout=10)
        assert "no pong" in stream.gaps[0]
        assert time.monotonic() - frozen_at < 0.5 + PROBE_SECONDS + CLOSE_SECONDS + 1
        proxy.thaw()
        await eventually(lambda: stream.connected.is_set() and stream.sessions >= 2, timeout=10)
    finally:
        await connection.close()
        await proxy.stop()


async def test_duplicated_and_shuffled_events_record_once(world: World) -> None:
    stream = world.user_stream(watchdog_seconds=30)
    world.start(stream.run())
    await asyncio.wait_for(stream.connected.wait(), timeout=5)
    await add_fault(world.sim, kind="duplicate_events")
    await add_fault(world.sim, kind="shuffle_events")
    await burst(world, "ae-d", 8)
    trades = world.sim.state()["trades"]
    await eventually(lambda: all(world.trading.has_fact(f"fill:BTCUSDT:{t['id']}") for t in trades))
    # Every event came twice: each fill was seen twice and recorded once.
    await eventually(lambda: world.ingestor.counters["fills"] == 2 * len(trades))
    world.assert_matches_exchange()  # from the stream alone: no reconcile has run
    report = await world.reconciler.reconcile("test: after duplicates")
    assert not [d for d in report.differences if d.startswith(("fill", "position"))]


async def test_an_expired_listen_key_is_replaced_and_no_fill_is_lost(world: World) -> None:
    stream = await started(world, watchdog_seconds=30)
    first_key = stream.listen_key
    await world.place("ae-k1", "BUY", "0.010")
    await add_fault(world.sim, kind="expire_listen_key")
    expired_at = time.time()
    await world.place("ae-k2", "SELL", "0.004")  # while no valid key exists
    await eventually(lambda: stream.listen_key not in (None, first_key))
    await reconciled_after(world, expired_at)
    assert any("listenKeyExpired" in g for g in stream.gaps)
    await world.place("ae-k3", "SELL", "0.002")
    trades = world.sim.state()["trades"]
    await eventually(lambda: all(world.trading.has_fact(f"fill:BTCUSDT:{t['id']}") for t in trades))
    world.assert_matches_exchange()


async def test_a_thousand_malformed_messages_are_skipped_and_counted(world: World) -> None:
    stream = await started(world, watchdog_seconds=30)
    assert stream.listen_key is not None
    good = {"e": "ACCOUNT_UPDATE", "T": 1, "E": 1, "a": {"m": "ORDER", "B": []}}
    bad = [
        '{"e":"ORDER_TRADE_UPDATE","T":17',  # truncated
        "[1, 2, 3]",
        json.dumps({"e": "ORDER_TRADE_UPDATE", "T": 1, "o": {"s": "BTCUSDT"}}),
        json.dumps({**good, "a": {"m": "ORDER", "B": [{"a": "USDT", "wb": "lots"}]}}),
        "not json at all",
    ]
    # Over the wire: the simulator sends each frame as it is, to every user-data socket.
    await add_fault(
        world.sim, kind="raw_frames", target="user", frames=[bad[i % len(bad)] for i in range(1000)]
    )
    await eventually(lambda: world.ingestor.counters["malformed"] == 1000, timeout=20)
    await world.place("ae-m1", "BUY", "0.010")
    trades = world.sim.state()["trades"]
    await eventually(lambda: world.trading.has_fact(f"fill:BTCUSDT:{trades[-1]['id']}"))
    assert world.connection.metrics["malformed_messages"] == 1000
    assert world.connection.metrics["gaps"] == 0 and not stream.gaps
    world.assert_matches_exchange()


async def test_shutdown_closes_the_socket_quickly(world: World) -> None:
    stream = world.user_stream(watchdog_seconds=30)
    task = asyncio.ensure_future(stream.run())
    await asyncio.wait_for(stream.connected.wait(), timeout=5)
    started = time.monotonic()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    assert time.monotonic() - started < 1.5
    await eventually(lambda: not world.sim.hub.users)  # the server saw the close


async def test_a_triggered_stop_is_recorded_with_its_child_fill(world: World) -> None:
    stream = world.user_stream(watchdog_seconds=30)
    world.start(stream.run())
    await asyncio.wait_for(stream.connected.wait(), timeout=5)
    await world.place("ae-p1", "BUY", "0.010")
    stop = OrderIntent(
        client_order_id="ae-stop1",
        is_algo=True,
        symbol="BTCUSDT",
        side="SELL",
        order_type="STOP_MARKET",
        quantity=Decimal("0.010"),
        stop_price=Decimal("55000.00"),
        reduce_only=True,
    )
    ack = await world.connection.gateway.place_order(stop)
    await eventually(lambda: world.trading.find_order("ae-stop1", is_algo=True) is not None)
    world.sim.set_price(Decimal("54000"))
    await eventually(lambda: world.sim_position() == 0)
    await eventually(lambda: world.trading.position().quantity == 0)
    algo = world.trading.find_order("ae-stop1", is_algo=True)
    assert algo is not None and algo.exchange_order_id == ack.exchange_order_id

    def finished() -> bool:
        found = world.trading.find_order("ae-stop1", is_algo=True)
        return found is not None and found.status == "FINISHED"

    await eventually(finished)
    child = world.trading.find_order("ae-stop1")
    assert child is not None and child.parent_client_algo_id == "ae-stop1"
    world.assert_matches_exchange()
