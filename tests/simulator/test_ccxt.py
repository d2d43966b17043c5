"""ccxt binanceusdm with only urls['api'] overridden, as in adapters/simulator/README.md."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from adapters.simulator import SimulatorServer

from .conftest import (
    FUTURES_BALANCE,
    TAKER,
    D,
    connections,
    make_ccxt,
    move_price,
    now_ms,
    wait_until,
)

MARKET = "BTC/USDT:USDT"


async def test_load_markets_and_public_data(exchange: Any) -> None:
    markets = await exchange.load_markets()
    m = markets[MARKET]
    assert m["id"] == "BTCUSDT" and m["linear"] and m["swap"]
    assert D(m["precision"]["price"]) == Decimal("0.1")
    assert D(m["precision"]["amount"]) == Decimal("0.001")
    assert D(m["limits"]["amount"]["min"]) == Decimal("0.001")
    assert D(m["limits"]["market"]["max"]) == Decimal("120")
    assert D(m["limits"]["cost"]["min"]) == Decimal("100")
    assert abs(await exchange.fetch_time() - now_ms()) < 2000
    ohlcv = await exchange.fetch_ohlcv(MARKET, "1m", limit=3)
    assert ohlcv and all(len(c) == 6 for c in ohlcv)
    ob = await exchange.fetch_order_book(MARKET, limit=5)
    assert ob["bids"][0][0] < ob["asks"][0][0]


async def test_limit_order_lifecycle(exchange: Any) -> None:
    await exchange.load_markets()
    order = await exchange.create_order(MARKET, "limit", "buy", 0.01, 59000)
    assert order["status"] == "open"
    assert order["clientOrderId"], "ccxt sends its own newClientOrderId"
    fetched = await exchange.fetch_order(order["id"], MARKET)
    assert fetched["status"] == "open" and fetched["price"] == 59000 and fetched["amount"] == 0.01
    open_orders = await exchange.fetch_open_orders(MARKET)
    assert [o["id"] for o in open_orders] == [order["id"]]
    cancelled = await exchange.cancel_order(order["id"], MARKET)  # DELETE with a query string
    assert cancelled["status"] == "canceled"
    assert (await exchange.fetch_order(order["id"], MARKET))["status"] == "canceled"
    assert await exchange.fetch_open_orders(MARKET) == []


async def test_market_order_trades_positions_balance(exchange: Any) -> None:
    await exchange.load_markets()
    order = await exchange.create_order(MARKET, "market", "buy", 0.01)
    assert order["status"] == "closed"
    assert order["filled"] == 0.01
    avg = D(order["average"])
    trades = await exchange.fetch_my_trades(MARKET)
    assert len(trades) == 1
    t = trades[0]
    assert t["order"] == order["id"]
    assert t["takerOrMaker"] == "taker"
    assert t["fee"]["currency"] == "USDT"
    fee = avg * Decimal("0.01") * TAKER
    assert abs(D(t["fee"]["cost"]) - fee) < Decimal("1e-8")

    positions = [p for p in await exchange.fetch_positions([MARKET]) if p["contracts"]]
    assert len(positions) == 1
    p = positions[0]
    assert p["side"] == "long" and p["contracts"] == 0.01
    assert D(p["entryPrice"]) == avg

    balance = await exchange.fetch_balance()
    assert abs(D(balance["USDT"]["total"]) - (FUTURES_BALANCE - fee)) < Decimal("1e-6")


async def test_stop_loss_routes_to_algo_and_triggers(exchange: Any, sim: SimulatorServer) -> None:
    await exchange.load_markets()
    await exchange.create_order(MARKET, "market", "buy", 0.01)
    stop = await exchange.create_order(
        MARKET, "market", "sell", 0.01, None, {"stopLossPrice": 59000, "reduceOnly": True}
    )
    assert stop["id"]
    algos = sim.state()["algo_orders"]
    assert len(algos) == 1
    assert algos[0]["orderType"] == "STOP_MARKET"
    assert D(algos[0]["triggerPrice"]) == Decimal("59000")
    assert algos[0]["algoStatus"] == "NEW"
    await move_price(sim, Decimal("58900"))
    await wait_until(
        lambda: sim.state()["algo_orders"][0]["algoStatus"] == "FINISHED",
        what="ccxt stop should trigger",
    )
    assert D(sim.state()["position"]["positionAmt"]) == 0


async def test_set_leverage(exchange: Any, sim: SimulatorServer) -> None:
    await exchange.load_markets()
    res = await exchange.set_leverage(12, MARKET)
    assert int(res["leverage"]) == 12
    assert sim.state()["position"]["leverage"] in (12, "12")


async def test_errors_map_to_ccxt_exceptions(exchange: Any) -> None:
    await exchange.load_markets()
    with pytest.raises(ccxt.ExchangeError) as info:
        await exchange.create_order(MARKET, "limit", "buy", 4, 59000)
    assert "-2019" in str(info.value)
    with pytest.raises(ccxt.OrderNotFound):
        await exchange.fetch_order("987654321", MARKET)
    with pytest.raises(ccxt.ExchangeError) as info:
        await exchange.cancel_order("987654321", MARKET)
    assert "-2011" in str(info.value)
    # ccxt picks its per-market error tables by host name, so on loopback only the generic
    # ExchangeError is guaranteed; the Binance code travels in the message.
    with pytest.raises(ccxt.ExchangeError) as info:
        await exchange.create_order(MARKET, "limit", "buy", 0.001, 59000)
    assert "-4164" in str(info.value)


async def test_ccxt_rejects_bad_secret(sim: SimulatorServer) -> None:
    ex = make_ccxt(sim)
    ex.secret = "wrong"
    try:
        await ex.load_markets()
        with pytest.raises(ccxt.ExchangeError) as info:
            await ex.fetch_balance()
        assert "-1022" in str(info.value)
    finally:
        await ex.close()


async def test_ccxt_pro_watch_orders_and_ohlcv(sim: SimulatorServer) -> None:
    ex = make_ccxt(sim, pro=True)
    try:
        await ex.load_markets()
        watcher = asyncio.create_task(ex.watch_orders(MARKET))
        await wait_until(
            lambda: connections(sim, user=True) == 1, what="ccxt.pro connects the user stream"
        )
        order = await ex.create_order(MARKET, "limit", "buy", 0.01, 59000)
        orders = await asyncio.wait_for(watcher, timeout=5)
        assert orders[-1]["id"] == order["id"]
        assert orders[-1]["status"] == "open"
        assert orders[-1]["price"] == 59000

        sim.resume_clock()
        candles = await asyncio.wait_for(ex.watch_ohlcv(MARKET, "1m"), timeout=5)
        assert candles and len(candles[-1]) == 6
    finally:
        await ex.close()
