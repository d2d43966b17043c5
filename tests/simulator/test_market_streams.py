"""Market streams (docs/exchange-rules.md, "Streams and listenKeys") with BinanceSocketManager
and raw WebSockets."""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from binance import AsyncClient, BinanceSocketManager

from adapters.simulator import SimulatorServer

from .conftest import SYMBOL, D, RawApi, Recorder, connections, wait_until

Msg = dict[str, Any]


async def collect(
    ws: aiohttp.ClientWebSocketResponse,
    until: Callable[[list[Msg]], bool],
    timeout: float = 5.0,
) -> list[Msg]:
    got: list[Msg] = []
    deadline = time.monotonic() + timeout
    while not until(got):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out; got {len(got)} messages: {got[-3:]}")
        msg = await ws.receive(timeout=remaining)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"socket ended: {msg.type}")
        got.append(json.loads(msg.data))
    return got


def closed_bars(msgs: list[Msg]) -> list[Msg]:
    return [m for m in msgs if m.get("e") == "kline" and m["k"]["x"]]


async def test_kline_stream_closes_each_bar_once(raw: RawApi, sim: SimulatorServer) -> None:
    sim.resume_clock()  # speed 60 → one 1m bar per second
    async with raw.session.ws_connect(f"{sim.ws_url}market/ws/btcusdt@kline_1m") as ws:
        msgs = await collect(ws, lambda g: len(closed_bars(g)) >= 3, timeout=8)
    klines = [m for m in msgs if m.get("e") == "kline"]
    finals: dict[int, int] = defaultdict(int)
    for m in klines:
        k = m["k"]
        assert m["s"] == SYMBOL and k["s"] == SYMBOL and k["i"] == "1m"
        assert k["T"] == k["t"] + 60_000 - 1
        assert D(k["l"]) <= min(D(k["o"]), D(k["c"])) <= max(D(k["o"]), D(k["c"])) <= D(k["h"])
        assert isinstance(m["E"], int)
        if k["x"]:
            finals[k["t"]] += 1
    assert all(n == 1 for n in finals.values()), "x:true exactly once per bar"
    starts = sorted(finals)
    assert all(b - a == 60_000 for a, b in itertools.pairwise(starts))
    # No update for a bar after its final one.
    for t in starts:
        idx = max(i for i, m in enumerate(klines) if m["k"]["t"] == t)
        assert klines[idx]["k"]["x"] is True


async def test_step_clock_closes_one_bar_and_matches_rest(
    raw: RawApi, sim: SimulatorServer, client: AsyncClient
) -> None:
    async with raw.session.ws_connect(f"{sim.ws_url}market/ws/btcusdt@kline_1m") as ws:
        await wait_until(lambda: connections(sim, user=False) == 1)
        sim.step_clock(n_candles=1)
        msgs = await collect(ws, lambda g: len(closed_bars(g)) >= 1, timeout=3)
    bar = closed_bars(msgs)[0]["k"]
    rest = await client.futures_klines(symbol=SYMBOL, interval="1m", limit=5)
    same = [k for k in rest if k[0] == bar["t"]]
    assert same, "the closed bar is served by REST klines"
    assert [D(x) for x in same[0][1:5]] == [D(bar[f]) for f in ("o", "h", "l", "c")]
    assert sim.state()["kline_closes"][-1]["openTime"] == bar["t"]


