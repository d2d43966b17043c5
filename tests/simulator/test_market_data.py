"""Market data (NONE security) through python-binance and raw HTTP."""

from __future__ import annotations

import itertools
from decimal import Decimal

from binance import AsyncClient

from adapters.simulator import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer

from .conftest import (
    START_PRICE,
    SYMBOL,
    D,
    RawApi,
    expect_api_error,
    now_ms,
    point_client_at,
)


async def test_ping_and_time(client: AsyncClient) -> None:
    assert await client.futures_ping() == {}
    server_time = (await client.futures_time())["serverTime"]
    assert isinstance(server_time, int)
    assert abs(server_time - now_ms()) < 2000


async def test_create_uses_spot_ping_and_time(sim: SimulatorServer) -> None:
    """AsyncClient.create() pings /api/v3/ping and reads /api/v3/time."""

    class LocalAsyncClient(AsyncClient):  # type: ignore[misc]  # python-binance is untyped
        API_URL = sim.url + "/api"
        MARGIN_API_URL = sim.url + "/sapi"
        FUTURES_URL = sim.url + "/fapi"
        FUTURES_DATA_URL = sim.url + "/futures/data"

    c = await LocalAsyncClient.create(
        DEFAULT_API_KEY, DEFAULT_API_SECRET, requests_params={"timeout": 3}
    )
    try:
        assert abs(c.timestamp_offset) < 2000
        balances = await c.futures_account_balance()
        assert any(row["asset"] == "USDT" for row in balances)
    finally:
        await c.close_connection()


async def test_exchange_info_filters_and_limits(client: AsyncClient) -> None:
    info = await client.futures_exchange_info()
    assert info["timezone"] == "UTC"
    assert isinstance(info["serverTime"], int)
    assert {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 2400,
    } in info["rateLimits"]
    assert {
        "rateLimitType": "ORDERS",
        "interval": "SECOND",
        "intervalNum": 10,
        "limit": 300,
    } in info["rateLimits"]
    assert {
        "rateLimitType": "ORDERS",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 1200,
    } in info["rateLimits"]
    sym = next(s for s in info["symbols"] if s["symbol"] == SYMBOL)
    assert sym["contractType"] == "PERPETUAL"
    assert sym["status"] == "TRADING"
    assert (sym["baseAsset"], sym["quoteAsset"], sym["marginAsset"]) == ("BTC", "USDT", "USDT")
    assert isinstance(sym["pricePrecision"], int)
    assert isinstance(sym["quantityPrecision"], int)
    assert "orderTypes" in sym and "OrderType" not in sym
    assert {"LIMIT", "MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET"} <= set(sym["orderTypes"])
    assert {"GTC", "IOC", "FOK", "GTX"} <= set(sym["timeInForce"])
    filters = {f["filterType"]: f for f in sym["filters"]}
    assert D(filters["PRICE_FILTER"]["tickSize"]) == Decimal("0.1")
    assert D(filters["LOT_SIZE"]["stepSize"]) == Decimal("0.001")
    assert D(filters["LOT_SIZE"]["minQty"]) == Decimal("0.001")
    assert D(filters["MARKET_LOT_SIZE"]["maxQty"]) == Decimal("120")
    assert D(filters["MIN_NOTIONAL"]["notional"]) == Decimal("100")
    assert D(filters["PERCENT_PRICE"]["multiplierUp"]) == Decimal("1.05")
    assert D(filters["PERCENT_PRICE"]["multiplierDown"]) == Decimal("0.95")
    assert filters["MAX_NUM_ORDERS"]["limit"] == 200
    # Numbers that Binance sends as strings are strings.
    assert isinstance(filters["PRICE_FILTER"]["tickSize"], str)


async def test_klines_shape(client: AsyncClient, sim: SimulatorServer) -> None:
    sim.step_clock(n_candles=3)
    klines = await client.futures_klines(symbol=SYMBOL, interval="1m", limit=3)
    assert 1 <= len(klines) <= 3
    for k in klines:
        assert len(k) == 12
        open_time, o, h, low, c, v, close_time = k[:7]
        assert isinstance(open_time, int) and isinstance(close_time, int)
        assert close_time == open_time + 60_000 - 1
        assert all(isinstance(x, str) for x in (o, h, low, c, v, k[7], k[9], k[10]))
        assert isinstance(k[8], int)
        assert D(low) <= min(D(o), D(c)) <= max(D(o), D(c)) <= D(h)
    opens = [k[0] for k in klines]
    assert opens == sorted(opens)
    assert all(b - a == 60_000 for a, b in itertools.pairwise(opens))


