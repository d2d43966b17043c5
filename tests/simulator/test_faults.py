"""Fault injection, via POST/DELETE /_sim/faults and via server.add_fault()."""

from __future__ import annotations

import json
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from binance import AsyncClient, BinanceSocketManager
from binance.exceptions import BinanceAPIException
from binance.ws.constants import WSListenerState
from websockets import protocol as ws_protocol

from adapters.simulator import FaultRule, SimulatorServer

from .conftest import (
    SYMBOL,
    RawApi,
    Recorder,
    connections,
    events_of,
    expect_api_error,
    otu,
    summarize,
    user_events,
    wait_until,
)

UNKNOWN_503 = "Unknown error, please check your request or try again later."


def resting(cid: str) -> dict[str, Any]:
    return {
        "symbol": SYMBOL,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.010",
        "price": "59000",
        "newClientOrderId": cid,
    }


# --- REST faults ------------------------------------------------------------------------------


async def test_delay(raw: RawApi) -> None:
    await raw.add_fault(
        {
            "kind": "delay",
            "match": {"method": "GET", "path": "/fapi/v1/time"},
            "count": 1,
            "delay_seconds": 0.6,
        }
    )
    t0 = time.monotonic()
    other = await raw.public("/fapi/v1/ping")
    assert other.status == 200 and time.monotonic() - t0 < 0.4, "other paths are not delayed"
    t0 = time.monotonic()
    delayed = await raw.public("/fapi/v1/time")
    assert delayed.status == 200
    assert time.monotonic() - t0 >= 0.55
    t0 = time.monotonic()
    await raw.public("/fapi/v1/time")
    assert time.monotonic() - t0 < 0.4, "count=1 applies once"


