"""A position without a confirmed stop raises an alarm and gets one; leftovers are canceled."""

from __future__ import annotations

from decimal import Decimal

from aggregates.market import SymbolRules
from processes.protection import ALARM, ProtectionMonitor
from tests.executor.conftest import World
from tests.waiting import eventually


async def test_unprotected_position_is_alarmed_and_protected(world: World) -> None:
    await world.start_executor()
    monitor = ProtectionMonitor(
        world.trading,
        world.connection.gateway,
        world.store,
        world.executor,
        symbol="BTCUSDT",
        rules=SymbolRules(),
    )
    # A position opened without a stop (by hand, or the stop was refused)
    bare = await world.submit(
        "PLACE_ORDER", {"side": "BUY", "type": "MARKET", "quantity": "0.010"}, key="bare"
    )
    assert (await world.finished(bare)).status == "SUCCEEDED"
    await monitor.check()
    assert not world.sim.state()["algo_orders"]  # one look is not enough: a stop may be in flight
    await monitor.check()
    engine = await world.store.call(world.trading.engine)
    assert ALARM in engine.alarms

    def stop_on_exchange() -> bool:
        return any(
            a["orderType"] == "STOP_MARKET" and a["algoStatus"] == "NEW"
            for a in world.sim.state()["algo_orders"]
        )

    await eventually(stop_on_exchange)
    # Confirmed: the alarm clears
    await monitor.check()
    engine = await world.store.call(world.trading.engine)
    assert ALARM not in engine.alarms
    # Closed by hand: the lingering stop is canceled
    close = await world.submit("CLOSE_POSITION", {}, key="close")
    assert (await world.finished(close)).status == "SUCCEEDED"
    assert world.sim_position() == Decimal(0)
    await eventually(lambda: not stop_on_exchange())


async def test_pause_and_resume_commands(world: World) -> None:
    await world.start_executor()
    pause = await world.submit("PAUSE_ENGINE", {"reason": "lunch"}, key="pause")
    assert (await world.finished(pause)).status == "SUCCEEDED"
    assert (await world.store.call(world.trading.engine)).mode == "PAUSED"
    rejected = await world.submit(
        "PLACE_ORDER",
        {"side": "BUY", "type": "MARKET", "quantity": "0.010"},
        key="strategy:1:ENTER_LONG",
        actor="STRATEGY",
    )
    assert "engine PAUSED (lunch)" in (await world.finished(rejected)).reason
    resume = await world.submit("RESUME_ENGINE", {}, key="resume")
    assert (await world.finished(resume)).status == "SUCCEEDED"
    assert (await world.store.call(world.trading.engine)).mode == "RUNNING"


async def test_limit_entry_gets_the_strategys_stop_once_it_fills(world: World) -> None:
    await world.start_executor()
    monitor = ProtectionMonitor(
        world.trading,
        world.connection.gateway,
        world.store,
        world.executor,
        symbol="BTCUSDT",
        rules=SymbolRules(),
    )
    price = Decimal(str(world.sim.state()["last_price"]))
    limit = (price * Decimal("0.99")).quantize(Decimal("0.1"))
    stop = (price * Decimal("0.97")).quantize(Decimal("0.1"))
    # A resting LIMIT entry whose stop (closePosition) is refused: there is no position yet
    entry = await world.submit(
        "PLACE_ORDER",
        {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.010",
            "price": str(limit),
            "stop_price": str(stop),
        },
        key="limit-entry",
    )
    await world.finished(entry)
    # The price falls through the limit: the entry fills, and the position has no stop
    world.sim.set_price(limit - Decimal("20"), mode="jump")
    await eventually(lambda: world.sim_position() == Decimal("0.010"))
    await monitor.check()
    await monitor.check()

    def stop_prices() -> list[Decimal]:
        return [
            Decimal(a["triggerPrice"])
            for a in world.sim.state()["algo_orders"]
            if a["orderType"] == "STOP_MARKET" and a["algoStatus"] == "NEW"
        ]

    await eventually(lambda: bool(stop_prices()))
    # Protected at the strategy's stop price, not at a generic distance from the entry
    assert stop_prices() == [stop]
