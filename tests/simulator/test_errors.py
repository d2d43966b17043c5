"""Every error code of docs/exchange-rules.md ("Errors and their meaning", "Order validation
order", "Position netting"), each caused by a real request.

Signature/timestamp/API-key errors (-1021, -1022, -2014, -2015) live in test_signing_and_time.py,
-2021 in test_algo_orders.py, 429/418 in test_rate_limits.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from binance import AsyncClient
from binance.exceptions import BinanceAPIException

from adapters.simulator import SimulatorServer, SymbolRules

from .conftest import SYMBOL, D, RawApi, book, expect_api_error


def limit(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "symbol": SYMBOL,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.010",
        "price": "59000",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


async def rejected(client: AsyncClient, sim: SimulatorServer, code: int, **overrides: Any) -> str:
    """Place an order that must be rejected with `code`, and check nothing was created."""
    before = len(sim.state()["orders"])
    err = await expect_api_error(client.futures_create_order(**limit(**overrides)), code)
    assert len(sim.state()["orders"]) == before, "a rejected order must not be recorded"
    return str(err.message)


async def filters(client: AsyncClient) -> dict[str, dict[str, Any]]:
    info = await client.futures_exchange_info()
    sym = next(s for s in info["symbols"] if s["symbol"] == SYMBOL)
    return {f["filterType"]: f for f in sym["filters"]}


async def open_long(client: AsyncClient, qty: str) -> None:
    res = await client.futures_create_order(
        symbol=SYMBOL, side="BUY", type="MARKET", quantity=qty, newOrderRespType="RESULT"
    )
    assert res["status"] == "FILLED"


# --- symbol and parameters -------------------------------------------------------------------


async def test_1121_invalid_symbol(client: AsyncClient, sim: SimulatorServer) -> None:
    msg = await rejected(client, sim, -1121, symbol="NOPEUSDT")
    assert msg == "Invalid symbol."


async def test_1102_mandatory_param(client: AsyncClient, sim: SimulatorServer) -> None:
    msg = await rejected(client, sim, -1102, quantity=None)
    assert "quantity" in msg
    await rejected(client, sim, -1102, price=None)
    await rejected(client, sim, -1102, type="MARKET", price=None, timeInForce=None, quantity=None)
    await expect_api_error(client.futures_get_order(symbol=SYMBOL), -1102)
    await expect_api_error(client.futures_cancel_order(symbol=SYMBOL), -1102)


async def test_4003_quantity_not_positive(client: AsyncClient, sim: SimulatorServer) -> None:
    await rejected(client, sim, -4003, quantity="0")


async def test_4015_bad_client_order_id(
    client: AsyncClient, sim: SimulatorServer, raw: RawApi
) -> None:
    await rejected(client, sim, -4015, newClientOrderId="x" * 37)
    # python-binance signs unencoded values but sends them form-encoded, so ids with characters
    # that need encoding are sent raw (signed over the encoded bytes, as ccxt does).
    for bad in ("has space", "bad#char", "é"):
        resp = await raw.signed("POST", "/fapi/v1/order", limit(newClientOrderId=bad))
        assert (resp.status, resp.code) == (400, -4015), (bad, resp.text)
    assert sim.state()["orders"] == []
    # The regex allows . : / _ - and up to 36 characters.
    valid = "a.b:c/d_e-" + "f" * 26
    resp = await raw.signed("POST", "/fapi/v1/order", limit(newClientOrderId=valid))
    assert resp.status == 200, resp.text
    assert resp.body["clientOrderId"] == valid


async def test_4116_duplicated_client_order_id(client: AsyncClient, sim: SimulatorServer) -> None:
    await client.futures_create_order(**limit(newClientOrderId="same"))
    msg = await rejected(client, sim, -4116, newClientOrderId="same")
    assert msg == "ClientOrderId is duplicated."


async def test_4120_conditional_type_on_order_endpoint(raw: RawApi, sim: SimulatorServer) -> None:
    for order_type in ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT"):
        params = {
            "symbol": SYMBOL,
            "side": "SELL",
            "type": order_type,
            "quantity": "0.010",
            "stopPrice": "58000",
        }
        if order_type in ("STOP", "TAKE_PROFIT"):
            params["price"] = "58000"
        resp = await raw.signed("POST", "/fapi/v1/order", params)
        assert (resp.status, resp.code) == (400, -4120), (order_type, resp.text)
        assert "Algo Order API" in resp.body["msg"]
    assert sim.state()["orders"] == [] and sim.state()["algo_orders"] == []


# --- filters ---------------------------------------------------------------------------------


async def test_4014_price_not_on_tick(client: AsyncClient, sim: SimulatorServer) -> None:
    msg = await rejected(client, sim, -4014, price="59000.05")
    assert msg == "Price not increased by tick size."


async def test_over_precise_values_fail_at_the_tick_step_stage(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    """Tick/step/precision (-4014/-4023/-1111) are checked as one stage before min/max.

    With BTCUSDT's filters (step 0.001 = 10^-quantityPrecision) an off-step quantity is also
    over-precise, so either code is right; it must not reach min/max, notional or margin.
    """
    cases: list[tuple[dict[str, str], set[int]]] = [
        ({"quantity": "0.0105"}, {-4023, -1111}),
        ({"quantity": "0.0001"}, {-4023, -1111}),
        ({"quantity": "0.0001", "price": "59000.123"}, {-4014, -4023, -1111}),
        ({"price": "59000.123"}, {-4014, -1111}),
    ]
    for overrides, codes in cases:
        with pytest.raises(BinanceAPIException) as info:
            await client.futures_create_order(**limit(**overrides))
        assert (info.value.status_code, info.value.code in codes) == (400, True), (
            overrides,
            info.value.code,
        )
    assert sim.state()["orders"] == []


# A symbol whose step is coarser than its precision (like many altcoins) reaches -4023 and -4004.
COARSE = SymbolRules(step_size=Decimal("0.005"), min_qty=Decimal("0.010"))


@pytest.mark.sim_config(rules=COARSE)
async def test_4023_qty_not_on_step(client: AsyncClient, sim: SimulatorServer) -> None:
    f = (await filters(client))["LOT_SIZE"]
    assert (D(f["stepSize"]), D(f["minQty"])) == (Decimal("0.005"), Decimal("0.010"))
    msg = await rejected(client, sim, -4023, quantity="0.012")
    assert msg == "Qty not increased by step size."
    ok = await client.futures_create_order(**limit(quantity="0.015"))
    assert ok["status"] == "NEW"


@pytest.mark.sim_config(rules=COARSE)
async def test_4004_qty_below_min(client: AsyncClient, sim: SimulatorServer) -> None:
    await rejected(client, sim, -4004, quantity="0.005")


async def test_4005_qty_above_max(client: AsyncClient, sim: SimulatorServer) -> None:
    f = await filters(client)
    too_many = D(f["LOT_SIZE"]["maxQty"]) + D(f["LOT_SIZE"]["stepSize"])
    await rejected(client, sim, -4005, quantity=str(too_many))
    market_max = D(f["MARKET_LOT_SIZE"]["maxQty"])
    await rejected(
        client,
        sim,
        -4005,
        type="MARKET",
        price=None,
        timeInForce=None,
        quantity=str(market_max + 1),
    )


async def test_4013_price_below_min(client: AsyncClient, sim: SimulatorServer) -> None:
    f = (await filters(client))["PRICE_FILTER"]
    min_price, tick = D(f["minPrice"]), D(f["tickSize"])
    if min_price <= tick:
        pytest.skip("minPrice filter disabled")
    await rejected(client, sim, -4013, price=str(min_price - tick), quantity="1.000")


async def test_4002_price_above_max(client: AsyncClient, sim: SimulatorServer) -> None:
    f = (await filters(client))["PRICE_FILTER"]
    max_price, tick = D(f["maxPrice"]), D(f["tickSize"])
    if max_price == 0:
        pytest.skip("maxPrice filter disabled")
    await rejected(client, sim, -4002, price=str(max_price + tick), side="SELL")


async def test_4016_buy_above_percent_price(client: AsyncClient, sim: SimulatorServer) -> None:
    mark = D(sim.state()["mark_price"])
    price = (mark * Decimal("1.05") + 100).quantize(Decimal("0.1"))
    await rejected(client, sim, -4016, price=str(price), quantity="0.002")
    # Just inside the band is fine (it crosses and fills as a taker).
    inside = (mark * Decimal("1.05") - 10).quantize(Decimal("0.1"))
    ok = await client.futures_create_order(**limit(price=str(inside), quantity="0.002"))
    assert ok["orderId"] > 0


async def test_4024_sell_below_percent_price(client: AsyncClient, sim: SimulatorServer) -> None:
    mark = D(sim.state()["mark_price"])
    price = (mark * Decimal("0.95") - 100).quantize(Decimal("0.1"))
    await rejected(client, sim, -4024, side="SELL", price=str(price), quantity="0.002")


async def test_4164_min_notional(client: AsyncClient, sim: SimulatorServer) -> None:
    msg = await rejected(client, sim, -4164, quantity="0.001")  # 59 USDT < 100
    assert "no smaller than 100 " in msg, msg
    # MARKET uses the mark price for the notional.
    await rejected(
        client, sim, -4164, type="MARKET", price=None, timeInForce=None, quantity="0.001"
    )


async def test_4164_waived_for_reduce_only(client: AsyncClient, sim: SimulatorServer) -> None:
    await open_long(client, "0.002")
    res = await client.futures_create_order(
        symbol=SYMBOL,
        side="SELL",
        type="MARKET",
        quantity="0.001",
        reduceOnly="true",
        newOrderRespType="RESULT",
    )
    assert res["status"] == "FILLED"
    assert D(sim.state()["position"]["positionAmt"]) == Decimal("0.001")


# --- reduceOnly, margin, time in force --------------------------------------------------------


async def test_2022_reduce_only_without_position(client: AsyncClient, sim: SimulatorServer) -> None:
    msg = await rejected(client, sim, -2022, side="SELL", price="61000", reduceOnly="true")
    assert msg == "ReduceOnly Order is rejected."


async def test_2022_reduce_only_same_direction(client: AsyncClient, sim: SimulatorServer) -> None:
    await open_long(client, "0.005")
    await rejected(client, sim, -2022, side="BUY", quantity="0.002", reduceOnly="true")


async def test_4118_reduce_only_already_covered(client: AsyncClient, sim: SimulatorServer) -> None:
    await open_long(client, "0.002")
    first = await client.futures_create_order(
        **limit(side="SELL", price="61000", quantity="0.002", reduceOnly="true")
    )
    assert first["reduceOnly"] is True and first["status"] == "NEW"
    await rejected(
        client, sim, -4118, side="SELL", price="61500", quantity="0.001", reduceOnly="true"
    )


async def test_2019_margin_insufficient(client: AsyncClient, sim: SimulatorServer) -> None:
    # 4 BTC at 59000 → 236000 notional, IM 11800 at 20× > 10000 available.
    msg = await rejected(client, sim, -2019, quantity="4.000")
    assert msg == "Margin is insufficient."
    # 3 BTC → IM 8850 fits.
    ok = await client.futures_create_order(**limit(quantity="3.000"))
    assert ok["status"] == "NEW"
    # The open order's margin is reserved: a second one no longer fits.
    await rejected(client, sim, -2019, quantity="1.000")


async def test_5021_fok_not_fillable(
    client: AsyncClient, sim: SimulatorServer, raw: RawApi
) -> None:
    depth = await book(raw)
    below_ask = D(depth["asks"][0][0]) - Decimal("200")
    await rejected(client, sim, -5021, timeInForce="FOK", price=str(below_ask), quantity="0.002")
    assert sim.state()["trades"] == []


async def test_5022_gtx_would_take(client: AsyncClient, sim: SimulatorServer, raw: RawApi) -> None:
    depth = await book(raw)
    msg = await rejected(
        client, sim, -5022, timeInForce="GTX", price=str(D(depth["asks"][0][0])), quantity="0.002"
    )
    assert "Post Only" in msg
    await rejected(
        client,
        sim,
        -5022,
        side="SELL",
        timeInForce="GTX",
        price=str(D(depth["bids"][0][0])),
        quantity="0.002",
    )
    assert sim.state()["trades"] == []


# --- query / cancel / listenKey ---------------------------------------------------------------


async def test_2013_no_such_order(client: AsyncClient) -> None:
    err = await expect_api_error(client.futures_get_order(symbol=SYMBOL, orderId=987654321), -2013)
    assert err.message == "Order does not exist."
    await expect_api_error(
        client.futures_get_order(symbol=SYMBOL, origClientOrderId="never-sent"), -2013
    )


async def test_2011_cancel_unknown_or_filled(client: AsyncClient) -> None:
    err = await expect_api_error(
        client.futures_cancel_order(symbol=SYMBOL, orderId=987654321), -2011
    )
    assert err.message == "Unknown order sent."
    filled = await client.futures_create_order(
        symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.002", newOrderRespType="RESULT"
    )
    assert filled["status"] == "FILLED"
    await expect_api_error(
        client.futures_cancel_order(symbol=SYMBOL, orderId=filled["orderId"]), -2011
    )


async def test_1125_listen_key_does_not_exist(client: AsyncClient) -> None:
    key = await client.futures_stream_get_listen_key()
    await client.futures_stream_close(key)
    err = await expect_api_error(client.futures_stream_keepalive(key), -1125)
    assert err.message == "This listenKey does not exist."


async def test_4028_invalid_leverage(client: AsyncClient) -> None:
    await expect_api_error(client.futures_change_leverage(symbol=SYMBOL, leverage=200), -4028)


# --- validation order ------------------------------------------------------------------------


async def test_validation_order(client: AsyncClient, sim: SimulatorServer) -> None:
    # symbol before params
    await rejected(client, sim, -1121, symbol="NOPEUSDT", quantity=None)
    # params before client id
    await rejected(client, sim, -1102, quantity=None, newClientOrderId="x" * 37)
    # client id before tick
    await rejected(client, sim, -4015, newClientOrderId="x" * 37, price="59000.05")
    # tick before PERCENT_PRICE and notional
    await rejected(client, sim, -4014, price="70000.05", quantity="0.001")
    # PERCENT_PRICE before notional
    await rejected(client, sim, -4016, price="70000", quantity="0.001")
    # reduceOnly before margin
    await rejected(
        client, sim, -2022, side="SELL", price="61000", quantity="5.000", reduceOnly="true"
    )
    # margin before TIF
    await rejected(client, sim, -2019, quantity="5.000", timeInForce="FOK")