async def test_klines_5m_interval(client: AsyncClient) -> None:
    klines = await client.futures_klines(symbol=SYMBOL, interval="5m", limit=2)
    assert klines, "klines for 5m must not be empty"
    assert all(k[6] - k[0] == 300_000 - 1 for k in klines)
    assert all(k[0] % 300_000 == 0 for k in klines)


async def test_ticker_price_and_premium_index(client: AsyncClient, sim: SimulatorServer) -> None:
    ticker = await client.futures_symbol_ticker(symbol=SYMBOL)  # /fapi/v2/ticker/price
    assert ticker["symbol"] == SYMBOL
    assert isinstance(ticker["price"], str) and isinstance(ticker["time"], int)
    last = D(sim.state()["last_price"])
    assert D(ticker["price"]) == last
    # Paused clock: the price is near the configured start.
    assert abs(last - START_PRICE) / START_PRICE < Decimal("0.05")

    mark = await client.futures_mark_price(symbol=SYMBOL)  # /fapi/v1/premiumIndex
    assert mark["symbol"] == SYMBOL
    for key in ("markPrice", "indexPrice", "lastFundingRate", "interestRate"):
        assert isinstance(mark[key], str)
    assert isinstance(mark["nextFundingTime"], int)
    assert mark["nextFundingTime"] % (8 * 3600 * 1000) == 0
    assert D(mark["markPrice"]) == D(sim.state()["mark_price"])


async def test_ticker_without_symbol_is_a_list(raw: RawApi) -> None:
    for path in ("/fapi/v1/ticker/price", "/fapi/v2/ticker/price", "/fapi/v1/premiumIndex"):
        resp = await raw.public(path)
        assert resp.status == 200, (path, resp.text)
        assert isinstance(resp.body, list)
        assert any(row["symbol"] == SYMBOL for row in resp.body)


async def test_depth(raw: RawApi, sim: SimulatorServer) -> None:
    resp = await raw.public("/fapi/v1/depth", symbol=SYMBOL, limit=10)
    assert resp.status == 200
    depth = resp.body
    assert isinstance(depth["lastUpdateId"], int)
    bids = [(D(p), D(q)) for p, q in depth["bids"]]
    asks = [(D(p), D(q)) for p, q in depth["asks"]]
    assert 0 < len(bids) <= 10 and 0 < len(asks) <= 10
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0][0] < asks[0][0]
    assert all(q > 0 for _, q in bids + asks)
    assert all(p % Decimal("0.1") == 0 for p, _ in bids + asks)
    last = D(sim.state()["last_price"])
    assert bids[0][0] <= last <= asks[0][0]


async def test_unknown_symbol_is_1121(client: AsyncClient, raw: RawApi) -> None:
    await expect_api_error(client.futures_klines(symbol="NOPEUSDT", interval="1m"), -1121)
    await expect_api_error(client.futures_symbol_ticker(symbol="NOPEUSDT"), -1121)
    resp = await raw.public("/fapi/v1/depth", symbol="NOPEUSDT")
    assert (resp.status, resp.code) == (400, -1121)
    assert resp.body["msg"] == "Invalid symbol."


async def test_routing_prefixes_of_clients(sim: SimulatorServer) -> None:
    """A client pointed only through its URL attributes reaches v1, v2 and v3 endpoints."""
    c = point_client_at(AsyncClient(DEFAULT_API_KEY, DEFAULT_API_SECRET), sim.url)
    try:
        server_time = (await c.futures_time())["serverTime"]
        c.timestamp_offset = server_time - now_ms()
        v3_balance = await c.futures_account_balance()  # /fapi/v3/balance
        v2_account = await c.futures_account()  # /fapi/v2/account
        v3_positions = await c.futures_position_information(symbol=SYMBOL)  # /fapi/v3/positionRisk
        assert D(next(r for r in v3_balance if r["asset"] == "USDT")["balance"]) == Decimal("10000")
        assert D(v2_account["totalWalletBalance"]) == Decimal("10000")
        assert isinstance(v3_positions, list)
    finally:
        await c.close_connection()
