"""The paper exchange survives restarts: `--state-file` (SimulatorConfig.state_file).

A restart, clean (SIGTERM) or not (SIGKILL), keeps balances, the position, settings, open orders
and algo orders, the REST history and the data clock; new ids are always greater than old ones
and the candles go on without a gap or an overlap.
"""

from __future__ import annotations

import itertools
import json
import os
import stat
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.simulator import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    SimulatorServer,
    StateFileError,
    StateInUseError,
    lock_file_for,
    state_file_for,
)
from adapters.simulator.snapshot import decode
from tests.waiting import eventually

from .conftest import SYMBOL, D, make_config, move_price, now_ms, sign
from .process import run_simulator, start_simulator

Json = Any
API_KEY = {"X-MBX-APIKEY": DEFAULT_API_KEY}


def signed(**params: Any) -> str:
    query = urllib.parse.urlencode(params | {"timestamp": now_ms()})
    return f"{query}&signature={sign(DEFAULT_API_SECRET, query)}"


class Rest:
    """Signed REST against a simulator at `url` (the protocol clock is the wall clock)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(self, method: str, path: str, **params: Any) -> Json:
        url = f"{self.url}{path}?{signed(**params)}"
        async with self.session.request(method, url, headers=API_KEY) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            return body

    async def public(self, path: str, **params: Any) -> Json:
        async with self.session.get(f"{self.url}{path}", params=params) as resp:
            assert resp.status == 200
            return await resp.json()

    async def sim_time(self) -> int:
        return int((await self.public("/_sim/state"))["sim_time"])


async def trade_a_little(rest: Rest) -> None:
    """A fill, a resting order far from the market, a protective stop, settings, a transfer."""
    await rest.call("POST", "/fapi/v1/leverage", symbol=SYMBOL, leverage=7)
    await rest.call("POST", "/fapi/v1/marginType", symbol=SYMBOL, marginType="ISOLATED")
    await rest.call(
        "POST", "/fapi/v1/order", symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.030"
    )
    await rest.call(
        "POST",
        "/fapi/v1/order",
        symbol=SYMBOL,
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price="63000",
        newClientOrderId="keep-limit",
    )
    await rest.call(
        "POST",
        "/fapi/v1/algoOrder",
        symbol=SYMBOL,
        algoType="CONDITIONAL",
        side="SELL",
        type="STOP_MARKET",
        triggerPrice="55000",
        closePosition="true",
        clientAlgoId="keep-stop",
    )
    await rest.call("POST", "/sapi/v1/asset/transfer", type="MAIN_UMFUTURE", asset="USDT", amount=5)


async def exchange_view(rest: Rest) -> dict[str, Json]:
    """What a restart must keep (fields that move with the mark price left out)."""
    balance = (await rest.call("GET", "/fapi/v3/balance"))[0]
    position = (await rest.call("GET", "/fapi/v2/positionRisk", symbol=SYMBOL))[0]
    kept = ("positionAmt", "entryPrice", "breakEvenPrice", "leverage", "marginType", "updateTime")
    return {
        "wallet": (balance["balance"], balance["crossWalletBalance"], balance["updateTime"]),
        "position": {key: position[key] for key in kept},
        "config": await rest.call("GET", "/fapi/v1/symbolConfig", symbol=SYMBOL),
        "dual": await rest.call("GET", "/fapi/v1/positionSide/dual"),
        "open_orders": await rest.call("GET", "/fapi/v1/openOrders", symbol=SYMBOL),
        "open_algos": await rest.call("GET", "/fapi/v1/openAlgoOrders", symbol=SYMBOL),
        "orders": await rest.call("GET", "/fapi/v1/allOrders", symbol=SYMBOL, orderId=1),
        "algos": await rest.call("GET", "/fapi/v1/allAlgoOrders", symbol=SYMBOL, algoId=1),
        "trades": await rest.call("GET", "/fapi/v1/userTrades", symbol=SYMBOL, fromId=1),
        "income": await rest.call("GET", "/fapi/v1/income", startTime=0, limit=1000),
        "spot": (await rest.call("GET", "/api/v3/account"))["balances"],
    }


def highest_ids(view: dict[str, Json]) -> dict[str, int]:
    return {
        "order": max(o["orderId"] for o in view["orders"]),
        "trade": max(t["id"] for t in view["trades"]),
        "algo": max(a["algoId"] for a in view["algos"]),
        "tran": max(r["tranId"] for r in view["income"]),
    }


async def new_ids(rest: Rest) -> dict[str, int]:
    """Trade once more after the restart; the ids the exchange hands out now."""
    order = await rest.call(
        "POST",
        "/fapi/v1/order",
        symbol=SYMBOL,
        side="SELL",
        type="MARKET",
        quantity="0.010",
        newOrderRespType="RESULT",
    )
    stop = await rest.call(
        "POST",
        "/fapi/v1/algoOrder",
        symbol=SYMBOL,
        algoType="CONDITIONAL",
        side="SELL",
        type="STOP_MARKET",
        triggerPrice="54000",
        quantity="0.010",
        reduceOnly="true",
    )
    trades = await rest.call("GET", "/fapi/v1/userTrades", symbol=SYMBOL, orderId=order["orderId"])
    income = await rest.call("GET", "/fapi/v1/income", startTime=0, limit=1000)
    return {
        "order": order["orderId"],
        "trade": min(t["id"] for t in trades),
        "algo": stop["algoId"],
        "tran": max(r["tranId"] for r in income),
    }


async def klines(rest: Rest) -> list[list[Json]]:
    rows: list[list[Json]] = await rest.public(
        "/fapi/v1/klines", symbol=SYMBOL, interval="1m", limit=1500
    )
    return rows


def assert_continuous(before: list[list[Json]], after: list[list[Json]]) -> None:
    """No gap and no overlap, and every candle closed before the restart is served unchanged."""
    times = [k[0] for k in after]
    assert all(b - a == 60_000 for a, b in itertools.pairwise(times)), "a gap or an overlap"
    closed_before = before[:-1]  # the last row is the forming candle
    served = {k[0]: k for k in after}
    assert all(served[k[0]] == k for k in closed_before if k[0] >= times[0])
    assert closed_before[-1][0] in served and times[-1] > closed_before[-1][0]


def assert_kept(before: dict[str, Json], after: dict[str, Json]) -> None:
    for key in before:
        assert after[key] == before[key], key


def assert_greater(new: dict[str, int], old: dict[str, int]) -> None:
    for kind, value in new.items():
        assert value > old[kind], f"{kind} id {value} reuses the range up to {old[kind]}"


# ---------------------------------------------------------------------------------------------
# real processes


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
async def test_a_restarted_process_continues_the_exchange(tmp_path: Path, stop: str) -> None:
    state = state_file_for(tmp_path)
    sim = await start_simulator(tmp_path, "--state-file", str(state))
    try:
        async with aiohttp.ClientSession() as session:
            rest = Rest(session, sim.url)
            await trade_a_little(rest)
            before = await exchange_view(rest)
            candles_before = await klines(rest)
            last_event = max(o["updateTime"] for o in before["orders"])
            # Nothing waits for a save: the last change was written before it was answered.
            if stop == "SIGKILL":
                sim.kill()
            else:
                sim_time_at_stop = await rest.sim_time()
                assert sim.terminate() == 0, sim.output()
    finally:
        sim.kill()

    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    again = await start_simulator(tmp_path, "--state-file", str(state))
    try:
        async with aiohttp.ClientSession() as session:
            rest = Rest(session, again.url)
            sim_time = await rest.sim_time()
            assert_kept(before, await exchange_view(rest))
            assert_continuous(candles_before, await klines(rest))
            assert_greater(await new_ids(rest), highest_ids(before))
    finally:
        assert again.terminate() == 0, again.output()
    # The data clock went on from where it stopped; it did not jump back to the wall clock.
    assert sim_time >= candles_before[-1][0] and sim_time >= last_event
    if stop == "SIGTERM":
        assert sim_time >= sim_time_at_stop


async def test_an_unreadable_state_file_stops_the_simulator(tmp_path: Path) -> None:
    state = tmp_path / "paper-exchange.json"
    state.write_text('{"format": "alphaengine-paper-exchange", "version": 1, "symbol": "BTC')
    process, log = run_simulator(tmp_path, "--state-file", str(state))
    assert process.wait(timeout=30) == 2
    message = log.read_text()
    assert str(state) in message and "listening" not in message
    # Nothing was started over: the file is as it was.
    assert state.read_text().endswith('"symbol": "BTC')


# ---------------------------------------------------------------------------------------------
# in process


async def start(path: Path, **overrides: Any) -> SimulatorServer:
    server = SimulatorServer(make_config(state_file=path, **overrides))
    await server.start()
    server.pause_clock()
    return server


async def test_restart_keeps_fills_orders_stops_and_funding(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = await start(path)
    async with aiohttp.ClientSession() as session:
        rest = Rest(session, first.url)
        await trade_a_little(rest)
        # A maker fill, and a funding time passed: hours of simulated time ahead of the wall
        await rest.call(
            "POST",
            "/fapi/v1/order",
            symbol=SYMBOL,
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.020",
            price="59900",
        )
        await move_price(first, D("59800"))
        minutes = -(-(first.exchange.next_funding_ms - first.data_ms()) // 60_000)
        first.step_clock(n_candles=minutes + 120)
        before = await exchange_view(rest)
        candles_before = await klines(rest)
        stopped_at = first.data_ms()
        await first.stop()
        assert {r["incomeType"] for r in before["income"]} >= {
            "COMMISSION",
            "FUNDING_FEE",
            "TRANSFER",
        }

        second = await start(path)
        try:
            rest = Rest(session, second.url)
            assert second.data_ms() >= stopped_at > now_ms() + 3_600_000
            assert_kept(before, await exchange_view(rest))
            assert_continuous(candles_before, await klines(rest))
            # The -4116 rule knows the open order's client id, and the order still works
            async with session.post(
                f"{second.url}/fapi/v1/order",
                params=signed(
                    symbol=SYMBOL,
                    side="SELL",
                    type="LIMIT",
                    timeInForce="GTC",
                    quantity="0.010",
                    price="64000",
                    newClientOrderId="keep-limit",
                ),
                headers=API_KEY,
            ) as resp:
                assert (await resp.json())["code"] == -4116
            await move_price(second, D("63100"))
            filled = await rest.call(
                "GET", "/fapi/v1/order", symbol=SYMBOL, origClientOrderId="keep-limit"
            )
            assert filled["status"] == "FILLED"
            assert_greater(await new_ids(rest), highest_ids(before))
        finally:
            await second.stop()


async def test_every_acknowledged_change_is_already_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    server = await start(path)
    try:
        async with aiohttp.ClientSession() as session:
            rest = Rest(session, server.url)

            def on_disk() -> Any:
                return decode(path.read_text(), server.config).exchange

            order = await rest.call(
                "POST", "/fapi/v1/order", symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.01"
            )
            assert on_disk().orders[order["orderId"]].status == "FILLED"
            assert len(on_disk().fills) == 1
            stop = await rest.call(
                "POST",
                "/fapi/v1/algoOrder",
                symbol=SYMBOL,
                algoType="CONDITIONAL",
                side="SELL",
                type="STOP_MARKET",
                triggerPrice="59000",
                closePosition="true",
            )
            assert on_disk().algos[stop["algoId"]].status == "NEW"
            # A trigger on a tick is saved before its events go out
            await move_price(server, D("58900"))
            assert on_disk().algos[stop["algoId"]].status == "FINISHED"
            assert on_disk().account.position.amount == 0
            await rest.call("POST", "/fapi/v1/leverage", symbol=SYMBOL, leverage=3)
            assert on_disk().account.leverage == 3
        # Atomic replace: no temporary file is left, and only its owner can read it
        assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert lock_file_for(path).read_text().strip() == str(os.getpid())
    finally:
        await server.stop()


async def test_a_second_simulator_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = await start(path)
    try:
        second = SimulatorServer(make_config(state_file=path))
        with pytest.raises(StateInUseError) as info:
            await second.start()
        assert info.value.pid == os.getpid() and str(path) in str(info.value)
    finally:
        await first.stop()
    # Once the first one is gone the file is free again
    again = await start(path)
    await again.stop()


async def test_a_state_file_for_another_symbol_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    server = await start(path)
    await server.stop()
    other = SimulatorServer(make_config(state_file=path, symbol="ETHUSDT"))
    with pytest.raises(StateFileError, match="ETHUSDT"):
        await other.start()
    # The refusal released the file
    again = await start(path)
    await again.stop()


async def test_reset_hands_out_new_ids_and_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    server = await start(path)
    try:
        async with aiohttp.ClientSession() as session:
            rest = Rest(session, server.url)
            await trade_a_little(rest)
            before = await exchange_view(rest)
            clock_before = server.data_ms()
            server.reset()
            assert server.data_ms() >= clock_before
            on_disk = json.loads(path.read_text())
            assert on_disk["orders"] == [] and on_disk["fills"] == []
            assert_greater(await new_ids(rest), highest_ids(before))
    finally:
        await server.stop()


async def test_market_progress_is_saved_on_a_timer(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    # Speed 5: a tick every wall second, the first candle closes only after 12 s, so within
    # the first seconds only the timer saves the market.
    server = SimulatorServer(make_config(state_file=path, speed=5.0, state_save_interval=0.1))
    await server.start()
    try:
        saved = json.loads(path.read_text())["market"]["tick_index"]
        await eventually(
            lambda: json.loads(path.read_text())["market"]["tick_index"] > saved, timeout=5
        )
        assert not server.kline_closes
    finally:
        await server.stop()
