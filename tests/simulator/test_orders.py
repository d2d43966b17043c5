"""Place / query / cancel LIMIT and MARKET orders with python-binance.

See docs/exchange-rules.md, "Order validation order" and "Order statuses and user-stream events".
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance import AsyncClient

from adapters.simulator import SimulatorServer

from .conftest import (
    MAKER,
    SYMBOL,
    TAKER,
    D,
    RawApi,
    book,
    expect_api_error,
    move_price,
    sim_order,
    wait_until,
)

ORDER_KEYS = {
    "orderId",
    "symbol",
    "status",
    "clientOrderId",
    "price",
    "avgPrice",
    "origQty",
    "executedQty",
    "cumQuote",
    "timeInForce",
    "type",
    "reduceOnly",
    "closePosition",
    "side",
    "positionSide",
    "stopPrice",
    "workingType",
    "priceProtect",
    "origType",
    "priceMatch",
    "selfTradePreventionMode",
    "goodTillDate",
    "updateTime",
}


def last_price(sim: SimulatorServer) -> Decimal:
    return D(sim.state()["last_price"])


async def test_limit_place_query_cancel(client: AsyncClient, sim: SimulatorServer) -> None:
    price = (last_price(sim) * Decimal("0.98")).quantize(Decimal("0.1"))
    placed = await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price=str(price),
        newClientOrderId="limit-1",
    )
    assert set(placed) >= ORDER_KEYS
    assert placed["status"] == "NEW"
    assert placed["clientOrderId"] == "limit-1"
    assert D(placed["price"]) == price
    assert D(placed["origQty"]) == Decimal("0.010")
    assert D(placed["executedQty"]) == 0
    assert placed["positionSide"] == "BOTH"
    assert placed["reduceOnly"] is False
    assert isinstance(placed["orderId"], int) and placed["orderId"] < 2**53

    by_id = await client.futures_get_order(symbol=SYMBOL, orderId=placed["orderId"])
    by_cid = await client.futures_get_order(symbol=SYMBOL, origClientOrderId="limit-1")
    assert by_id["orderId"] == by_cid["orderId"] == placed["orderId"]
    assert by_id["status"] == "NEW"
    assert isinstance(by_id["time"], int)

    open_orders = await client.futures_get_open_orders(symbol=SYMBOL)
    assert [o["orderId"] for o in open_orders] == [placed["orderId"]]

    cancelled = await client.futures_cancel_order(symbol=SYMBOL, orderId=placed["orderId"])
    assert cancelled["status"] == "CANCELED"
    assert cancelled["orderId"] == placed["orderId"]
    assert await client.futures_get_open_orders(symbol=SYMBOL) == []
    after = await client.futures_get_order(symbol=SYMBOL, origClientOrderId="limit-1")
    assert after["status"] == "CANCELED"

    # Cancelling again is -2011; no balance or position change from an unfilled order.
    await expect_api_error(
        client.futures_cancel_order(symbol=SYMBOL, orderId=placed["orderId"]), -2011
    )
    assert D(sim.state()["position"]["positionAmt"]) == 0
    assert sim.state()["trades"] == []


async def test_cancel_by_client_order_id(client: AsyncClient) -> None:
    await client.futures_create_order(
        symbol=SYMBOL,
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.005",
        price="61000",
        newClientOrderId="to-cancel",
    )
    res = await client.futures_cancel_order(symbol=SYMBOL, origClientOrderId="to-cancel")
    assert (res["status"], res["clientOrderId"]) == ("CANCELED", "to-cancel")


async def test_market_order_result_fills_as_taker(
    client: AsyncClient, sim: SimulatorServer, raw: RawApi
) -> None:
    depth = await book(raw)
    best_ask = D(depth["asks"][0][0])
    res = await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="MARKET",
        quantity="0.002",
        newOrderRespType="RESULT",
        newClientOrderId="mkt-1",
    )
    assert res["status"] == "FILLED"
    assert D(res["executedQty"]) == Decimal("0.002")
    avg = D(res["avgPrice"])
    assert avg == best_ask  # 0.002 is far below the top level size
    assert D(res["cumQuote"]) == avg * Decimal("0.002")

    trades = await client.futures_account_trades(symbol=SYMBOL)
    assert len(trades) == 1
    t = trades[0]
    assert t["orderId"] == res["orderId"]
    assert (t["side"], t["buyer"], t["maker"]) == ("BUY", True, False)
    assert D(t["qty"]) == Decimal("0.002")
    assert D(t["price"]) == avg
    assert D(t["commission"]) == avg * Decimal("0.002") * TAKER
    assert t["commissionAsset"] == "USDT"
    assert D(t["realizedPnl"]) == 0
    assert D(t["quoteQty"]) == avg * Decimal("0.002")


async def test_market_order_ack_then_filled_on_query(client: AsyncClient) -> None:
    res = await client.futures_create_order(
        symbol=SYMBOL, side="SELL", type="MARKET", quantity="0.003", newClientOrderId="ack-1"
    )
    assert res["clientOrderId"] == "ack-1"
    assert res["status"] in ("NEW", "FILLED")

    async def filled() -> bool:
        o = await client.futures_get_order(symbol=SYMBOL, origClientOrderId="ack-1")
        return o["status"] == "FILLED" and D(o["executedQty"]) == Decimal("0.003")

    await wait_until(filled, what="MARKET order should fill")
    pos = (await client.futures_position_information(symbol=SYMBOL))[0]
    assert D(pos["positionAmt"]) == Decimal("-0.003")


async def test_crossing_limit_fills_immediately_as_taker(client: AsyncClient, raw: RawApi) -> None:
    depth = await book(raw)
    best_ask = D(depth["asks"][0][0])
    limit = best_ask + Decimal("50")
    res = await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price=str(limit),
        newOrderRespType="RESULT",
    )
    assert res["status"] == "FILLED"
    assert D(res["avgPrice"]) == best_ask, "a crossing limit fills at the book, not its limit"
    trades = await client.futures_account_trades(symbol=SYMBOL)
    assert trades[-1]["maker"] is False
    assert D(trades[-1]["commission"]) == best_ask * Decimal("0.002") * TAKER


async def test_resting_limit_fills_as_maker_at_its_price(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    price = (last_price(sim) - Decimal("300")).quantize(Decimal("0.1"))
    placed = await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.004",
        price=str(price),
        newClientOrderId="rest-1",
    )
    assert placed["status"] == "NEW"
    await move_price(sim, price - Decimal("100"))

    async def filled() -> bool:
        o = await client.futures_get_order(symbol=SYMBOL, orderId=placed["orderId"])
        status: str = o["status"]
        return status == "FILLED"

    await wait_until(filled, what="resting LIMIT should fill when the price moves through it")
    o = await client.futures_get_order(symbol=SYMBOL, orderId=placed["orderId"])
    assert D(o["avgPrice"]) == price
    assert D(o["executedQty"]) == Decimal("0.004")
    t = (await client.futures_account_trades(symbol=SYMBOL))[-1]
    assert t["maker"] is True
    assert D(t["price"]) == price
    assert D(t["commission"]) == price * Decimal("0.004") * MAKER


async def test_limit_not_reached_stays_open(client: AsyncClient, sim: SimulatorServer) -> None:
    price = (last_price(sim) - Decimal("500")).quantize(Decimal("0.1"))
    placed = await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.003",
        price=str(price),
    )
    await move_price(sim, price + Decimal("100"))
    o = await client.futures_get_order(symbol=SYMBOL, orderId=placed["orderId"])
    assert o["status"] == "NEW"
    assert D(sim.state()["position"]["positionAmt"]) == 0


@pytest.mark.sim_config(futures_balance=Decimal("10000000"))
async def test_market_partial_fills_walk_the_book(client: AsyncClient, raw: RawApi) -> None:
    """A MARKET order bigger than the top level fills in several trades at successive levels."""
    depth = await book(raw, limit=20)
    levels = [(D(p), D(q)) for p, q in depth["asks"]]
    top_price, top_qty = levels[0]
    qty = top_qty + Decimal("0.001")
    assert qty <= 120, "top of book should be below MARKET_LOT_SIZE.maxQty"
    res = await client.futures_create_order(
        symbol=SYMBOL, side="BUY", type="MARKET", quantity=str(qty), newOrderRespType="RESULT"
    )
    assert res["status"] == "FILLED"
    trades = await client.futures_account_trades(symbol=SYMBOL, orderId=res["orderId"])
    assert len(trades) >= 2
    assert D(trades[0]["price"]) == top_price and D(trades[0]["qty"]) == top_qty
    assert D(trades[1]["price"]) == levels[1][0]
    assert sum(D(t["qty"]) for t in trades) == qty
    vwap = sum(D(t["price"]) * D(t["qty"]) for t in trades) / qty
    assert abs(D(res["avgPrice"]) - vwap) < Decimal("0.01")
    assert D(res["cumQuote"]) == sum(D(t["quoteQty"]) for t in trades)


@pytest.mark.sim_config(futures_balance=Decimal("10000000"))
async def test_ioc_fills_what_it_can_and_expires_rest(client: AsyncClient, raw: RawApi) -> None:
    depth = await book(raw)
    top_price, top_qty = D(depth["asks"][0][0]), D(depth["asks"][0][1])
    qty = top_qty + Decimal("0.005")
    res = await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="IOC",
        quantity=str(qty),
        price=str(top_price),
        newOrderRespType="RESULT",
    )
    assert res["status"] == "EXPIRED"
    assert D(res["executedQty"]) == top_qty
    assert D(res["avgPrice"]) == top_price
    assert await client.futures_get_open_orders(symbol=SYMBOL) == []


async def test_fok_fully_fillable_fills(client: AsyncClient, raw: RawApi) -> None:
    depth = await book(raw)
    top_price = D(depth["asks"][0][0])
    res = await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="FOK",
        quantity="0.002",
        price=str(top_price),
        newOrderRespType="RESULT",
    )
    assert res["status"] == "FILLED"


async def test_gtx_that_rests_is_accepted(client: AsyncClient, raw: RawApi) -> None:
    depth = await book(raw)
    best_bid = D(depth["bids"][0][0])
    res = await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTX",
        quantity="0.002",
        price=str(best_bid),
    )
    assert res["status"] == "NEW"
    assert res["timeInForce"] == "GTX"


async def test_all_orders_and_cancel_all(client: AsyncClient, sim: SimulatorServer) -> None:
    base = last_price(sim).quantize(Decimal("0.1"))
    ids = []
    for i in range(3):
        o = await client.futures_create_order(
            symbol=SYMBOL,
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price=str(base - 200 - i * 10),
        )
        ids.append(o["orderId"])
    assert ids == sorted(ids) and len(set(ids)) == 3, "orderIds increase per symbol"
    res = await client.futures_cancel_all_open_orders(symbol=SYMBOL)
    assert res["code"] in (200, "200")
    assert await client.futures_get_open_orders(symbol=SYMBOL) == []
    all_orders = await client.futures_get_all_orders(symbol=SYMBOL)
    statuses = {o["orderId"]: o["status"] for o in all_orders}
    assert all(statuses[i] == "CANCELED" for i in ids)


async def test_generated_client_order_id_when_absent(raw: RawApi) -> None:
    resp = await raw.signed(
        "POST",
        "/fapi/v1/order",
        {
            "symbol": SYMBOL,
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.002",
            "price": "58000",
        },
    )
    assert resp.status == 200, resp.text
    cid = resp.body["clientOrderId"]
    assert 1 <= len(cid) <= 36
    assert resp.body["status"] == "NEW"


async def test_duplicate_client_order_id_rules(client: AsyncClient, sim: SimulatorServer) -> None:
    kwargs = dict(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price="58000",
        newClientOrderId="dup-1",
    )
    first = await client.futures_create_order(**kwargs)
    # Open → -4116, nothing created.
    await expect_api_error(client.futures_create_order(**kwargs), -4116)
    assert sim.state()["client_order_id_counts"].get("dup-1") == 1
    # Terminal → accepted as a new order; lookup returns the most recent one.
    await client.futures_cancel_order(symbol=SYMBOL, orderId=first["orderId"])
    second = await client.futures_create_order(**kwargs)
    assert second["orderId"] != first["orderId"]
    looked_up = await client.futures_get_order(symbol=SYMBOL, origClientOrderId="dup-1")
    assert looked_up["orderId"] == second["orderId"]
    assert looked_up["status"] == "NEW"
    assert sim_order(sim, "dup-1") is not None


@pytest.mark.sim_config(strict_client_ids=True)
async def test_strict_mode_rejects_reuse_of_terminal_id(client: AsyncClient) -> None:
    kwargs = dict(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price="58000",
        newClientOrderId="strict-1",
    )
    first = await client.futures_create_order(**kwargs)
    await client.futures_cancel_order(symbol=SYMBOL, orderId=first["orderId"])
    await expect_api_error(client.futures_create_order(**kwargs), -4116)


async def test_open_order_endpoint(raw: RawApi, client: AsyncClient) -> None:
    placed = await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price="58000",
    )
    resp = await raw.signed(
        "GET", "/fapi/v1/openOrder", {"symbol": SYMBOL, "orderId": placed["orderId"]}
    )
    assert resp.status == 200 and resp.body["status"] == "NEW"
    await client.futures_cancel_order(symbol=SYMBOL, orderId=placed["orderId"])
    resp = await raw.signed(
        "GET", "/fapi/v1/openOrder", {"symbol": SYMBOL, "orderId": placed["orderId"]}
    )
    assert (resp.status, resp.code) == (400, -2013)
