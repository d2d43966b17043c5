"""The reconciler against the simulator: the exchange wins, and only differences are recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from binance import AsyncClient

from adapters.binance.governor import RestBanned
from adapters.simulator import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer
from aggregates.envelope import Source
from aggregates.order import Origin
from tests.adapter.conftest import SYMBOL, World, add_fault


@pytest_asyncio.fixture
async def by_hand(sim: SimulatorServer) -> AsyncIterator[AsyncClient]:
    """Someone trading on the same account with their own program (plain python-binance)."""
    client = AsyncClient(DEFAULT_API_KEY, DEFAULT_API_SECRET)
    client.FUTURES_URL = sim.url + "/fapi"
    server = await client.futures_time()
    client.timestamp_offset = server["serverTime"] - int(time.time() * 1000)
    try:
        yield client
    finally:
        await client.close_connection()


def notifications(world: World) -> int:
    return int(world.trading.recorder.max_notification_id() or 0)


async def test_orders_placed_by_hand_are_adopted_as_external(
    world: World, by_hand: AsyncClient
) -> None:
    await by_hand.futures_create_order(
        symbol=SYMBOL, side="BUY", type="LIMIT", quantity="0.010", price="50000.00",
        timeInForce="GTC", newClientOrderId="web_manual1",
    )  # fmt: skip
    # python-binance re-routes this to the algo API under a client id of its own.
    await by_hand.futures_create_order(
        symbol=SYMBOL, side="BUY", type="STOP_MARKET", quantity="0.010", stopPrice="70000.00"
    )
    (algo_row,) = world.sim.state()["algo_orders"]
    report = await world.reconciler.reconcile("test: start")
    order = world.trading.find_order("web_manual1")
    assert order is not None and order.origin == Origin.EXTERNAL and order.status == "NEW"
    assert order.price == Decimal("50000.00") and order.exchange_order_id
    algo = world.trading.find_order(algo_row["clientAlgoId"], is_algo=True)
    assert algo is not None and algo.origin == Origin.EXTERNAL and algo.is_open
    assert sum("adopted as EXTERNAL" in d for d in report.differences) == 2


async def test_a_reconcile_without_differences_records_nothing(
    world: World, by_hand: AsyncClient
) -> None:
    await by_hand.futures_create_order(
        symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.010", newClientOrderId="web_m2"
    )
    first = await world.reconciler.reconcile("test: first")
    assert any(d.startswith("fill") for d in first.differences)
    world.assert_matches_exchange()
    before = notifications(world)
    second = await world.reconciler.reconcile("test: second")
    assert second.differences == [] and second.corrections == 0
    assert notifications(world) == before
    assert world.reconciler.last_reconciled_at is not None
    world.health.engine.dispose()
    with world.health.engine.connect() as conn:
        row = conn.exec_driver_sql("select value from health where key='reconcile'").one()
    assert '"differences": 0' in row.value


async def test_a_leverage_change_by_hand_is_corrected(world: World, by_hand: AsyncClient) -> None:
    await world.reconciler.reconcile("test: baseline")
    await by_hand.futures_change_leverage(symbol=SYMBOL, leverage=7)
    report = await world.reconciler.reconcile("test: after change")
    assert world.trading.position().leverage == 7
    assert report.corrections == 1


async def test_a_ban_raises_an_alarm_and_the_next_reconcile_clears_it(world: World) -> None:
    await add_fault(
        world.sim, kind="rate_limit", match={"path": "/fapi/v1/ping"}, count=1, retry_after=30,
        ban_seconds=1,
    )  # fmt: skip
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # a second request inside Retry-After earns the ban
            async with session.get(f"{world.sim.url}/fapi/v1/ping"):
                pass
    with pytest.raises(RestBanned) as banned:
        await world.reconciler.reconcile("test: banned")
    assert "exchange_banned" in world.trading.engine().alarms
    until = banned.value.banned_until
    assert until is not None  # a ban says when it ends
    await asyncio.sleep(until.timestamp() - time.time() + 0.1)
    await world.reconciler.reconcile("test: ban over")
    assert "exchange_banned" not in world.trading.engine().alarms


async def test_transfer_to_futures_moves_spot_into_the_futures_wallet(world: World) -> None:
    gateway = world.connection.gateway
    await world.reconciler.reconcile("test: baseline")
    spot_before = await gateway.spot_balance("USDT")
    tran_id = await gateway.transfer_to_futures("USDT", Decimal("250"))
    assert tran_id > 0
    assert await gateway.spot_balance("USDT") == spot_before - Decimal("250")
    report = await world.reconciler.reconcile("test: after transfer")
    assert world.trading.account().wallet_balance("USDT") == Decimal("10250")
    assert world.trading.account().transfers == Decimal("250")
    assert any("balance USDT" in d for d in report.differences)


async def test_an_order_cancelled_by_hand_gets_its_final_status(
    world: World, by_hand: AsyncClient
) -> None:
    await by_hand.futures_create_order(
        symbol=SYMBOL, side="SELL", type="LIMIT", quantity="0.010", price="90000.00",
        timeInForce="GTC", newClientOrderId="web_m3",
    )  # fmt: skip
    await world.reconciler.reconcile("test: adopt")
    await by_hand.futures_cancel_order(symbol=SYMBOL, origClientOrderId="web_m3")
    report = await world.reconciler.reconcile("test: after cancel")
    order = world.trading.find_order("web_m3")
    assert order is not None and order.status == "CANCELED"
    assert any("web_m3" in d for d in report.differences)


async def test_reconciler_records_with_its_own_source(world: World, by_hand: AsyncClient) -> None:
    await by_hand.futures_create_order(
        symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.010", newClientOrderId="web_m4"
    )
    await world.reconciler.reconcile("test")
    position = world.trading.position()
    # Event classes are made by @event from the decorated methods: their fields are not typed.
    last: Any = list(world.trading.repository.event_store.get(position.id))[-1]
    assert last.envelope.source == Source.RECONCILER