async def test_apply_then_503_places_the_order(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    sim.add_fault(FaultRule(kind="apply_then_503", method="POST", path="/fapi/v1/order", count=1))
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        err = await expect_api_error(
            client.futures_create_order(**resting("a503")), -1000, status=503
        )
        assert err.message == UNKNOWN_503
        # The order landed: the user stream still reports it and GET by client id finds it.
        await rec.wait_for(lambda evs: len(otu(evs, "a503")) >= 1)
    found = await client.futures_get_order(symbol=SYMBOL, origClientOrderId="a503")
    assert found["status"] == "NEW"
    # Reconciling, not resending: a retry with the same id is refused as a duplicate.
    await expect_api_error(client.futures_create_order(**resting("a503")), -4116)


async def test_apply_then_timeout_places_the_order(raw: RawApi, client: AsyncClient) -> None:
    await raw.add_fault(
        {
            "kind": "apply_then_timeout",
            "match": {"method": "POST", "path": "/fapi/v1/order"},
            "count": 1,
        }
    )
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        await client.futures_create_order(**resting("atimeout"), requests_params={"timeout": 1})
    assert time.monotonic() - t0 < 3

    async def landed() -> bool:
        o = await client.futures_get_order(symbol=SYMBOL, origClientOrderId="atimeout")
        status: str = o["status"]
        return status == "NEW"

    await wait_until(landed, what="the timed-out order must exist")


async def test_fail_503_does_not_place(client: AsyncClient, sim: SimulatorServer) -> None:
    sim.add_fault(FaultRule(kind="fail_503", method="POST", path="/fapi/v1/order", count=1))
    err = await expect_api_error(client.futures_create_order(**resting("f503")), -1000, status=503)
    assert err.message == UNKNOWN_503
    await expect_api_error(client.futures_get_order(symbol=SYMBOL, origClientOrderId="f503"), -2013)
    assert sim.state()["orders"] == []
    # count=1: the retry goes through.
    ok = await client.futures_create_order(**resting("f503"))
    assert ok["status"] == "NEW"


async def test_rate_limit_fault_429_then_418(raw: RawApi) -> None:
    await raw.add_fault(
        {
            "kind": "rate_limit",
            "match": {"method": "GET", "path": "/fapi/v1/premiumIndex"},
            "count": 1,
            "retry_after": 7,
            "ban_seconds": 300,
        }
    )
    first = await raw.public("/fapi/v1/premiumIndex", symbol=SYMBOL)
    assert (first.status, first.code) == (429, -1003)
    assert first.headers["Retry-After"] == "7"
    banned = None
    for _ in range(50):
        resp = await raw.public("/fapi/v1/premiumIndex", symbol=SYMBOL)
        if resp.status == 418:
            banned = resp
            break
        assert resp.status == 429, resp.text
    assert banned is not None, "a client that ignores Retry-After gets banned"
    assert banned.code == -1003
    assert banned.body["msg"].startswith("Way too many requests; IP banned until")
    assert 290 <= int(banned.headers["Retry-After"]) <= 300


async def test_rate_limit_fault_in_python_binance(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    sim.add_fault(
        FaultRule(kind="rate_limit", method="GET", path="/fapi/v3/balance", count=1, retry_after=3)
    )
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_account_balance()
    assert (info.value.status_code, info.value.code) == (429, -1003)
    assert info.value.response.headers["Retry-After"] == "3"


async def test_clock_skew(client: AsyncClient, sim: SimulatorServer) -> None:
    sim.add_fault(FaultRule(kind="clock_skew", skew_ms=30_000, count=1))
    await expect_api_error(client.futures_account_balance(), -1021)
    sim.clear_faults()
    assert await client.futures_account_balance()


async def test_clock_skew_via_rest(raw: RawApi, client: AsyncClient) -> None:
    await raw.add_fault(
        {
            "kind": "clock_skew",
            "match": {"method": "GET", "path": "/fapi/v2/account"},
            "probability": 1.0,
            "skew_ms": -30_000,
        }
    )
    await expect_api_error(client.futures_account(), -1021)
    assert await client.futures_account_balance(), "other paths are unaffected"
    await raw.clear_faults()
    assert (await client.futures_account())["assets"]


async def test_match_count_probability_and_clear(raw: RawApi) -> None:
    await raw.add_fault(
        {"kind": "fail_503", "match": {"method": "GET", "path": "/fapi/v1/time"}, "count": 2}
    )
    statuses = [(await raw.public("/fapi/v1/time")).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert (await raw.public("/fapi/v1/ping")).status == 200

    await raw.add_fault(
        {
            "kind": "fail_503",
            "match": {"method": "GET", "path": "/fapi/v1/time"},
            "probability": 1.0,
        }
    )
    assert [(await raw.public("/fapi/v1/time")).status for _ in range(3)] == [503] * 3
    await raw.clear_faults()
    assert (await raw.public("/fapi/v1/time")).status == 200
    # A POST with a wrong method in match does not fire.
    await raw.add_fault(
        {"kind": "fail_503", "match": {"method": "POST", "path": "/fapi/v1/time"}, "count": 1}
    )
    assert (await raw.public("/fapi/v1/time")).status == 200


async def test_unknown_fault_kind_rejected(raw: RawApi) -> None:
    resp = await raw.send(
        "POST",
        "/_sim/faults",
        body=json.dumps({"kind": "meteor_strike", "count": 1}),
        headers={"Content-Type": "application/json"},
        api_key=None,
    )
    assert 400 <= resp.status < 500


# --- WebSocket faults -------------------------------------------------------------------------


async def test_drop_websockets(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer, raw: RawApi
) -> None:
    async with (
        raw.session.ws_connect(f"{sim.ws_url}market/ws/btcusdt@markPrice@1s") as market,
        Recorder(bsm.futures_user_socket(), sim) as rec,
    ):
        await raw.add_fault({"kind": "drop_websockets", "count": 1})
        await raw.public("/fapi/v1/ping")
        # Both the market socket and the user socket are dropped.
        while True:
            msg = await market.receive(timeout=3)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        await rec.wait_for(lambda evs: any(e.get("e") == "error" for e in evs), timeout=3)
        # python-binance reconnects (same listenKey, ~1 s backoff); later events arrive again.

        def streaming() -> bool:
            sock = rec.socket
            return bool(
                sock.ws_state == WSListenerState.STREAMING
                and sock.ws is not None
                and sock.ws.state == ws_protocol.State.OPEN
            )

        await rec.wait_for(
            lambda evs: any(e.get("type") == "BinanceWebsocketClosed" for e in evs), timeout=3
        )
        await wait_until(streaming, timeout=5, what="python-binance should reconnect")
        await wait_until(lambda: connections(sim, user=True) == 1, what="the server sees it")
        await client.futures_create_order(**resting("after-drop"))
        await rec.wait_for(lambda evs: bool(otu(evs, "after-drop")), timeout=3)


async def test_stall_websockets(raw: RawApi, sim: SimulatorServer) -> None:
    sim.resume_clock()
    async with raw.session.ws_connect(f"{sim.ws_url}market/ws/btcusdt@kline_1m") as ws:
        first = await ws.receive(timeout=3)
        assert first.type == aiohttp.WSMsgType.TEXT
        sim.add_fault(FaultRule(kind="stall_websockets", duration_seconds=1.5, count=1))
        await raw.public("/fapi/v1/ping")
        t0 = time.monotonic()
        # Drain anything already in flight, then expect silence while the socket stays open.
        silent_from = None
        while time.monotonic() - t0 < 1.2:
            try:
                msg = await ws.receive(timeout=0.4)
            except TimeoutError:
                silent_from = silent_from or time.monotonic()
                continue
            assert msg.type == aiohttp.WSMsgType.TEXT, "a stalled socket is not closed"
            silent_from = None
        assert silent_from is not None, "messages kept flowing during the stall"
        assert not ws.closed
        resumed = await ws.receive(timeout=4)
        assert resumed.type == aiohttp.WSMsgType.TEXT, "the stream resumes after the stall"


async def test_duplicate_events(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    sim.add_fault(FaultRule(kind="duplicate_events", probability=1.0))
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        await client.futures_create_order(
            symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.002", newClientOrderId="dupev"
        )
        await rec.wait_for(
            lambda evs: sum(1 for e in otu(evs, "dupev") if e["o"]["X"] == "FILLED") >= 2
        )
        await rec.settle()
    counts = Counter(json.dumps(e, sort_keys=True) for e in user_events(rec.events))
    assert counts and all(n == 2 for n in counts.values()), summarize(rec.events)
    assert len(counts) == 4  # OTU NEW, TRADE_LITE, ACCOUNT_UPDATE, OTU TRADE
    # Duplicates change nothing on the account.
    assert Decimal(sim.state()["position"]["positionAmt"]) == Decimal("0.002")


async def test_shuffle_events(
    client: AsyncClient, bsm: BinanceSocketManager, raw: RawApi, sim: SimulatorServer
) -> None:
    await raw.add_fault({"kind": "shuffle_events", "probability": 1.0})
    n = 6
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        for i in range(n):
            side = "BUY" if i % 2 == 0 else "SELL"
            await client.futures_create_order(
                symbol=SYMBOL, side=side, type="MARKET", quantity="0.002", newClientOrderId=f"sh{i}"
            )
        await rec.wait_for(
            lambda evs: (
                all(any(e["o"]["X"] == "FILLED" for e in otu(evs, f"sh{i}")) for i in range(n))
                and len(events_of(evs, "TRADE_LITE")) >= n
                and len(events_of(evs, "ACCOUNT_UPDATE")) >= n
            )
        )
        await rec.settle()
    events = user_events(rec.events)
    assert Counter(e["e"] for e in events) == {
        "ORDER_TRADE_UPDATE": 2 * n,
        "TRADE_LITE": n,
        "ACCOUNT_UPDATE": n,
    }
    # Same-type order is kept (strictly ordered by T and E within a type).
    for kind in ("ORDER_TRADE_UPDATE", "TRADE_LITE", "ACCOUNT_UPDATE"):
        same = events_of(events, kind)
        assert [(e["T"], e["E"]) for e in same] == sorted((e["T"], e["E"]) for e in same)
    for i in range(n):
        assert [e["o"]["x"] for e in otu(events, f"sh{i}")] == ["NEW", "TRADE"]
    # ...but the cross-type order differs from the default for at least one transaction.
    default = ["ORDER_TRADE_UPDATE", "TRADE_LITE", "ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE"]
    assert [e["e"] for e in events] != default * n, summarize(events)


async def test_expire_listen_key(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        key = sim.state()["listen_key"]
        assert key
        sim.add_fault(FaultRule(kind="expire_listen_key", count=1))
        await client.futures_ping()
        expired = await rec.wait_event(lambda e: e.get("e") == "listenKeyExpired")
        assert expired["listenKey"] == key
        assert int(expired["E"]) > 0
        # After it no more events come on the old key.
        await client.futures_create_order(**resting("after-expiry"))
        await rec.settle()
        assert otu(rec.events, "after-expiry") == []
    await expect_api_error(client.futures_stream_keepalive(key), -1125)
    fresh = await client.futures_stream_get_listen_key()
    assert fresh != key


async def test_expire_listen_key_via_rest(raw: RawApi, sim: SimulatorServer) -> None:
    key = (await raw.send("POST", "/fapi/v1/listenKey")).body["listenKey"]
    async with raw.session.ws_connect(f"{sim.ws_url}ws/{key}") as ws:
        await wait_until(lambda: connections(sim, user=True) == 1)
        await raw.add_fault({"kind": "expire_listen_key", "count": 1})
        await raw.public("/fapi/v1/ping")
        got: dict[str, Any] = {}
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            msg = await ws.receive(timeout=3)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            got = json.loads(msg.data)
            if got.get("e") == "listenKeyExpired":
                break
    assert got.get("e") == "listenKeyExpired" and got["listenKey"] == key
    put = await raw.send("PUT", "/fapi/v1/listenKey", body=f"listenKey={key}")
    assert (put.status, put.code) == (400, -1125)


# --- raw frames -------------------------------------------------------------------------------

FRAMES: list[Any] = ["not json {", {"e": "foreign", "x": 1}, [1, 2, 3], 42, None, '{"e":"kline"}']
SENT = ["not json {", '{"e": "foreign", "x": 1}', "[1, 2, 3]", "42", "null", '{"e":"kline"}']


async def texts(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[str]:
    got = []
    for _ in range(count):
        msg = await ws.receive(timeout=3)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        got.append(msg.data)
    return got


async def test_raw_frames_reach_every_market_socket_as_sent(
    raw: RawApi, sim: SimulatorServer
) -> None:
    key = (await raw.send("POST", "/fapi/v1/listenKey")).body["listenKey"]
    async with (
        raw.session.ws_connect(f"{sim.ws_url}market/ws/btcusdt@kline_1m") as single,
        raw.session.ws_connect(f"{sim.ws_url}stream?streams=btcusdt@kline_1m") as combined,
        raw.session.ws_connect(f"{sim.ws_url}private/ws?listenKey={key}") as user,
    ):
        await wait_until(lambda: connections(sim, user=False) == 2)
        await wait_until(lambda: connections(sim, user=True) == 1)
        resp = await raw.add_fault({"kind": "raw_frames", "target": "market", "frames": FRAMES})
        assert resp.body["rule"]["frames"] == FRAMES
        # Exactly the frames, in order, neither wrapped nor re-encoded (the clock is paused,
        # so nothing else is sent meanwhile)
        assert await texts(single, len(SENT)) == SENT
        assert await texts(combined, len(SENT)) == SENT
        # The sockets still work both ways: control frames and data
        await single.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 9}))
        assert json.loads((await texts(single, 1))[0]) == {"result": ["btcusdt@kline_1m"], "id": 9}
        sim.step_clock(n_candles=1)
        assert json.loads((await texts(single, 1))[0])["e"] == "kline"
        assert json.loads((await texts(combined, 1))[0])["stream"] == "btcusdt@kline_1m"
        # The user socket got none of them: the first thing it sees is what comes next
        sim.add_fault(FaultRule(kind="raw_frames", target="user", frames=["after"]))
        assert await texts(user, 1) == ["after"]


async def test_raw_frames_reach_user_sockets_which_keep_working(
    raw: RawApi, client: AsyncClient, sim: SimulatorServer
) -> None:
    key = (await raw.send("POST", "/fapi/v1/listenKey")).body["listenKey"]
    async with raw.session.ws_connect(f"{sim.ws_url}private/ws?listenKey={key}") as user:
        await wait_until(lambda: connections(sim, user=True) == 1)
        sim.add_fault(FaultRule(kind="raw_frames", target="user", frames=FRAMES))
        assert await texts(user, len(SENT)) == SENT
        await client.futures_create_order(**resting("after-raw"))
        event = json.loads((await texts(user, 1))[0])
        assert event["e"] == "ORDER_TRADE_UPDATE" and event["o"]["c"] == "after-raw"
    # Immediate, like drop_websockets: nothing is left in the fault list
    assert (await raw.send("GET", "/_sim/faults", api_key=None)).body == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"kind": "raw_frames", "frames": ["x"]}, "target"),
        ({"kind": "raw_frames", "target": "spot", "frames": ["x"]}, "target"),
        ({"kind": "raw_frames", "target": "user"}, "frames"),
        ({"kind": "raw_frames", "target": "user", "frames": "x"}, "frames"),
        ({"kind": "raw_frames", "target": "market", "frames": []}, "frames"),
        (["raw_frames"], "object"),
    ],
)
async def test_raw_frames_bad_body_is_400(raw: RawApi, body: Any, reason: str) -> None:
    resp = await raw.send(
        "POST",
        "/_sim/faults",
        body=json.dumps(body),
        headers={"Content-Type": "application/json"},
        api_key=None,
    )
    assert resp.status == 400 and reason in resp.body["msg"], resp.text


async def test_other_kinds_keep_their_shape(raw: RawApi) -> None:
    resp = await raw.add_fault({"kind": "delay", "count": 1, "frames": ["ignored"]})
    assert "frames" not in resp.body["rule"] and "target" not in resp.body["rule"]


async def test_a_malformed_frame_ends_python_binance_reading(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    """What the fault is for: python-binance reports one error and stops reading its socket."""
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        sim.add_fault(FaultRule(kind="raw_frames", target="user", frames=["not json {"]))
        error = await rec.wait_event(lambda e: e.get("e") == "error")
        assert error["type"] in ("JSONDecodeError", "ValueError")
        assert sim.hub.users, "the simulator keeps the socket open"
