"""Exactly-once placement against the real simulator (docs/architecture.md, "Exactly-once
orders")."""

from __future__ import annotations

from decimal import Decimal

from aggregates.ids import client_order_id_for
from alphaengine.trading import Dispatched
from processes.command_plans import Draft
from tests.executor.conftest import World, add_fault
from tests.waiting import eventually

ENTRY = {"side": "BUY", "type": "MARKET", "quantity": "0.010"}


async def test_entry_with_stop_and_take_profit_on_the_exchange(world: World) -> None:
    await world.start_executor()
    mark = Decimal(world.sim.state()["mark_price"])
    # Submit an entry with protective prices, sized by the risk guard
    command_id = await world.submit(
        "PLACE_ORDER",
        {
            "side": "BUY",
            "type": "MARKET",
            "stop_price": str(mark * Decimal("0.99")),
            "take_profit_price": str(mark * Decimal("1.02")),
        },
        key="entry-1",
    )
    command = await world.finished(command_id)
    assert command.status == "SUCCEEDED", command.as_dict()
    # The entry filled and both protective orders stand on the algo API
    state = world.sim.state()
    assert Decimal(state["position"]["positionAmt"]) > 0
    algos = {a["clientAlgoId"]: a for a in state["algo_orders"]}
    stop = algos[client_order_id_for(command_id, "sl")]
    take_profit = algos[client_order_id_for(command_id, "tp")]
    assert stop["orderType"] == "STOP_MARKET" and take_profit["orderType"] == "TAKE_PROFIT_MARKET"
    # Sized by max_risk_per_trade: 1% of equity over the 1% stop distance, capped by leverage
    quantity = Decimal(state["position"]["positionAmt"])
    assert quantity * mark <= Decimal("10000") * 10
    assert command.client_order_ids == [
        client_order_id_for(command_id),
        client_order_id_for(command_id, "sl"),
        client_order_id_for(command_id, "tp"),
    ]
    for cid in command.client_order_ids:
        assert world.client_id_count(cid) == 1


async def test_same_decision_twice_is_one_command_and_one_order(world: World) -> None:
    await world.start_executor()
    first = await world.submit("PLACE_ORDER", ENTRY, key="sma_cross:1700000000000:ENTER_LONG")
    second = await world.submit("PLACE_ORDER", ENTRY, key="sma_cross:1700000000000:ENTER_LONG")
    assert first == second
    world.executor.notify(first)
    world.executor.notify(second)
    command = await world.finished(first)
    assert command.status == "SUCCEEDED"
    await eventually(lambda: world.executor.idle)  # the second notification was handled too
    assert world.client_id_count(client_order_id_for(first)) == 1
    assert world.sim_position() == Decimal("0.010")


async def test_apply_then_timeout_is_resolved_by_lookup(world: World) -> None:
    await add_fault(
        world.sim,
        kind="apply_then_timeout",
        match={"method": "POST", "path": "/fapi/v1/order"},
        count=1,
        delay_seconds=0.5,
    )
    await world.start_executor()
    command_id = await world.submit("PLACE_ORDER", ENTRY, key="timeout-1")
    command = await world.finished(command_id, timeout=30)
    assert command.status == "RESOLVED", command.as_dict()
    assert command.result["orders"][client_order_id_for(command_id)]["status"] == "FILLED"
    assert world.client_id_count(client_order_id_for(command_id)) == 1
    assert world.sim_position() == Decimal("0.010")


async def test_apply_then_503_is_resolved_by_lookup(world: World) -> None:
    await add_fault(
        world.sim,
        kind="apply_then_503",
        match={"method": "POST", "path": "/fapi/v1/order"},
        count=1,
    )
    await world.start_executor()
    command_id = await world.submit("PLACE_ORDER", ENTRY, key="503-1")
    command = await world.finished(command_id, timeout=30)
    assert command.status == "RESOLVED", command.as_dict()
    assert world.client_id_count(client_order_id_for(command_id)) == 1
    assert world.sim_position() == Decimal("0.010")


