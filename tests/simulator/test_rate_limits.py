"""Rate-limit headers, weights, 429 and the 418 ban (docs/exchange-rules.md, "Rate limits")."""

from __future__ import annotations

import pytest
from binance import AsyncClient
from binance.exceptions import BinanceAPIException

from .conftest import SYMBOL, RawApi, RawResponse

WEIGHT = "X-MBX-USED-WEIGHT-1M"
ORDERS_10S = "X-MBX-ORDER-COUNT-10S"
ORDERS_1M = "X-MBX-ORDER-COUNT-1M"


def header(resp: RawResponse, name: str) -> int:
    lowered = {k.lower(): v for k, v in resp.headers.items()}
    assert name.lower() in lowered, f"{name} missing from {sorted(resp.headers)}"
    return int(lowered[name.lower()])


IOC = {
    "symbol": SYMBOL,
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "IOC",
    "quantity": "0.002",
    "price": "59000",
}


async def test_weights_per_endpoint(raw: RawApi) -> None:
    first = await raw.public("/fapi/v1/ping")
    used = header(first, WEIGHT)
    assert used >= 1

    async def delta(resp_coro: object) -> int:
        nonlocal used
        resp = await resp_coro  # type: ignore[misc]
        assert resp.status == 200, resp.text
        now = header(resp, WEIGHT)
        d, used = now - used, now
        return d

    assert await delta(raw.public("/fapi/v1/time")) == 1
    assert await delta(raw.public("/fapi/v1/exchangeInfo")) == 1
    assert await delta(raw.public("/fapi/v1/depth", symbol=SYMBOL, limit=5)) == 2
    assert await delta(raw.public("/fapi/v1/depth", symbol=SYMBOL, limit=100)) == 5
    assert await delta(raw.public("/fapi/v1/depth", symbol=SYMBOL)) == 10
    assert await delta(raw.public("/fapi/v1/klines", symbol=SYMBOL, interval="1m", limit=50)) == 1
    assert await delta(raw.public("/fapi/v1/klines", symbol=SYMBOL, interval="1m", limit=200)) == 2
    assert await delta(raw.public("/fapi/v1/klines", symbol=SYMBOL, interval="1m")) == 5
    assert await delta(raw.public("/fapi/v1/ticker/price", symbol=SYMBOL)) == 1
    assert await delta(raw.public("/fapi/v1/ticker/price")) == 2
    assert await delta(raw.public("/fapi/v1/premiumIndex", symbol=SYMBOL)) == 1
    assert await delta(raw.public("/fapi/v1/premiumIndex")) == 10
    assert await delta(raw.signed("GET", "/fapi/v3/balance")) == 5
    assert await delta(raw.signed("GET", "/fapi/v2/account")) == 5
    assert await delta(raw.signed("GET", "/fapi/v3/positionRisk")) == 5
    assert await delta(raw.signed("GET", "/fapi/v1/openOrders", {"symbol": SYMBOL})) == 1
    assert await delta(raw.signed("GET", "/fapi/v1/openOrders")) == 40
    assert await delta(raw.signed("GET", "/fapi/v1/userTrades", {"symbol": SYMBOL})) == 5
    assert await delta(raw.signed("GET", "/fapi/v1/commissionRate", {"symbol": SYMBOL})) == 20
    assert await delta(raw.send("POST", "/fapi/v1/listenKey")) == 1


async def test_order_count_headers_and_zero_ip_weight(raw: RawApi) -> None:
    before = await raw.public("/fapi/v1/time")
    used = header(before, WEIGHT)
    first = await raw.signed("POST", "/fapi/v1/order", IOC)
    assert first.status == 200, first.text
    assert header(first, WEIGHT) == used, "POST order costs 0 IP weight"
    c10, c1m = header(first, ORDERS_10S), header(first, ORDERS_1M)
    assert c10 >= 1 and c1m >= 1
    second = await raw.signed("POST", "/fapi/v1/order", IOC)
    assert header(second, ORDERS_10S) == c10 + 1
    assert header(second, ORDERS_1M) == c1m + 1


async def test_429_then_418_ban_on_weight(raw: RawApi) -> None:
    last_ok = 0
    too_many: RawResponse | None = None
    # Weight is counted per calendar minute: 200 requests (8,000) exceed 2,400 even when a
    # minute boundary falls inside the loop and resets the count once.
    for _ in range(200):
        resp = await raw.signed("GET", "/fapi/v1/openOrders")  # weight 40
        if resp.status != 200:
            too_many = resp
            break
        last_ok = header(resp, WEIGHT)
    assert too_many is not None, "2400/min must be enforced"
    assert last_ok <= 2400
    assert last_ok > 2400 - 40 * 2
    assert (too_many.status, too_many.code) == (429, -1003)
    assert "Too many requests" in too_many.body["msg"]
    assert int(too_many.headers["Retry-After"]) > 0

    banned: RawResponse | None = None
    for _ in range(300):
        resp = await raw.public("/fapi/v1/time")
        if resp.status == 418:
            banned = resp
            break
        assert resp.status == 429, resp.text
    assert banned is not None, "clients that keep sending after 429 get a 418"
    assert banned.code == -1003
    assert banned.body["msg"].startswith("Way too many requests; IP banned until")
    assert int(banned.headers["Retry-After"]) >= 120 - 1
    # The ban covers every endpoint from this IP, signed ones too.
    again = await raw.signed("GET", "/fapi/v3/balance")
    assert again.status == 418


async def test_429_surfaces_in_python_binance(client: AsyncClient, raw: RawApi) -> None:
    for _ in range(200):  # room for one minute boundary, as above
        resp = await raw.signed("GET", "/fapi/v1/openOrders")
        if resp.status == 429:
            break
    assert resp.status == 429
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_symbol_ticker(symbol=SYMBOL)
    assert info.value.status_code in (429, 418)
    assert info.value.code == -1003
    assert int(info.value.response.headers["Retry-After"]) > 0


async def test_order_rate_limit_1015(raw: RawApi) -> None:
    # The 10 s window may be a fixed one, so a burst can straddle a boundary; 650 orders in a
    # couple of seconds still overflow one window.
    rejected: RawResponse | None = None
    last_ok: RawResponse | None = None
    for _ in range(650):
        resp = await raw.signed("POST", "/fapi/v1/order", IOC)
        if resp.status != 200:
            rejected = resp
            break
        last_ok = resp
    assert rejected is not None, "300 orders per 10 s must be enforced"
    assert last_ok is not None and header(last_ok, ORDERS_10S) == 300
    assert (rejected.status, rejected.code) == (429, -1015)
    assert "Too many new orders" in rejected.body["msg"]
