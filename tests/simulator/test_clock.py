"""One data clock: every time the exchange reports is simulated time (docs/simulator.md, Clocks).

The simulated clock is moved hours ahead of the wall clock, so a time stamped from the wall clock
could not pass for simulated time. The request protocol (serverTime, the timestamp check) stays
on the wall clock, so python-binance keeps signing with its usual offset.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from binance import AsyncClient, BinanceSocketManager

from adapters.simulator import FaultRule, SimulatorServer

from .conftest import (
    SYMBOL,
    RawApi,
    Recorder,
    expect_api_error,
    make_client,
    move_price,
    now_ms,
    otu,
    start_server,
)

HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def ahead(sim: SimulatorServer, hours: int = 3) -> int:
    """Step the paused simulated clock `hours` ahead; the data-clock time now."""
    sim.step_clock(n_candles=hours * 60)
    return sim.data_ms()


def on_data_clock(sim_now: int, value: Any, slack_ms: int = MINUTE_MS) -> bool:
    return abs(int(value) - sim_now) <= slack_ms


async def test_trades_orders_events_and_income_carry_simulated_time(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    sim_now = ahead(sim)
    assert sim_now - now_ms() > 2 * HOUR_MS
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        order = await client.futures_create_order(
            symbol=SYMBOL,
            side="BUY",
            type="MARKET",
            quantity="0.010",
            newClientOrderId="clock",
            newOrderRespType="RESULT",
        )
        events = await rec.wait_for(lambda evs: any(e["o"]["X"] == "FILLED" for e in otu(evs)))

    assert order["updateTime"] == sim_now
    (trade,) = await client.futures_account_trades(symbol=SYMBOL)
    assert trade["time"] == sim_now
    fetched = await client.futures_get_order(symbol=SYMBOL, origClientOrderId="clock")
    assert fetched["time"] == fetched["updateTime"] == sim_now
    assert events and all(e["E"] == e["T"] == sim_now for e in events)
    assert all(e["o"]["T"] == sim_now for e in otu(events))
    (commission,) = await client.futures_income_history(symbol=SYMBOL)
    assert commission["time"] == sim_now
    # simReceivedAt is a measurement, not exchange data: it stays on the wall clock
    assert abs(sim.state()["orders"][0]["simReceivedAt"] - now_ms()) < 5_000


async def test_the_request_protocol_stays_on_the_wall_clock(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    ahead(sim)
    assert abs((await client.futures_time())["serverTime"] - now_ms()) < 2_000
    assert abs((await client.futures_exchange_info())["serverTime"] - now_ms()) < 2_000
    # Signed with the wall-clock offset python-binance measured: accepted
    assert await client.futures_account_balance()


async def test_time_filters_use_the_data_clock(client: AsyncClient, sim: SimulatorServer) -> None:
    sim_now = ahead(sim)
    order = await client.futures_create_order(
        symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.010"
    )
    around_sim = {"startTime": sim_now - MINUTE_MS, "endTime": sim_now + MINUTE_MS}
    around_wall = {"startTime": now_ms() - MINUTE_MS, "endTime": now_ms() + MINUTE_MS}

    assert len(await client.futures_account_trades(symbol=SYMBOL, **around_sim)) == 1
    assert await client.futures_account_trades(symbol=SYMBOL, **around_wall) == []
    assert [o["orderId"] for o in await client.futures_get_all_orders(symbol=SYMBOL)] == [
        order["orderId"]
    ]
    assert len(await client.futures_get_all_orders(symbol=SYMBOL, **around_sim)) == 1
    assert await client.futures_get_all_orders(symbol=SYMBOL, **around_wall) == []
    assert len(await client.futures_income_history(**around_sim)) == 1
    assert await client.futures_income_history(**around_wall) == []
    # Without a window: the last 7 days of simulated time
    assert len(await client.futures_account_trades(symbol=SYMBOL)) == 1
    assert len(await client.futures_income_history()) == 1


async def test_market_data_carries_simulated_time(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    sim_now = ahead(sim)
    bars = await client.futures_klines(symbol=SYMBOL, interval="1m", limit=3)
    assert bars[-1][0] == sim_now // MINUTE_MS * MINUTE_MS
    window = await client.futures_klines(
        symbol=SYMBOL, interval="1m", startTime=sim_now - 10 * MINUTE_MS, endTime=sim_now
    )
    first = (sim_now - 10 * MINUTE_MS) // MINUTE_MS * MINUTE_MS
    assert [b[0] for b in window] == list(range(first, sim_now + 1, MINUTE_MS))
    assert on_data_clock(sim_now, (await client.futures_mark_price(symbol=SYMBOL))["time"])
    assert on_data_clock(sim_now, (await client.futures_symbol_ticker(symbol=SYMBOL))["time"])
    assert on_data_clock(sim_now, (await client.futures_order_book(symbol=SYMBOL, limit=5))["E"])
    async with Recorder(bsm.symbol_mark_price_socket(SYMBOL), sim) as rec:
        mark = await rec.wait_event(lambda e: e.get("data", {}).get("e") == "markPriceUpdate")
    assert on_data_clock(sim_now, mark["data"]["E"])
    assert mark["data"]["T"] == sim.exchange.next_funding_ms


async def test_funding_is_booked_at_the_funding_time(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    await client.futures_create_order(symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.010")
    funding_at = sim.exchange.next_funding_ms
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        sim.step_clock(n_candles=-(-(funding_at - sim.data_ms()) // MINUTE_MS))
        event = await rec.wait_event(
            lambda e: e.get("e") == "ACCOUNT_UPDATE" and e["a"]["m"] == "FUNDING_FEE"
        )
    assert event["E"] == event["T"] == funding_at
    funding = await client.futures_income_history(incomeType="FUNDING_FEE")
    assert [row["time"] for row in funding] == [funding_at]


async def test_good_till_date_is_data_clock_time(client: AsyncClient, sim: SimulatorServer) -> None:
    sim_now = ahead(sim)
    order = {
        "symbol": SYMBOL,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTD",
        "quantity": "0.010",
        "price": "59000",
    }
    # An hour from the wall clock is already in the simulated past
    await expect_api_error(
        client.futures_create_order(**order, goodTillDate=now_ms() + HOUR_MS), -4188
    )
    placed = await client.futures_create_order(**order, goodTillDate=sim_now + 20 * MINUTE_MS)
    await move_price(sim, Decimal("60000"), candles=21)
    expired = await client.futures_get_order(symbol=SYMBOL, orderId=placed["orderId"])
    assert expired["status"] == "EXPIRED"
    assert expired["updateTime"] >= expired["goodTillDate"] > sim_now


async def test_listen_key_expiry_event_carries_simulated_time(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    sim_now = ahead(sim)
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        sim.add_fault(FaultRule(kind="expire_listen_key"))
        expired = await rec.wait_event(lambda e: e.get("e") == "listenKeyExpired")
    assert expired["E"] == sim_now


async def test_a_fast_clock_does_not_break_signing() -> None:
    """At speed 3600 an hour of simulated time passes every wall second."""
    sim = await start_server(speed=3600.0)
    client = await make_client(sim)
    try:
        order = await client.futures_create_order(
            symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.010", newOrderRespType="RESULT"
        )
        later = await client.futures_account_trades(symbol=SYMBOL)
        assert later and later[0]["orderId"] == order["orderId"]
        assert abs((await client.futures_time())["serverTime"] - now_ms()) < 2_000
        assert order["updateTime"] >= now_ms() - 2_000
    finally:
        await client.close_connection()
        await sim.stop()


async def test_sim_state_reports_both_clocks(raw: RawApi, sim: SimulatorServer) -> None:
    sim_now = ahead(sim)
    state = sim.state()
    assert state["sim_time"] == sim_now
    assert abs(state["server_time"] - now_ms()) < 2_000
