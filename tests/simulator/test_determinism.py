"""Determinism: one seed gives the same prices and fills (SimulatorServer and SimulatorThread)."""

from __future__ import annotations

from typing import Any

import aiohttp

from adapters.simulator import SimulatorServer, SimulatorThread

from .conftest import SYMBOL, RawApi, make_config, start_server

ORDERS: list[dict[str, Any]] = [
    {"side": "BUY", "type": "MARKET", "quantity": "0.010"},
    {"side": "BUY", "type": "MARKET", "quantity": "0.250"},
    {"side": "SELL", "type": "MARKET", "quantity": "0.100"},
    {"side": "SELL", "type": "LIMIT", "timeInForce": "IOC", "quantity": "0.050", "price": "59000"},
]


def fills(state: dict[str, Any]) -> list[tuple[str, str, str, str, str, bool]]:
    return [
        (t["side"], t["price"], t["qty"], t["commission"], t["realizedPnl"], t["maker"])
        for t in state["trades"]
    ]


async def scenario(server: Any) -> dict[str, Any]:
    """Step the paused clock, trade, step again; return what must be reproducible."""
    server.pause_clock()
    server.step_clock(n_candles=5)
    async with aiohttp.ClientSession() as session:
        raw = RawApi(session, server)
        book_before = (await raw.public("/fapi/v1/depth", symbol=SYMBOL, limit=10)).body
        for order in ORDERS:
            resp = await raw.signed(
                "POST", "/fapi/v1/order", {"symbol": SYMBOL, "newOrderRespType": "RESULT", **order}
            )
            assert resp.status == 200, resp.text
        server.step_clock(n_candles=5)
        klines = (await raw.public("/fapi/v1/klines", symbol=SYMBOL, interval="1m", limit=10)).body
    state = server.state()
    return {
        "closes": [
            c["openTime"] - state["kline_closes"][0]["openTime"] for c in state["kline_closes"]
        ],
        "book": (book_before["bids"], book_before["asks"]),
        "fills": fills(state),
        "ohlc": [k[1:6] for k in klines],
        "position": (state["position"]["positionAmt"], state["position"]["entryPrice"]),
        "wallet": next(b for b in state["balances"] if b.get("asset") == "USDT")["balance"],
        "last": state["last_price"],
    }


async def test_same_seed_same_prices_and_fills() -> None:
    first = await start_server(seed=7)
    try:
        a = await scenario(first)
    finally:
        await first.stop()
    with SimulatorThread(make_config(seed=7)) as threaded:
        b = await scenario(threaded)
    assert len(a["closes"]) >= 10
    assert a["fills"], "the scenario must trade"
    assert a == b


async def test_different_seed_different_path() -> None:
    servers: list[SimulatorServer] = [await start_server(seed=1), await start_server(seed=2)]
    try:
        results = [await scenario(s) for s in servers]
    finally:
        for s in servers:
            await s.stop()
    assert results[0]["ohlc"] != results[1]["ohlc"]
    assert results[0]["fills"] != results[1]["fills"]


async def test_reset_replays_the_same_run(sim: SimulatorServer) -> None:
    first = await scenario(sim)
    sim.reset()
    second = await scenario(sim)
    assert first == second
