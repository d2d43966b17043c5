"""User data stream through BinanceSocketManager.futures_user_socket and raw WS.

See docs/exchange-rules.md, "Order statuses and user-stream events" and "Streams and listenKeys".
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from binance import AsyncClient, BinanceSocketManager

from adapters.simulator import FaultRule, SimulatorServer

from .conftest import (
    FUTURES_BALANCE,
    MAKER,
    MARKER,
    SYMBOL,
    TAKER,
    D,
    RawApi,
    Recorder,
    book,
    connections,
    events_of,
    expect_api_error,
    move_price,
    otu,
    summarize,
    wait_until,
)


def kinds(events: list[dict[str, Any]]) -> list[str]:
    """Event names, with ORDER_TRADE_UPDATE as OTU:<x>."""
    out = []
    for e in events:
        if e.get("e") == "ORDER_TRADE_UPDATE":
            out.append(f"OTU:{e['o']['x']}")
        elif e.get("e") == "ACCOUNT_UPDATE":
            out.append(f"AU:{e['a']['m']}")
        else:
            out.append(str(e.get("e")))
    return out


async def test_market_fill_event_order(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        res = await client.futures_create_order(
            symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.010", newClientOrderId="ws-mkt"
        )
        events = await rec.wait_for(
            lambda evs: any(e["o"]["X"] == "FILLED" for e in otu(evs, "ws-mkt"))
        )
    mine = [
        e
        for e in events
        if e.get("e") in ("TRADE_LITE", "ACCOUNT_UPDATE")
        or (e.get("e") == "ORDER_TRADE_UPDATE" and e["o"]["c"] == "ws-mkt")
    ]
    assert kinds(mine) == ["OTU:NEW", "TRADE_LITE", "AU:ORDER", "OTU:TRADE"], summarize(mine)
    new, lite, account, trade = mine
    assert new["o"]["X"] == "NEW" and new["o"]["i"] == res["orderId"]
    # One matching transaction: TRADE_LITE, ACCOUNT_UPDATE and the TRADE update share T.
    assert lite["T"] == account["T"] == trade["T"]
    for e in mine:
        assert isinstance(e["E"], int) and isinstance(e["T"], int)

    o = trade["o"]
    fill_price = D(o["L"])
    assert (o["s"], o["c"], o["S"], o["o"], o["X"]) == (SYMBOL, "ws-mkt", "BUY", "MARKET", "FILLED")
    assert D(o["l"]) == D(o["z"]) == D(o["q"]) == Decimal("0.01")
    assert D(o["ap"]) == fill_price
    assert D(o["n"]) == fill_price * Decimal("0.01") * TAKER
    assert o["N"] == "USDT"
    assert o["m"] is False
    assert o["R"] is False
    assert D(o["rp"]) == 0
    assert o["ps"] == "BOTH"
    assert isinstance(o["t"], int) and o["t"] > 0
    assert isinstance(o["i"], int)

    assert lite["s"] == SYMBOL and lite["c"] == "ws-mkt" and lite["S"] == "BUY"
    assert D(lite["L"]) == fill_price and D(lite["l"]) == Decimal("0.01")
    assert lite["m"] is False
    assert lite["t"] == o["t"] and lite["i"] == o["i"]

    a = account["a"]
    usdt = next(b for b in a["B"] if b["a"] == "USDT")
    wallet = FUTURES_BALANCE - D(o["n"])
    assert D(usdt["wb"]) == wallet
    assert D(usdt["cw"]) == wallet
    assert D(usdt["bc"]) == 0
    (pos,) = a["P"]
    assert pos["s"] == SYMBOL and pos["ps"] == "BOTH" and pos["mt"] == "cross"
    assert D(pos["pa"]) == Decimal("0.01")
    assert D(pos["ep"]) == fill_price
    assert abs(D(pos["bep"]) - (fill_price + D(o["n"]) / Decimal("0.01"))) < Decimal("0.0001")
    assert D(pos["cr"]) == 0
    assert D(usdt_state(sim)["balance"]) == wallet


def usdt_state(sim: SimulatorServer) -> dict[str, Any]:
    return next(r for r in sim.state()["balances"] if r.get("asset") == "USDT")


async def test_resting_limit_events_at_place_and_fill(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    price = Decimal("59700")
    sim.set_price(Decimal("59800"), mode="jump")
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        await client.futures_create_order(
            symbol=SYMBOL,
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.020",
            price=str(price),
            newClientOrderId="ws-rest",
        )
        await rec.wait_for(lambda evs: len(otu(evs, "ws-rest")) >= 1)
        await rec.settle()
        assert kinds(rec.events) == ["OTU:NEW"], "placing a resting order emits only OTU NEW"
        new = rec.events[0]["o"]
        assert (new["X"], new["o"], new["f"]) == ("NEW", "LIMIT", "GTC")
        assert D(new["p"]) == price and D(new["z"]) == 0

        await move_price(sim, Decimal("59600"))
        events = await rec.wait_for(
            lambda evs: any(e["o"]["X"] == "FILLED" for e in otu(evs, "ws-rest"))
        )
    fill = events[1:]
    assert kinds(fill) == ["TRADE_LITE", "AU:ORDER", "OTU:TRADE"], summarize(fill)
    o = fill[-1]["o"]
    assert o["m"] is True, "a resting order that fills later is a maker"
    assert D(o["L"]) == price
    assert D(o["n"]) == price * Decimal("0.02") * MAKER
    assert fill[0]["T"] == fill[1]["T"] == fill[2]["T"]


@pytest.mark.sim_config(futures_balance=Decimal("10000000"))
async def test_partial_fills_event_order(
    client: AsyncClient, bsm: BinanceSocketManager, raw: RawApi, sim: SimulatorServer
) -> None:
    depth = await book(raw)
    top_qty = D(depth["asks"][0][1])
    qty = top_qty + Decimal("0.001")
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        await client.futures_create_order(
            symbol=SYMBOL, side="BUY", type="MARKET", quantity=str(qty), newClientOrderId="ws-walk"
        )
        events = await rec.wait_for(
            lambda evs: any(e["o"]["X"] == "FILLED" for e in otu(evs, "ws-walk"))
        )
    seq = kinds(events)
    n = seq.count("TRADE_LITE")
    assert n >= 2
    assert seq == ["OTU:NEW"] + ["TRADE_LITE"] * n + ["AU:ORDER"] + ["OTU:TRADE"] * n, seq
    trades = [e["o"] for e in otu(events, "ws-walk")[1:]]
    assert [t["X"] for t in trades] == ["PARTIALLY_FILLED"] * (n - 1) + ["FILLED"]
    cumulative = Decimal(0)
    for t in trades:
        cumulative += D(t["l"])
        assert D(t["z"]) == cumulative
    assert cumulative == qty
    assert len({t["t"] for t in trades}) == n, "each trade has its own tradeId"
    (account,) = events_of(events, "ACCOUNT_UPDATE")
    assert D(account["a"]["P"][0]["pa"]) == qty


async def test_cancel_emits_only_canceled(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        o = await client.futures_create_order(
            symbol=SYMBOL,
            side="SELL",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.005",
            price="61000",
            newClientOrderId="ws-cxl",
        )
        await client.futures_cancel_order(symbol=SYMBOL, orderId=o["orderId"])
        await rec.wait_for(lambda evs: len(otu(evs, "ws-cxl")) >= 2)
        await rec.settle()
    assert kinds(rec.events) == ["OTU:NEW", "OTU:CANCELED"], summarize(rec.events)
    assert rec.events[-1]["o"]["X"] == "CANCELED"


@pytest.mark.sim_config(futures_balance=Decimal("10000000"))
async def test_ioc_remainder_expires_with_reason(
    client: AsyncClient, bsm: BinanceSocketManager, raw: RawApi, sim: SimulatorServer
) -> None:
    depth = await book(raw)
    top_price, top_qty = D(depth["asks"][0][0]), D(depth["asks"][0][1])
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        await client.futures_create_order(
            symbol=SYMBOL,
            side="BUY",
            type="LIMIT",
            timeInForce="IOC",
            quantity=str(top_qty + Decimal("0.005")),
            price=str(top_price),
            newClientOrderId="ws-ioc",
        )
        events = await rec.wait_for(
            lambda evs: any(e["o"]["X"] == "EXPIRED" for e in otu(evs, "ws-ioc"))
        )
    expired = [e["o"] for e in otu(events, "ws-ioc") if e["o"]["x"] == "EXPIRED"]
    assert len(expired) == 1
    assert expired[0]["er"] == "2"
    assert D(expired[0]["z"]) == top_qty


async def test_rejected_orders_emit_nothing(
    client: AsyncClient, bsm: BinanceSocketManager, raw: RawApi, sim: SimulatorServer
) -> None:
    depth = await book(raw)
    best_ask = D(depth["asks"][0][0])
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        await expect_api_error(
            client.futures_create_order(
                symbol=SYMBOL,
                side="BUY",
                type="LIMIT",
                timeInForce="GTX",
                quantity="0.002",
                price=str(best_ask),
            ),
            -5022,
        )
        await expect_api_error(
            client.futures_create_order(
                symbol=SYMBOL,
                side="BUY",
                type="LIMIT",
                timeInForce="FOK",
                quantity="0.002",
                price=str(best_ask - Decimal("500")),
            ),
            -5021,
        )
        await rec.settle()
    assert rec.events == []


async def test_leverage_change_pushes_account_config_update(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        await client.futures_change_leverage(symbol=SYMBOL, leverage=7)
        event = await rec.wait_event(lambda e: e.get("e") == "ACCOUNT_CONFIG_UPDATE")
    assert event["ac"] == {"s": SYMBOL, "l": 7}


# ---------------------------------------------------------------------------------------------
# listenKey semantics and connection forms


async def test_listen_key_semantics(raw: RawApi, sim: SimulatorServer) -> None:
    first = await raw.send("POST", "/fapi/v1/listenKey")
    assert first.status == 200, first.text
    key = first.body["listenKey"]
    assert isinstance(key, str) and key
    again = await raw.send("POST", "/fapi/v1/listenKey")
    assert again.body["listenKey"] == key, "an active key is returned again"
    assert sim.state()["listen_key"] == key

    put = await raw.send("PUT", "/fapi/v1/listenKey", body=f"listenKey={key}")
    assert (put.status, put.body) == (200, {"listenKey": key})

    # The key is per account; a stray listenKey param is ignored (or the unknown key refused).
    unknown = await raw.send("PUT", "/fapi/v1/listenKey", body="listenKey=nope")
    assert (unknown.status, unknown.body) == (200, {"listenKey": key}) or unknown.code == -1125

    deleted = await raw.send("DELETE", "/fapi/v1/listenKey", body=f"listenKey={key}")
    assert (deleted.status, deleted.body) == (200, {})
    gone = await raw.send("PUT", "/fapi/v1/listenKey", body=f"listenKey={key}")
    assert (gone.status, gone.code) == (400, -1125)
    assert gone.body["msg"] == "This listenKey does not exist."

    fresh = await raw.send("POST", "/fapi/v1/listenKey")
    assert fresh.status == 200 and fresh.body["listenKey"] != key


async def test_listen_key_needs_only_the_api_key(raw: RawApi) -> None:
    no_key = await raw.send("POST", "/fapi/v1/listenKey", api_key=None)
    assert (no_key.status, no_key.code) == (401, -2014)
    bad_key = await raw.send("POST", "/fapi/v1/listenKey", api_key="A" * 64)
    assert (bad_key.status, bad_key.code) == (401, -2015)
    # An empty POST body with just the header works (no timestamp, no signature).
    ok = await raw.send("POST", "/fapi/v1/listenKey", body="")
    assert ok.status == 200


async def test_python_binance_listen_key_calls(client: AsyncClient) -> None:
    key = await client.futures_stream_get_listen_key()
    assert await client.futures_stream_get_listen_key() == key
    assert await client.futures_stream_keepalive(key) == {"listenKey": key}
    assert await client.futures_stream_close(key) == {}
    await expect_api_error(client.futures_stream_keepalive(key), -1125)


async def _ws_messages(
    sim: SimulatorServer,
    session: aiohttp.ClientSession,
    url: str,
    action: Any,
    until: Any,
    timeout: float = 5.0,
) -> list[dict[str, Any]]:
    """Connect, run the action, read until `until(got)`, then read everything already sent
    (up to a marker frame queued behind it)."""
    got: list[dict[str, Any]] = []
    marker = {"e": MARKER, "n": 1}
    before = connections(sim, user=True)
    async with session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=1)) as ws:
        await wait_until(lambda: connections(sim, user=True) > before)
        await action()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settling = False
        while True:
            if not settling and until(got):
                settling = True
                sim.add_fault(FaultRule(kind="raw_frames", target="user", frames=[marker]))
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timeout on {url}: {summarize(got)}")
            msg = await ws.receive(timeout=remaining)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"{url} ended: {msg.type}; got {summarize(got)}")
            frame = json.loads(msg.data)
            if frame == marker:
                return got
            got.append(frame)


@pytest.mark.parametrize("path", ["/ws/{key}", "/private/ws/{key}", "/private/ws?listenKey={key}"])
async def test_user_stream_connection_forms(
    path: str, raw: RawApi, client: AsyncClient, sim: SimulatorServer
) -> None:
    key = (await raw.send("POST", "/fapi/v1/listenKey")).body["listenKey"]
    url = sim.ws_url.rstrip("/") + path.format(key=key)

    async def place() -> None:
        await client.futures_create_order(
            symbol=SYMBOL,
            side="SELL",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.005",
            price="61000",
            newClientOrderId="form",
        )

    got = await _ws_messages(sim, raw.session, url, place, lambda g: len(otu(g, "form")) >= 1)
    assert otu(got, "form")[0]["o"]["X"] == "NEW"


async def test_user_stream_events_filter(
    raw: RawApi, client: AsyncClient, sim: SimulatorServer
) -> None:
    key = (await raw.send("POST", "/fapi/v1/listenKey")).body["listenKey"]
    url = f"{sim.ws_url}private/ws?listenKey={key}&events=ACCOUNT_UPDATE"

    async def trade() -> None:
        await client.futures_create_order(
            symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.002"
        )

    got = await _ws_messages(
        sim, raw.session, url, trade, lambda g: len(events_of(g, "ACCOUNT_UPDATE")) >= 1
    )
    assert {e["e"] for e in got} == {"ACCOUNT_UPDATE"}


async def test_delete_listen_key_closes_stream(raw: RawApi, sim: SimulatorServer) -> None:
    key = (await raw.send("POST", "/fapi/v1/listenKey")).body["listenKey"]
    async with raw.session.ws_connect(f"{sim.ws_url}private/ws?listenKey={key}") as ws:
        await wait_until(lambda: connections(sim, user=True) == 1)
        await raw.send("DELETE", "/fapi/v1/listenKey", body=f"listenKey={key}")
        while True:
            msg = await ws.receive(timeout=3)
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
            ):
                break
    assert ws.closed


async def test_resting_reduce_only_never_flips(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    """A resting reduce-only order fills at most |pa|; the rest expires with er "4"."""
    await client.futures_create_order(
        symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.010", newOrderRespType="RESULT"
    )
    await client.futures_create_order(
        symbol=SYMBOL,
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price="61000",
        reduceOnly="true",
        newClientOrderId="ro-cap",
    )
    # The position shrinks underneath the resting reduce-only order.
    await client.futures_create_order(
        symbol=SYMBOL, side="SELL", type="MARKET", quantity="0.004", newOrderRespType="RESULT"
    )
    assert D(sim.state()["position"]["positionAmt"]) == Decimal("0.006")
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        await move_price(sim, Decimal("61100"))
        events = await rec.wait_for(
            lambda evs: any(e["o"]["X"] == "EXPIRED" for e in otu(evs, "ro-cap"))
        )
    updates = [e["o"] for e in otu(events, "ro-cap")]
    filled = sum(D(o["l"]) for o in updates if o["x"] == "TRADE")
    assert filled == Decimal("0.006")
    expired = next(o for o in updates if o["x"] == "EXPIRED")
    assert expired["er"] == "4"
    assert D(sim.state()["position"]["positionAmt"]) == 0
