"""Only fresh decisions trade: stale ones expire, protective prices follow the mark, an entry
the position already holds does nothing, and the daily loss limit reads the event store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete

from aggregates.envelope import Source
from aggregates.facts import FillFact
from aggregates.ids import client_order_id_for
from projections.schema import rm_fills
from tests.executor.conftest import SYMBOL, World, add_fault


def strategy_entry(mark: Decimal, *, side: str = "BUY", **extra: object) -> dict[str, object]:
    now = datetime.now(UTC)
    stop = mark - 300 if side == "BUY" else mark + 300
    return {
        "side": side,
        "type": "MARKET",
        "reference_price": str(mark),
        "stop_price": str(stop),
        "candle_time": (now - timedelta(seconds=1)).isoformat(),
        "valid_until": (now + timedelta(minutes=1)).isoformat(),
        **{k: str(v) for k, v in extra.items()},
    }


def mark_of(world: World) -> Decimal:
    return Decimal(world.sim.state()["mark_price"])


async def test_a_decision_past_its_valid_until_expires_at_start_up(world: World) -> None:
    # Filed by a bot that then went away for a while: found open at the next start.
    payload = strategy_entry(mark_of(world))
    payload["valid_until"] = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    command_id = await world.submit("PLACE_ORDER", payload, key="stale-1", actor="STRATEGY")
    await world.start_executor()
    command = await world.finished(command_id)
    assert command.status == "EXPIRED", command.as_dict()
    assert "valid until" in command.reason
    assert world.client_id_count(client_order_id_for(command_id)) == 0
    assert world.executor.expired == 1


async def test_the_stop_keeps_its_distance_from_the_decision_price_at_the_current_mark(
    world: World,
) -> None:
    await world.start_executor()
    mark = mark_of(world)
    world.risk.on_mark(mark)
    # Decided 500 lower than now, with a stop 300 under the decision price
    payload = strategy_entry(mark - 500)
    command_id = await world.submit("PLACE_ORDER", payload, key="moved-1", actor="STRATEGY")
    command = await world.finished(command_id)
    assert command.status == "SUCCEEDED", command.as_dict()
    stops = [
        a
        for a in world.sim.state()["algo_orders"]
        if a["clientAlgoId"] == client_order_id_for(command_id, "sl")
    ]
    assert len(stops) == 1
    assert Decimal(stops[0]["triggerPrice"]) == (mark - 300).quantize(Decimal("0.1"))


async def test_a_stop_that_would_trigger_at_once_is_refused(world: World) -> None:
    await world.start_executor()
    mark = mark_of(world)
    world.risk.on_mark(mark)
    command_id = await world.submit(
        "PLACE_ORDER",
        {"side": "BUY", "type": "MARKET", "quantity": "0.010", "stop_price": str(mark + 50)},
        key="wrong-side-stop",
    )
    command = await world.finished(command_id)
    assert command.status == "REJECTED" and "would trigger at once" in command.reason
    assert world.client_id_count(client_order_id_for(command_id)) == 0


async def test_an_entry_in_the_direction_already_held_does_nothing(world: World) -> None:
    await world.start_executor()
    mark = mark_of(world)
    world.risk.on_mark(mark)
    first = await world.submit("PLACE_ORDER", strategy_entry(mark), key="long-1", actor="STRATEGY")
    assert (await world.finished(first)).status == "SUCCEEDED"
    await world.reconciler.reconcile("test: the fill is recorded")
    held = world.sim_position()
    again = await world.submit("PLACE_ORDER", strategy_entry(mark), key="long-2", actor="STRATEGY")
    command = await world.finished(again)
    assert command.status == "SUCCEEDED" and command.result["outcome"] == "NOOP"
    assert world.sim_position() == held
    assert world.client_id_count(client_order_id_for(again)) == 0
    against = await world.submit(
        "PLACE_ORDER", strategy_entry(mark, side="SELL"), key="short-1", actor="STRATEGY"
    )
    command = await world.finished(against)
    assert command.status == "REJECTED" and "exit it before entering" in command.reason
    assert world.sim_position() == held


async def test_the_daily_loss_limit_reads_the_event_store_not_a_read_model(
    world: World,
) -> None:
    # A loss of 600 today on a 10,000 account with a 5 % limit, recorded as a fill
    now = datetime.now(UTC)
    fill = FillFact(
        symbol="ETHUSDT",  # another symbol: moves the account, not this position
        trade_id=1,
        exchange_order_id=1,
        client_order_id="outside-1",
        side="SELL",
        quantity=Decimal("1"),
        price=Decimal("3000"),
        fee=Decimal("0"),
        fee_asset="USDT",
        realized_pnl=Decimal("-600"),
        is_maker=False,
        time=now,
    )
    await world.store.call(world.trading.record_fill, fill, world.trading.envelope(Source.REST))
    # A replay in progress has emptied the fills read model: the guard must not be fooled.
    await world.store.call(world.projector.catch_up)
    read_engine = world.executor.planner.read_engine
    assert read_engine is not None  # the world's planner reads the read models
    with read_engine.begin() as conn:
        conn.execute(delete(rm_fills))
    exposure = await world.executor.planner.exposure()
    assert exposure.realized_today == Decimal("-600")
    assert world.risk.daily_loss_breach(exposure) is not None
    await world.start_executor()
    command_id = await world.submit(
        "PLACE_ORDER", strategy_entry(mark_of(world)), key="after-loss", actor="STRATEGY"
    )
    command = await world.finished(command_id)
    assert command.status == "REJECTED" and "daily loss limit" in command.reason
    engine = await world.store.call(world.trading.engine)
    assert engine.mode == "PAUSED"
    assert SYMBOL  # the position of the traded symbol was never touched


async def test_an_order_filed_before_the_first_mark_is_sized_from_the_exchange_mark(
    world: World,
) -> None:
    # Just after a start the market stream has not delivered a mark yet; the order must not be
    # refused for want of a price the exchange can give.
    world.risk.mark_price = None
    await world.start_executor()
    command_id = await world.submit("PLACE_ORDER", strategy_entry(mark_of(world)), key="early")
    command = await world.finished(command_id)
    assert command.status == "SUCCEEDED", command.reason
    # Asked of the exchange just now (the simulated mark moves between two reads).
    asked = world.risk.mark_price
    assert asked is not None and abs(asked - mark_of(world)) < asked * Decimal("0.01")
    assert world.client_id_count(client_order_id_for(command_id)) == 1


async def test_a_decision_that_expires_while_the_exchange_is_unavailable_is_not_sent(
    world: World,
) -> None:
    # Refused twice with 429 (definitely not applied): the retries wait 1 s, then 2 s; the
    # decision is valid for 1.5 s.
    await add_fault(
        world.sim,
        kind="rate_limit",
        match={"method": "POST", "path": "/fapi/v1/order"},
        count=2,
    )
    await world.start_executor()
    payload = strategy_entry(mark_of(world))
    payload["valid_until"] = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    command_id = await world.submit("PLACE_ORDER", payload, key="aged-1", actor="STRATEGY")
    command = await world.finished(command_id, timeout=30)
    assert command.status == "FAILED", command.as_dict()
    assert "decision expired" in str(command.result or command.as_dict())
    assert world.client_id_count(client_order_id_for(command_id)) == 0
    assert world.sim_position() == 0