async def test_python_binance_continuous_kline_socket(
    bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    sim.resume_clock()
    async with Recorder(bsm.kline_futures_socket(SYMBOL, "1m"), sim) as rec:
        event = await rec.wait_event(lambda e: e.get("e") == "continuous_kline")
    assert event["ps"] == SYMBOL
    assert event["ct"] == "PERPETUAL"
    assert event["k"]["i"] == "1m"
    assert event["k"]["T"] == event["k"]["t"] + 60_000 - 1


async def test_python_binance_multiplex_socket(
    bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    sim.resume_clock()
    streams = ["btcusdt@kline_1m", "btcusdt@markPrice@1s"]
    async with Recorder(bsm.futures_multiplex_socket(streams), sim) as rec:
        await rec.wait_for(lambda evs: {e.get("stream") for e in evs} >= set(streams), timeout=5)
    for e in rec.events:
        if "stream" not in e:
            continue
        assert set(e) == {"stream", "data"}
        if e["stream"] == "btcusdt@kline_1m":
            assert e["data"]["e"] == "kline"
        elif e["stream"] == "btcusdt@markPrice@1s":
            assert e["data"]["e"] == "markPriceUpdate"


async def test_mark_price_stream(bsm: BinanceSocketManager, sim: SimulatorServer) -> None:
    target = Decimal("61234.5")
    sim.set_price(target, mode="jump")
    async with Recorder(bsm.symbol_mark_price_socket(SYMBOL), sim) as rec:
        wrapped = await rec.wait_event(lambda e: e.get("data", {}).get("e") == "markPriceUpdate")
    data = wrapped["data"]
    assert wrapped["stream"] == "btcusdt@markPrice@1s"
    assert data["s"] == SYMBOL
    assert D(data["p"]) == D(sim.state()["mark_price"])
    assert abs(D(data["p"]) - target) / target < Decimal("0.01")
    for key in ("i", "P", "r"):
        assert isinstance(data[key], str)
    assert isinstance(data["T"], int) and isinstance(data["E"], int)


async def test_agg_trade_stream(bsm: BinanceSocketManager, sim: SimulatorServer) -> None:
    sim.resume_clock()
    async with Recorder(bsm.aggtrade_futures_socket(SYMBOL), sim) as rec:
        wrapped = await rec.wait_event(lambda e: e.get("data", {}).get("e") == "aggTrade")
    data = wrapped["data"]
    assert data["s"] == SYMBOL
    assert D(data["p"]) > 0 and D(data["q"]) > 0
    assert isinstance(data["a"], int) and isinstance(data["m"], bool)


@pytest.mark.parametrize(
    "path",
    [
        "ws/btcusdt@markPrice@1s",
        "market/ws/btcusdt@markPrice@1s",
        "stream?streams=btcusdt@markPrice@1s",
        "market/stream?streams=btcusdt@markPrice@1s",
    ],
)
async def test_legacy_and_routed_paths(path: str, raw: RawApi, sim: SimulatorServer) -> None:
    async with raw.session.ws_connect(sim.ws_url + path) as ws:
        (msg,) = await collect(ws, lambda g: len(g) >= 1, timeout=4)
    if "stream?" in path:
        assert msg["stream"] == "btcusdt@markPrice@1s"
        msg = msg["data"]
    assert msg["e"] == "markPriceUpdate"


async def test_depth_on_public_route(raw: RawApi, sim: SimulatorServer) -> None:
    sim.resume_clock()
    async with raw.session.ws_connect(f"{sim.ws_url}public/stream?streams=btcusdt@depth10") as ws:
        (msg,) = await collect(ws, lambda g: len(g) >= 1, timeout=4)
    assert msg["stream"] == "btcusdt@depth10"
    data = msg["data"]
    assert data["b"] and data["a"]
    assert D(data["b"][0][0]) < D(data["a"][0][0])


async def test_control_frames(raw: RawApi, sim: SimulatorServer) -> None:
    async with raw.session.ws_connect(f"{sim.ws_url}market/ws") as ws:
        await ws.send_str(
            json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 1})
        )
        ack = await collect(ws, lambda g: any(m.get("id") == 1 for m in g), timeout=3)
        assert {"result": None, "id": 1} in ack
        await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}))
        listed = await collect(ws, lambda g: any(m.get("id") == 3 for m in g), timeout=3)
        assert {"result": ["btcusdt@markPrice@1s"], "id": 3} in listed
        # Subscribed data flows on the raw socket.
        data = await collect(
            ws, lambda g: any(m.get("e") == "markPriceUpdate" for m in g), timeout=4
        )
        assert data
        await ws.send_str(
            json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 4})
        )
        await collect(ws, lambda g: {"result": None, "id": 4} in g, timeout=3)
        await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 5}))
        listed = await collect(ws, lambda g: any(m.get("id") == 5 for m in g), timeout=3)
        assert {"result": [], "id": 5} in listed
        await ws.send_str("{not json")
        bad = await collect(ws, lambda g: any("code" in m for m in g), timeout=3)
        assert next(m for m in bad if "code" in m)["code"] == 3
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["x"], "id": -1}))
        bad = await collect(ws, lambda g: any("code" in m for m in g), timeout=3)
        assert next(m for m in bad if "code" in m)["code"] in (1, 2)


async def test_any_stream_name_then_subscribe(raw: RawApi, sim: SimulatorServer) -> None:
    """ccxt.pro opens /market/ws/<n> (a bare index as the stream name) and then SUBSCRIBEs."""
    sim.resume_clock()
    async with raw.session.ws_connect(f"{sim.ws_url}market/ws/0") as ws:
        await ws.send_str(
            json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 7})
        )
        got = await collect(
            ws,
            lambda g: {"result": None, "id": 7} in g and any(m.get("e") == "kline" for m in g),
            timeout=4,
        )
    assert any(m.get("e") == "kline" for m in got)
