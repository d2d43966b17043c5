"""Conditional orders through the algo endpoint and their trigger.

See docs/exchange-rules.md, "Algo (conditional) orders".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from binance import AsyncClient, BinanceSocketManager

from adapters.simulator import SimulatorServer

from .conftest import (
    SYMBOL,
    D,
    RawApi,
    Recorder,
    events_of,
    expect_api_error,
    move_price,
    otu,
    summarize,
    wait_until,
)

ALGO_KEYS = {
    "algoId",
    "clientAlgoId",
    "algoType",
    "orderType",
    "symbol",
    "side",
    "positionSide",
    "timeInForce",
    "quantity",
    "algoStatus",
    "triggerPrice",
    "price",
    "workingType",
    "priceMatch",
    "closePosition",
    "priceProtect",
    "reduceOnly",
    "createTime",
    "updateTime",
    "triggerTime",
    "goodTillDate",
    "selfTradePreventionMode",
}


async def open_long(client: AsyncClient, qty: str = "0.010") -> None:
    res = await client.futures_create_order(
        symbol=SYMBOL, side="BUY", type="MARKET", quantity=qty, newOrderRespType="RESULT"
    )
    assert res["status"] == "FILLED"


async def place_stop(
    client: AsyncClient, side: str, trigger: Decimal, cid: str, qty: str = "0.010", **extra: Any
) -> dict[str, Any]:
    res: dict[str, Any] = await client.futures_create_order(
        symbol=SYMBOL,
        side=side,
        type=extra.pop("type", "STOP_MARKET"),
        stopPrice=str(trigger),  # python-binance renames this to triggerPrice
        quantity=qty,
        clientAlgoId=cid,
        **extra,
    )
    return res


async def algo_status(client: AsyncClient, algo_id: int) -> str:
    return str((await client.futures_get_order(symbol=SYMBOL, algoId=algo_id))["algoStatus"])


async def test_stop_market_lifecycle_and_trigger(client: AsyncClient, sim: SimulatorServer) -> None:
    await open_long(client)
    algo = await place_stop(client, "SELL", Decimal("59000"), "stop-1", reduceOnly="true")
    assert set(algo) >= ALGO_KEYS
    assert isinstance(algo["algoId"], int)
    assert (algo["clientAlgoId"], algo["algoType"], algo["orderType"]) == (
        "stop-1",
        "CONDITIONAL",
        "STOP_MARKET",
    )
    assert algo["algoStatus"] == "NEW"
    assert D(algo["triggerPrice"]) == Decimal("59000")
    assert D(algo["quantity"]) == Decimal("0.01")
    assert algo["workingType"] == "CONTRACT_PRICE"
    assert algo["reduceOnly"] is True

    # Untriggered algo orders are listed by openAlgoOrders, not by openOrders.
    open_algo = await client.futures_get_open_orders(symbol=SYMBOL, conditional=True)
    assert [a["algoId"] for a in open_algo] == [algo["algoId"]]
    assert await client.futures_get_open_orders(symbol=SYMBOL) == []
    queried = await client.futures_get_order(symbol=SYMBOL, algoId=algo["algoId"])
    assert queried["algoStatus"] == "NEW"
    assert queried["actualOrderId"] == ""
    by_cid = await client.futures_get_order(symbol=SYMBOL, clientAlgoId="stop-1")
    assert by_cid["algoId"] == algo["algoId"]

    # Not triggered while the price stays above the trigger.
    await move_price(sim, Decimal("59200"))
    assert await algo_status(client, algo["algoId"]) == "NEW"

    # Through the trigger: a new ME order is created, fills, and the algo order finishes.
    await move_price(sim, Decimal("58900"))

    async def finished() -> bool:
        return await algo_status(client, algo["algoId"]) == "FINISHED"

    await wait_until(finished, what="STOP_MARKET should trigger and finish")
    done = await client.futures_get_order(symbol=SYMBOL, algoId=algo["algoId"])
    child_id = int(done["actualOrderId"])
    child = await client.futures_get_order(symbol=SYMBOL, orderId=child_id)
    assert child["status"] == "FILLED"
    assert child["clientOrderId"] == "stop-1", "the ME order carries the algo's client id"
    assert child["side"] == "SELL"
    assert D(child["executedQty"]) == Decimal("0.01")
    assert D(done["actualQty"]) == Decimal("0.01")
    assert isinstance(done["triggerTime"], int) and done["triggerTime"] > 0
    assert await client.futures_get_open_orders(symbol=SYMBOL, conditional=True) == []
    assert D(sim.state()["position"]["positionAmt"]) == 0


async def test_stop_trigger_event_order(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    await open_long(client)
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        algo = await place_stop(client, "SELL", Decimal("59000"), "stop-ws", reduceOnly="true")
        new = await rec.wait_event(lambda e: e.get("e") == "ALGO_UPDATE")
        assert new["o"]["X"] == "NEW"
        assert new["o"]["caid"] == "stop-ws" and new["o"]["aid"] == algo["algoId"]
        assert new["o"]["at"] == "CONDITIONAL" and new["o"]["o"] == "STOP_MARKET"
        assert D(new["o"]["tp"]) == Decimal("59000")
        assert new["o"]["ai"] == ""

        await move_price(sim, Decimal("58800"))
        events = await rec.wait_for(
            lambda evs: any(e.get("e") == "ALGO_UPDATE" and e["o"]["X"] == "FINISHED" for e in evs)
        )
    labels = summarize(events)
    child = otu(events, "stop-ws")
    assert child, f"the child's ORDER_TRADE_UPDATE uses c = clientAlgoId: {labels}"
    child_id = child[0]["o"]["i"]
    algo_updates = events_of(events, "ALGO_UPDATE")
    assert [e["o"]["X"] for e in algo_updates] == ["NEW", "TRIGGERED", "FINISHED"], labels
    triggered = algo_updates[1]
    assert triggered["o"]["ai"] == str(child_id)
    assert triggered["o"]["tt"] > 0

    def index(pred: Any) -> int:
        return next(i for i, e in enumerate(events) if pred(e))

    i_child_new = index(lambda e: e.get("e") == "ORDER_TRADE_UPDATE" and e["o"]["x"] == "NEW")
    i_child_filled = index(lambda e: e.get("e") == "ORDER_TRADE_UPDATE" and e["o"]["X"] == "FILLED")
    i_triggered = events.index(triggered)
    i_finished = events.index(algo_updates[2])
    # Child OTU NEW/TRADE… → ALGO_UPDATE TRIGGERED → ALGO_UPDATE FINISHED.
    assert i_child_new < i_child_filled < i_triggered < i_finished, labels
    assert any(e.get("e") == "ACCOUNT_UPDATE" for e in events[i_child_new:i_triggered])


async def test_take_profit_market_triggers_on_the_other_side(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    await open_long(client)
    algo = await place_stop(
        client, "SELL", Decimal("61000"), "tp-1", type="TAKE_PROFIT_MARKET", reduceOnly="true"
    )
    assert algo["orderType"] == "TAKE_PROFIT_MARKET"
    await move_price(sim, Decimal("59500"))
    assert await algo_status(client, algo["algoId"]) == "NEW"
    await move_price(sim, Decimal("61100"))

    async def finished() -> bool:
        return await algo_status(client, algo["algoId"]) == "FINISHED"

    await wait_until(finished, what="TAKE_PROFIT_MARKET should trigger above its price")
    assert D(sim.state()["position"]["positionAmt"]) == 0


async def test_buy_stop_opens_position(client: AsyncClient, sim: SimulatorServer) -> None:
    algo = await place_stop(client, "BUY", Decimal("60500"), "entry-1", qty="0.003")

    await move_price(sim, Decimal("60600"))

    async def finished() -> bool:
        return await algo_status(client, algo["algoId"]) == "FINISHED"

    await wait_until(finished, what="BUY STOP_MARKET fires at price ≥ trigger")
    assert D(sim.state()["position"]["positionAmt"]) == Decimal("0.003")


async def test_trigger_already_met_is_2021(client: AsyncClient, sim: SimulatorServer) -> None:
    last = D(sim.state()["last_price"])
    await expect_api_error(
        place_stop(client, "SELL", (last + 500).quantize(Decimal("0.1")), "bad-stop"), -2021
    )
    await expect_api_error(
        place_stop(client, "BUY", (last - 500).quantize(Decimal("0.1")), "bad-stop2"), -2021
    )
    assert sim.state()["algo_orders"] == []


async def test_cancel_algo_order(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        algo = await place_stop(client, "BUY", Decimal("61500"), "cxl-algo", qty="0.003")
        res = await client.futures_cancel_order(symbol=SYMBOL, algoId=algo["algoId"])
        assert res["algoId"] == algo["algoId"]
        assert res["clientAlgoId"] == "cxl-algo"
        assert str(res["code"]) == "200"
        events = await rec.wait_for(
            lambda evs: any(e.get("e") == "ALGO_UPDATE" and e["o"]["X"] == "CANCELED" for e in evs)
        )
    assert [e["o"]["X"] for e in events_of(events, "ALGO_UPDATE")] == ["NEW", "CANCELED"]
    assert await algo_status(client, algo["algoId"]) == "CANCELED"
    # A cancelled stop never fires.
    await move_price(sim, Decimal("61600"))
    assert D(sim.state()["position"]["positionAmt"]) == 0


async def test_cancel_all_algo_orders_and_history(client: AsyncClient, raw: RawApi) -> None:
    a = await place_stop(client, "BUY", Decimal("61500"), "all-1", qty="0.003")
    b = await place_stop(client, "BUY", Decimal("61600"), "all-2", qty="0.003")
    res = await client.futures_cancel_all_open_orders(symbol=SYMBOL, conditional=True)
    assert str(res["code"]) == "200"
    assert await client.futures_get_open_orders(symbol=SYMBOL, conditional=True) == []
    history = await client.futures_get_all_orders(symbol=SYMBOL, conditional=True)
    statuses = {h["algoId"]: h["algoStatus"] for h in history}
    assert statuses[a["algoId"]] == statuses[b["algoId"]] == "CANCELED"


async def test_duplicate_client_algo_id_is_4116(client: AsyncClient, sim: SimulatorServer) -> None:
    await place_stop(client, "BUY", Decimal("61500"), "dup-algo", qty="0.003")
    await expect_api_error(
        place_stop(client, "BUY", Decimal("61600"), "dup-algo", qty="0.003"), -4116
    )
    assert len(sim.state()["algo_orders"]) == 1


async def test_algo_ids_are_separate_from_order_ids(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    algo = await place_stop(client, "BUY", Decimal("61500"), "space-1", qty="0.003")
    assert sim.state()["orders"] == [], "an untriggered algo order creates no ME order"
    assert isinstance(algo["algoId"], int)
