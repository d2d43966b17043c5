"""The REST governor against the simulator: throttles, bans, clock drift, unknown outcomes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from adapters.binance.client import make_client
from adapters.binance.connection import BinanceConnection
from adapters.binance.governor import RestBanned, RestGovernor
from adapters.binance.metrics import Metrics
from adapters.binance.urls import simulator_endpoints
from adapters.simulator import SimulatorServer
from aggregates.facts import OrderFact
from aggregates.intent import OrderIntent
from aggregates.ports import ExchangeRejected, ExchangeUnavailable, UnknownOutcome
from alphaengine.exchange import connect_exchange
from alphaengine.settings import load_settings
from tests.adapter.conftest import SYMBOL, add_fault
from tests.waiting import eventually


@pytest_asyncio.fixture
async def conn(sim: SimulatorServer, tmp_path: Path) -> AsyncIterator[BinanceConnection]:
    settings = load_settings(data_dir=tmp_path, secrets_file=tmp_path / "none.yaml", environ={})
    connection = await connect_exchange(settings, sim.url)
    try:
        yield connection
    finally:
        await connection.close()


def market(client_id: str, quantity: str = "0.010") -> OrderIntent:
    return OrderIntent(client_id, False, SYMBOL, "BUY", "MARKET", Decimal(quantity))


async def test_429_waits_retry_after_then_the_read_succeeds(
    sim: SimulatorServer, conn: BinanceConnection
) -> None:
    await add_fault(
        sim, kind="rate_limit", match={"method": "GET", "path": "/fapi/v3/balance"}, count=1,
        retry_after=1,
    )  # fmt: skip
    started = time.monotonic()
    rows = await conn.governor.request("get", "balance", version=3)
    assert time.monotonic() - started >= 1.0
    assert rows[0]["asset"] == "USDT"
    assert conn.metrics["rate_limited"] == 1
    assert conn.metrics["banned"] == 0  # waiting out Retry-After earned no ban


async def test_after_a_429_one_probe_goes_first_then_the_rest_and_no_ban(
    sim: SimulatorServer, conn: BinanceConnection
) -> None:
    await add_fault(
        sim, kind="rate_limit", match={"method": "GET", "path": "/fapi/v3/balance"}, count=1,
        retry_after=1,
    )  # fmt: skip
    first = asyncio.ensure_future(conn.governor.request("get", "balance", version=3))
    await eventually(lambda: conn.metrics["rate_limited"] == 1)
    sent_before = conn.metrics["requests"]
    # Ten more calls arrive while Retry-After runs: none of them may reach the exchange early.
    others = [
        asyncio.ensure_future(
            conn.governor.request("get", "positionRisk", {"symbol": SYMBOL}, version=3)
        )
        for _ in range(10)
    ]
    await asyncio.sleep(0.5)
    assert conn.metrics["requests"] == sent_before
    results = await asyncio.gather(first, *others)
    assert len(results) == 11
    assert conn.metrics["banned"] == 0 and conn.metrics["rate_limited"] == 1


async def test_a_second_429_soon_after_the_first_finds_nothing_else_in_flight(
    sim: SimulatorServer, conn: BinanceConnection
) -> None:
    await add_fault(
        sim, kind="rate_limit", match={"method": "GET", "path": "/fapi/v3/balance"}, count=1,
        retry_after=1,
    )  # fmt: skip
    await conn.governor.request("get", "balance", version=3)  # 429, then the probe passes
    # The limit strikes again while ten reads are wanted at once, as after a reconnect.
    await add_fault(
        sim, kind="rate_limit", match={"method": "GET", "path": "/fapi/v3/positionRisk"},
        count=1, retry_after=1,
    )  # fmt: skip
    results = await asyncio.gather(
        *(
            conn.governor.request("get", "positionRisk", {"symbol": SYMBOL}, version=3)
            for _ in range(10)
        )
    )
    assert len(results) == 10
    assert conn.metrics["rate_limited"] == 2 and conn.metrics["banned"] == 0


async def test_429_on_an_order_is_not_retried(
    sim: SimulatorServer, conn: BinanceConnection
) -> None:
    await add_fault(
        sim, kind="rate_limit", match={"method": "POST", "path": "/fapi/v1/order"}, count=1,
        retry_after=1,
    )  # fmt: skip
    with pytest.raises(ExchangeUnavailable):
        await conn.gateway.place_order(market("ae-rl1"))
    assert sim.state()["client_order_id_counts"].get("ae-rl1") is None
    started = time.monotonic()
    await conn.gateway.place_order(market("ae-rl1"))  # the next call waits, then goes through
    assert time.monotonic() - started >= 0.9
    assert sim.state()["client_order_id_counts"]["ae-rl1"] == 1


async def ban_the_ip(sim: SimulatorServer) -> None:
    """Another program on the same IP ignores a Retry-After and gets the IP banned for 2 s."""
    await add_fault(
        sim, kind="rate_limit", match={"path": "/fapi/v1/ping"}, count=1, retry_after=30,
        ban_seconds=2,
    )  # fmt: skip
    async with aiohttp.ClientSession() as session:
        for expected in (429, 418):
            async with session.get(f"{sim.url}/fapi/v1/ping") as response:
                assert response.status == expected


async def test_418_stops_all_rest_until_the_ban_ends(
    sim: SimulatorServer, conn: BinanceConnection
) -> None:
    banned_at: list[object] = []
    conn.governor.on_ban = banned_at.append
    await ban_the_ip(sim)
    with pytest.raises(RestBanned) as raised:
        await conn.governor.request("get", "balance", version=3)
    assert conn.metrics["banned"] == 1 and len(banned_at) == 1
    sent = conn.metrics["requests"]
    with pytest.raises(RestBanned):
        await conn.gateway.snapshot(SYMBOL)
    assert conn.metrics["requests"] == sent  # nothing was sent while banned
    until = raised.value.banned_until
    assert until is not None  # a ban says when it ends
    wait = until.timestamp() - time.time()
    assert 0 < wait <= 3
    await asyncio.sleep(wait + 0.1)
    snapshot = await conn.gateway.snapshot(SYMBOL)
    assert snapshot.balances[0].wallet_balance == Decimal("10000")


async def test_connecting_while_banned_says_until_when_instead_of_crashing(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    await ban_the_ip(sim)
    settings = load_settings(data_dir=tmp_path, secrets_file=tmp_path / "none.yaml", environ={})
    # The first call of a connection (the clock sync) is refused like any other call: a ban
    # the bot's start-up waits out (alphaengine/bot.py), not an exception that ends it.
    with pytest.raises(RestBanned) as raised:
        await connect_exchange(settings, sim.url)
    until = raised.value.banned_until
    assert until is not None and 0 < until.timestamp() - time.time() <= 3


async def test_minus_1021_resyncs_the_clock_and_retries_once(
    sim: SimulatorServer, conn: BinanceConnection
) -> None:
    assert conn.metrics["time_resyncs"] == 1  # at connect
    await add_fault(sim, kind="clock_skew", skew_ms=20_000)  # the exchange's clock jumps ahead
    rows = await conn.governor.request("get", "balance", version=3)
    assert rows[0]["asset"] == "USDT"
    assert conn.metrics["time_resyncs"] == 2
    assert 19_000 < conn.client.timestamp_offset < 21_000


async def test_503_unknown_after_placing_is_an_unknown_outcome(
    sim: SimulatorServer, conn: BinanceConnection
) -> None:
    await add_fault(sim, kind="apply_then_503", match={"path": "/fapi/v1/order"}, count=1)
    with pytest.raises(UnknownOutcome):
        await conn.gateway.place_order(market("ae-u1"))
    found = await conn.gateway.get_order(SYMBOL, "ae-u1", is_algo=False)
    assert isinstance(found, OrderFact) and found.status == "FILLED"
    await add_fault(sim, kind="fail_503", match={"path": "/fapi/v1/order"}, count=1)
    with pytest.raises(UnknownOutcome):
        await conn.gateway.place_order(market("ae-u2"))
    assert await conn.gateway.get_order(SYMBOL, "ae-u2", is_algo=False) is None
    assert conn.metrics["unknown_outcomes"] == 2


async def test_a_timeout_is_an_unknown_outcome(
    sim: SimulatorServer, conn: BinanceConnection
) -> None:
    conn.client._requests_params["timeout"] = 0.5
    await add_fault(
        sim, kind="apply_then_timeout", match={"path": "/fapi/v1/order"}, count=1,
        delay_seconds=2,
    )  # fmt: skip
    with pytest.raises(UnknownOutcome):
        await conn.gateway.place_order(market("ae-t1"))
    found = await conn.gateway.get_order(SYMBOL, "ae-t1", is_algo=False)
    assert found is not None  # it landed: only a lookup could tell


async def test_a_definite_rejection_keeps_code_and_message(conn: BinanceConnection) -> None:
    with pytest.raises(ExchangeRejected) as raised:
        await conn.gateway.place_order(market("ae-r1", quantity="0.0001"))
    assert raised.value.code < 0 and raised.value.status == 400 and raised.value.message
    assert conn.metrics["rejections"] == 1


async def test_connection_refused_is_unavailable(conn: BinanceConnection) -> None:
    client = make_client(simulator_endpoints("http://127.0.0.1:9"), "k" * 64, "s" * 64)
    governor = RestGovernor(client, Metrics())
    try:
        with pytest.raises(ExchangeUnavailable):
            await governor.request("get", "balance", version=3)
    finally:
        await client.close_connection()


@pytest_asyncio.fixture
async def html_errors() -> AsyncIterator[str]:
    """A front end that answers like a CDN in trouble: HTML and empty bodies, not JSON."""

    async def handle(request: web.Request) -> web.Response:
        if request.path.endswith("/order"):
            return web.Response(status=502, text="<html><body>Bad Gateway</body></html>")
        return web.Response(status=503, text="Service Unavailable.")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_non_json_error_bodies_are_classified_by_status(html_errors: str) -> None:
    client = make_client(simulator_endpoints(html_errors), "k" * 64, "s" * 64)
    metrics = Metrics()
    governor = RestGovernor(client, metrics)
    try:
        with pytest.raises(UnknownOutcome) as unknown:
            await governor.request("post", "order", {"symbol": SYMBOL}, idempotent=False)
        assert "Bad Gateway" in str(unknown.value)  # the body, not python-binance's repr
        with pytest.raises(ExchangeUnavailable):
            await governor.request("get", "balance", version=3)
    finally:
        await client.close_connection()
    assert metrics["unknown_outcomes"] == 1 and metrics["unavailable"] == 1


async def test_the_weight_budget_holds_calls_before_the_exchange_would_refuse(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    if 60 - time.time() % 60 < 3:  # keep the whole test inside one rate-limit minute
        await asyncio.sleep(3.5)
    sim.limiter.weight_limit = 100
    settings = load_settings(data_dir=tmp_path, secrets_file=tmp_path / "none.yaml", environ={})
    connection = await connect_exchange(settings, sim.url)
    governor = connection.governor
    governor.weight_limit_1m = 100  # what exchangeInfo would publish for such an account
    try:
        while governor.used_weight < 90:
            await governor.request("get", "balance", version=3)  # weight 5, read from headers
        sent = connection.metrics["requests"]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(governor.request("get", "balance", version=3), timeout=0.5)
        assert connection.metrics["requests"] == sent  # held back, not sent
        assert connection.metrics["budget_waits"] == 1
        assert connection.metrics["rate_limited"] == 0
    finally:
        await connection.close()