async def test_intent_without_request_is_sent_once_after_its_recv_window(world: World) -> None:
    # A crash after the intent was recorded: the Command is DISPATCHED, nothing reached the exchange
    command_id = await world.submit("PLACE_ORDER", ENTRY, key="crashed-1")
    command = await world.command(command_id)
    plan = await world.executor.planner.decide(Draft.of(command))
    assert isinstance(plan.decided, Dispatched)
    await world.store.call(world.trading.decide_command, command_id, plan.decided)
    # A fresh executor resumes it: looks it up, waits out the recvWindow, then sends it once
    await world.start_executor()
    command = await world.finished(command_id, timeout=30)
    assert command.status == "SUCCEEDED", command.as_dict()
    assert world.client_id_count(client_order_id_for(command_id)) == 1


async def test_definite_rejection_is_recorded_with_code(world: World) -> None:
    await world.start_executor()
    command_id = await world.submit(
        "PLACE_ORDER",
        {"side": "SELL", "type": "MARKET", "quantity": "0.010", "reduce_only": True},
        key="reduce-only-flat",
    )
    command = await world.finished(command_id)
    assert command.status == "FAILED"
    assert command.last_error["code"] == -2022
    order = await world.store.call(world.trading.find_order, client_order_id_for(command_id))
    assert order is not None and order.status == "REJECTED"


async def test_an_algo_order_intent_is_resumed_on_the_algo_api(world: World) -> None:
    # No executor loop here: this test plays both the crashed process and its successor
    entry = await world.submit("PLACE_ORDER", ENTRY, key="entry-for-stop")
    await world.executor.handle(entry)
    assert (await world.command(entry)).status == "SUCCEEDED"
    mark = Decimal(world.sim.state()["mark_price"])
    # The intent of a stop order is recorded, then the process "dies" before sending it
    stop = await world.submit(
        "PLACE_ORDER",
        {
            "side": "SELL",
            "type": "STOP_MARKET",
            "stop_price": str((mark * Decimal("0.95")).quantize(Decimal("0.1"))),
            "close_position": True,
        },
        key="stop-crashed",
    )
    command = await world.command(stop)
    plan = await world.executor.planner.decide(Draft.of(command))
    assert isinstance(plan.decided, Dispatched)
    await world.store.call(world.trading.decide_command, stop, plan.decided)
    await world.executor.handle(stop)
    command = await world.command(stop)
    assert command.status == "SUCCEEDED", command.as_dict()
    algos = [
        a
        for a in world.sim.state()["algo_orders"]
        if a["clientAlgoId"] == plan.decided.intents[0].client_order_id
    ]
    assert len(algos) == 1 and algos[0]["orderType"] == "STOP_MARKET"


async def test_a_refused_entry_sends_none_of_its_protective_legs(world: World) -> None:
    await world.start_executor()
    mark = Decimal(world.sim.state()["mark_price"])
    # A limit far above the mark is outside the exchange's price band: refused (-4016)
    command_id = await world.submit(
        "PLACE_ORDER",
        {
            "side": "BUY",
            "type": "LIMIT",
            "price": str((mark * Decimal("1.5")).quantize(Decimal("0.1"))),
            "quantity": "0.002",
            "stop_price": str((mark * Decimal("0.99")).quantize(Decimal("0.1"))),
            "take_profit_price": str((mark * Decimal("1.01")).quantize(Decimal("0.1"))),
        },
        key="tiny-entry",
    )
    command = await world.finished(command_id)
    assert command.status == "FAILED", command.as_dict()
    assert command.last_error["code"] == -4016
    for leg in ("sl", "tp"):
        client_id = client_order_id_for(command_id, leg)
        order = await world.store.call(world.trading.find_order, client_id, is_algo=True)
        assert order is not None and order.status == "EXPIRED", order
        assert world.client_id_count(client_id) == 0
