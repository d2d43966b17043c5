"""User commands and risk limits against the real simulator."""

from __future__ import annotations

from decimal import Decimal

from aggregates.ids import client_order_id_for
from tests.executor.conftest import World


async def _open_protected_long(world: World) -> None:
    mark = Decimal(world.sim.state()["mark_price"])
    command_id = await world.submit(
        "PLACE_ORDER",
        {
            "side": "BUY",
            "type": "MARKET",
            "quantity": "0.020",
            "stop_price": str(mark * Decimal("0.98")),
            "take_profit_price": str(mark * Decimal("1.05")),
        },
        key="open-long",
    )
    assert (await world.finished(command_id)).status == "SUCCEEDED"


async def test_flatten_cancels_normal_and_algo_orders_and_closes(world: World) -> None:
    await world.start_executor()
    await _open_protected_long(world)
    limit = await world.submit(
        "PLACE_ORDER",
        {"side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "50000"},
        key="resting-limit",
    )
    assert (await world.finished(limit)).status == "SUCCEEDED"
    state = world.sim.state()
    assert state["algo_orders"] and any(o["status"] == "NEW" for o in state["orders"])
    command_id = await world.submit("FLATTEN", {}, key="flatten-1")
    command = await world.finished(command_id)
    assert command.status == "SUCCEEDED", command.as_dict()
    state = world.sim.state()
    assert Decimal(state["position"]["positionAmt"]) == 0
    assert not [o for o in state["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")]
    assert not [a for a in state["algo_orders"] if a["algoStatus"] == "NEW"]
    assert world.client_id_count(client_order_id_for(command_id)) == 1


async def test_close_position_is_reduce_only(world: World) -> None:
    await world.start_executor()
    await _open_protected_long(world)
    command_id = await world.submit("CLOSE_POSITION", {}, key="close-1")
    assert (await world.finished(command_id)).status == "SUCCEEDED"
    assert world.sim_position() == 0
    order = await world.store.call(world.trading.find_order, client_order_id_for(command_id))
    assert order is not None and order.reduce_only and order.side == "SELL"


async def test_close_position_when_flat_is_rejected_with_reason(world: World) -> None:
    await world.start_executor()
    command_id = await world.submit("CLOSE_POSITION", {}, key="close-flat")
    command = await world.finished(command_id)
    assert command.status == "REJECTED" and command.reason == "no position to close"


async def test_leverage_above_the_limit_is_rejected_and_within_is_applied(world: World) -> None:
    await world.start_executor()
    too_high = await world.submit("SET_LEVERAGE", {"leverage": 50}, key="lev-50")
    command = await world.finished(too_high)
    assert command.status == "REJECTED" and "max_leverage" in command.reason
    ok = await world.submit("SET_LEVERAGE", {"leverage": 3}, key="lev-3")
    assert (await world.finished(ok)).status == "SUCCEEDED"
    assert world.sim.state()["position"]["leverage"] == "3"
    assert (await world.store.call(world.trading.position)).leverage == 3


async def test_transfer_to_futures(world: World) -> None:
    await world.start_executor()
    command_id = await world.submit(
        "TRANSFER_TO_FUTURES", {"asset": "USDT", "amount": "100"}, key="transfer-1"
    )
    command = await world.finished(command_id)
    assert command.status == "SUCCEEDED", command.as_dict()
    assert Decimal(world.sim.state()["balances"][0]["balance"]) == Decimal("10100")


async def test_bad_payload_is_rejected_with_the_field(world: World) -> None:
    await world.start_executor()
    command_id = await world.submit("PLACE_ORDER", {"side": "UP"}, key="bad-1")
    command = await world.finished(command_id)
    assert command.status == "REJECTED" and "side" in command.reason


async def test_daily_loss_limit_pauses_and_rejects_strategy_orders(world: World) -> None:
    await world.start_executor()
    world.risk.config = world.risk.config.model_copy(update={"daily_loss_limit": Decimal("0.001")})
    await _open_protected_long(world)
    await world.reconciler.reconcile("record the entry fill")
    # The price falls: the unrealized loss exceeds 0.1% of equity
    world.sim.set_price(Decimal("59000"), mode="jump")
    world.risk.on_mark(Decimal("59000"))
    strategy_entry = await world.submit(
        "PLACE_ORDER",
        {"side": "BUY", "type": "MARKET", "stop_price": "58000", "reference_price": "59000"},
        key="sma_cross:1:ENTER_LONG",
        actor="STRATEGY",
    )
    command = await world.finished(strategy_entry)
    assert command.status == "REJECTED"
    assert "daily loss limit" in command.reason
    engine = await world.store.call(world.trading.engine)
    assert engine.mode == "PAUSED" and "daily_loss_limit" in engine.alarms
    # Paused: further strategy orders are rejected with the reason; user commands still run
    again = await world.submit(
        "PLACE_ORDER",
        {"side": "BUY", "type": "MARKET", "quantity": "0.010"},
        key="sma_cross:2:ENTER_LONG",
        actor="STRATEGY",
    )
    assert "engine PAUSED" in (await world.finished(again)).reason
    user_close = await world.submit("CLOSE_POSITION", {}, key="user-close")
    assert (await world.finished(user_close)).status == "SUCCEEDED"


async def test_cancelling_an_order_that_is_no_longer_open_says_so_and_succeeds(
    world: World,
) -> None:
    await world.start_executor()
    limit = await world.submit(
        "PLACE_ORDER",
        {"side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "50000"},
        key="resting-limit",
    )
    assert (await world.finished(limit)).status == "SUCCEEDED"
    client_id = client_order_id_for(limit)
    first = await world.submit("CANCEL_ORDER", {"client_order_id": client_id}, key="cancel-1")
    command = await world.finished(first)
    assert command.status == "SUCCEEDED" and command.result["canceled"] == client_id
    # A second cancel (a race with a close's own cleanup, or a person clicking twice) finds the
    # order gone: the exchange's -2011 means what the cancel wanted already holds.
    again = await world.submit("CANCEL_ORDER", {"client_order_id": client_id}, key="cancel-2")
    command = await world.finished(again)
    assert command.status == "SUCCEEDED", command.reason
    assert command.result["outcome"] == "NOT_OPEN"
    assert not [o for o in world.sim.state()["orders"] if o["status"] == "NEW"]
