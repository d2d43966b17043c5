"""Fixtures for the simulator conformance suite.

Every test drives the simulator over real loopback HTTP/WebSocket with the real clients:
python-binance (``AsyncClient`` / ``BinanceSocketManager`` with only their URL attributes changed),
ccxt (``binanceusdm`` with ``urls['api']`` overridden) and raw aiohttp for byte-level checks and the
``/_sim`` control endpoints. Expected values follow docs/exchange-rules.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from binance import AsyncClient, BinanceSocketManager
from binance.exceptions import BinanceAPIException

from adapters.simulator import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    FaultRule,
    SimulatorConfig,
    SimulatorServer,
)

SYMBOL = "BTCUSDT"
START_PRICE = Decimal("60000")
TICK = Decimal("0.10")
STEP = Decimal("0.001")
MAKER = Decimal("0.0002")
TAKER = Decimal("0.0005")
LEVERAGE = 20
FUTURES_BALANCE = Decimal("10000")

Json = Any
Event = dict[str, Any]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sim_config(**kwargs): SimulatorConfig overrides for the `sim` fixture"
    )


def now_ms() -> int:
    return int(time.time() * 1000)


def D(value: Any) -> Decimal:
    return Decimal(str(value))


def make_config(**overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {
        "seed": 42,
        "symbol": SYMBOL,
        "speed": 60.0,
        "futures_balance": FUTURES_BALANCE,
        "spot_balance": Decimal("1000"),
        "api_key": DEFAULT_API_KEY,
        "api_secret": DEFAULT_API_SECRET,
        "start_price": START_PRICE,
    }
    values.update(overrides)
    return SimulatorConfig(**values)


async def start_server(**overrides: Any) -> SimulatorServer:
    server = SimulatorServer(make_config(**overrides))
    await server.start(host="127.0.0.1", port=0)
    return server


@pytest_asyncio.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[SimulatorServer]:
    """A fresh simulator per test, with the market clock paused (tests move the price)."""
    marker = request.node.get_closest_marker("sim_config")
    overrides = dict(marker.kwargs) if marker else {}
    server = await start_server(**overrides)
    server.pause_clock()
    try:
        yield server
    finally:
        await server.stop()


# ---------------------------------------------------------------------------------------------
# python-binance


def point_client_at(client: AsyncClient, base_url: str) -> AsyncClient:
    client.API_URL = base_url + "/api"
    client.MARGIN_API_URL = base_url + "/sapi"
    client.FUTURES_URL = base_url + "/fapi"
    client.FUTURES_DATA_URL = base_url + "/futures/data"
    return client


async def make_client(
    server: SimulatorServer,
    api_key: str = DEFAULT_API_KEY,
    api_secret: str = DEFAULT_API_SECRET,
    timeout: float = 3,
) -> AsyncClient:
    client = point_client_at(
        AsyncClient(api_key, api_secret, requests_params={"timeout": timeout}), server.url
    )
    server_time = (await client.futures_time())["serverTime"]
    client.timestamp_offset = server_time - now_ms()
    return client


@pytest_asyncio.fixture
async def client(sim: SimulatorServer) -> AsyncIterator[AsyncClient]:
    c = await make_client(sim)
    try:
        yield c
    finally:
        await c.close_connection()


def make_bsm(client: AsyncClient, server: SimulatorServer) -> BinanceSocketManager:
    bsm = BinanceSocketManager(client)
    bsm.FSTREAM_URL = server.ws_url
    bsm.STREAM_URL = server.ws_url
    return bsm


@pytest_asyncio.fixture
async def bsm(client: AsyncClient, sim: SimulatorServer) -> BinanceSocketManager:
    return make_bsm(client, sim)


def connections(server: SimulatorServer, *, user: bool | None = None) -> int:
    """Sockets the server has registered (user-data, market-data, or both)."""
    if user is None:
        return len(server.hub.users) + len(server.hub.market)
    return len(server.hub.users if user else server.hub.market)


MARKER = "simMarker"


class Recorder:
    """Drains a python-binance socket into a list in the background; waits are bounded."""

    def __init__(self, socket: Any, server: SimulatorServer) -> None:
        self.socket = socket
        self.server = server
        # python-binance's receive timeout; short, so that __aexit__ is fast.
        socket.TIMEOUT = 0.5
        self.events: list[Event] = []
        self._markers: set[int] = set()
        self._user = False
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._stopping = False

    async def __aenter__(self) -> Recorder:
        users, total = connections(self.server, user=True), connections(self.server)
        await self.socket.__aenter__()
        self._task = asyncio.create_task(self._pump())
        await wait_until(
            lambda: connections(self.server) > total, what="the server registers the socket"
        )
        self._user = connections(self.server, user=True) > users
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Cancelling a task blocked in python-binance's recv() (an asyncio.wait_for) can be
        # swallowed on Python 3.11, so never wait on the pump unboundedly.
        self._stopping = True
        if self._task:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=1)
        await asyncio.wait_for(self.socket.__aexit__(None, None, None), timeout=5)
        if self._task and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2)

    async def _pump(self) -> None:
        while not self._stopping:
            try:
                msg = await self.socket.recv()
            except asyncio.CancelledError:
                raise
            except Exception:
                return
            if isinstance(msg, dict) and msg.get("e") == MARKER:
                self._markers.add(int(msg["n"]))
            else:
                self.events.append(msg)
            self._changed.set()

    async def wait_for(
        self, predicate: Callable[[list[Event]], bool], timeout: float = 5.0
    ) -> list[Event]:
        deadline = time.monotonic() + timeout
        while not predicate(self.events):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s; events so far: {summarize(self.events)}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.2))
        return self.events

    async def wait_event(self, predicate: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        events = await self.wait_for(lambda evs: any(predicate(e) for e in evs), timeout)
        return next(e for e in events if predicate(e))

    async def settle(self, timeout: float = 5.0) -> list[Event]:
        """Everything the server had queued for this socket has arrived.

        A marker frame (the raw_frames fault) is queued behind it on the same socket; sockets
        deliver in order, so once the marker is back nothing sent before it is still on its way.
        Used to check that an action sent nothing (more).
        """
        number = len(self._markers) + 1
        self.server.add_fault(
            FaultRule(
                kind="raw_frames",
                target="user" if self._user else "market",
                frames=[{"e": MARKER, "n": number}],
            )
        )
        await self.wait_for(lambda _events: number in self._markers, timeout)
        return self.events


def user_events(events: Iterable[Event]) -> list[Event]:
    return [e for e in events if e.get("e") != "error"]


def summarize(events: Iterable[Event]) -> list[str]:
    out = []
    for e in events:
        kind = e.get("e", "?")
        if kind == "ORDER_TRADE_UPDATE":
            o = e["o"]
            out.append(f"OTU {o['x']}/{o['X']} c={o['c']} i={o['i']}")
        elif kind == "ALGO_UPDATE":
            out.append(f"ALGO {e['o']['X']} caid={e['o']['caid']}")
        elif kind == "ACCOUNT_UPDATE":
            out.append(f"AU m={e['a']['m']}")
        elif "stream" in e:
            out.append(f"stream {e['stream']}")
        else:
            out.append(str(kind))
    return out


def otu(events: Iterable[Event], client_order_id: str | None = None) -> list[Event]:
    return [
        e
        for e in events
        if e.get("e") == "ORDER_TRADE_UPDATE"
        and (client_order_id is None or e["o"]["c"] == client_order_id)
    ]


def events_of(events: Iterable[Event], kind: str) -> list[Event]:
    return [e for e in events if e.get("e") == kind]


async def expect_api_error(awaitable: Any, code: int, status: int = 400) -> BinanceAPIException:
    with pytest.raises(BinanceAPIException) as info:
        await awaitable
    err = info.value
    assert (err.code, err.status_code) == (code, status), f"got {err.code}/{err.status_code}: {err}"
    assert err.message, "an error body must carry a msg"
    return err


# ---------------------------------------------------------------------------------------------
# raw HTTP


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    text: str
    body: Json = field(default=None)

    @property
    def code(self) -> int | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class RawApi:
    """Byte-exact requests: the caller decides what goes in the query string and the body."""

    def __init__(self, session: aiohttp.ClientSession, server: SimulatorServer) -> None:
        self.session = session
        self.server = server
        self.base = server.url
        self.key = DEFAULT_API_KEY
        self.secret = DEFAULT_API_SECRET

    async def send(
        self,
        method: str,
        path: str,
        query: str = "",
        body: str = "",
        headers: dict[str, str] | None = None,
        api_key: str | None = "default",
        timeout: float = 5,
    ) -> RawResponse:
        hdrs: dict[str, str] = {}
        if api_key == "default":
            hdrs["X-MBX-APIKEY"] = self.key
        elif api_key is not None:
            hdrs["X-MBX-APIKEY"] = api_key
        if body:
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        hdrs.update(headers or {})
        url = self.base + path + (("?" + query) if query else "")
        async with self.session.request(
            method,
            yarl_url(url),
            data=body.encode() if body else None,
            headers=hdrs,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            text = await resp.text()
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = None
            return RawResponse(resp.status, dict(resp.headers), text, parsed)

    async def public(self, path: str, **params: Any) -> RawResponse:
        return await self.send("GET", path, urllib.parse.urlencode(params), api_key=None)

    async def signed(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        in_body: bool | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
        api_key: str | None = "default",
        timeout: float = 5,
    ) -> RawResponse:
        """Sign like python-binance (POST/PUT/DELETE in the body) unless in_body says otherwise."""
        values = dict(params or {})
        values.setdefault("timestamp", timestamp if timestamp is not None else self.server_now())
        payload = urllib.parse.urlencode(values)
        signature = sign(secret or self.secret, payload)
        signed_payload = f"{payload}&signature={signature}"
        body_side = in_body if in_body is not None else method in ("POST", "PUT", "DELETE")
        if body_side:
            return await self.send(
                method, path, body=signed_payload, api_key=api_key, timeout=timeout
            )
        return await self.send(method, path, query=signed_payload, api_key=api_key, timeout=timeout)

    def server_now(self) -> int:
        return int(self.server.state()["server_time"])

    # control plane
    async def add_fault(self, rule: dict[str, Any]) -> RawResponse:
        resp = await self.send(
            "POST",
            "/_sim/faults",
            body=json.dumps(rule),
            headers={"Content-Type": "application/json"},
            api_key=None,
        )
        assert resp.status == 200, resp.text
        return resp

    async def clear_faults(self) -> RawResponse:
        resp = await self.send("DELETE", "/_sim/faults", api_key=None)
        assert resp.status == 200, resp.text
        return resp


def yarl_url(url: str) -> Any:
    """Send the URL exactly as written (no re-quoting), so signed bytes stay intact."""
    import yarl

    return yarl.URL(url, encoded=True)


@pytest_asyncio.fixture
async def raw(sim: SimulatorServer) -> AsyncIterator[RawApi]:
    async with aiohttp.ClientSession() as session:
        yield RawApi(session, sim)


# ---------------------------------------------------------------------------------------------
# ccxt


def make_ccxt(server: SimulatorServer, pro: bool = False) -> Any:
    import ccxt.async_support as ccxt_async
    import ccxt.pro as ccxt_pro

    b = server.url
    exchange_class = ccxt_pro.binanceusdm if pro else ccxt_async.binanceusdm
    exchange = exchange_class(
        {
            "apiKey": DEFAULT_API_KEY,
            "secret": DEFAULT_API_SECRET,
            "timeout": 5000,
            "enableRateLimit": False,
            "options": {"fetchCurrencies": False, "adjustForTimeDifference": False},
        }
    )
    exchange.urls["api"].update(
        {
            "fapiPublic": b + "/fapi/v1",
            "fapiPublicV2": b + "/fapi/v2",
            "fapiPublicV3": b + "/fapi/v3",
            "fapiPrivate": b + "/fapi/v1",
            "fapiPrivateV2": b + "/fapi/v2",
            "fapiPrivateV3": b + "/fapi/v3",
            "fapiData": b + "/futures/data",
            "public": b + "/api/v3",
            "private": b + "/api/v3",
            "v1": b + "/api/v1",
            "sapi": b + "/sapi/v1",
            "sapiV2": b + "/sapi/v2",
            "sapiV3": b + "/sapi/v3",
            "sapiV4": b + "/sapi/v4",
        }
    )
    if pro:
        # ccxt.pro rewrites ".../ws" to ".../<category>/ws" and uses "/private/ws?listenKey=".
        exchange.urls["api"]["ws"]["linear"] = server.ws_url + "ws"
    return exchange


@pytest_asyncio.fixture
async def exchange(sim: SimulatorServer) -> AsyncIterator[Any]:
    ex = make_ccxt(sim)
    try:
        yield ex
    finally:
        await ex.close()


# ---------------------------------------------------------------------------------------------
# domain helpers


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s {what}")
        await asyncio.sleep(interval)


def sim_order(server: SimulatorServer, client_order_id: str) -> dict[str, Any] | None:
    found = [o for o in server.state()["orders"] if o["clientOrderId"] == client_order_id]
    return found[-1] if found else None


def position(server: SimulatorServer) -> dict[str, Any]:
    return dict(server.state()["position"])


def usdt_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in rows if r["asset"] == "USDT")


async def move_price(server: SimulatorServer, price: Decimal, candles: int = 1) -> None:
    """Jump the (paused) market to `price` and step the clock so resting orders/triggers run.

    Both calls act at once: fills are booked and their user-stream events queued on return.
    """
    server.set_price(price, mode="jump")
    server.step_clock(n_candles=candles)


async def book(raw: RawApi, limit: int = 20) -> dict[str, Any]:
    resp = await raw.public("/fapi/v1/depth", symbol=SYMBOL, limit=limit)
    assert resp.status == 200, resp.text
    return dict(resp.body)


def fee(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    return price * qty * rate
