"""Strategies: the loader, sma_cross decisions, and a strategy that raises."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aggregates import ids
from aggregates.ids import client_order_id_for
from aggregates.market import Candle
from processes.executor import Filing
from processes.strategy_runner import StrategyRunner
from strategies.base import Action, Context, Decision, PositionView, Strategy
from strategies.loader import StrategyNotFound, load_strategy
from strategies.sma_cross import SmaCross
from tests.executor.conftest import World
from tests.waiting import eventually


def _start() -> datetime:
    # Candles ending now: their decisions are fresh for the executor (exchange time).
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=4)


def candle(index: int, close: str, start: datetime | None = None) -> Candle:
    price = Decimal(close)
    open_time = (start or _start()) + timedelta(minutes=index)
    return Candle(
        symbol="BTCUSDT",
        interval="1m",
        open_time=open_time,
        close_time=open_time + timedelta(seconds=59.999),
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
    )


def context(closes: list[str], quantity: str = "0") -> Context:
    return Context(
        symbol="BTCUSDT",
        candles=[candle(i, c) for i, c in enumerate(closes)],
        position=PositionView(Decimal(quantity), Decimal(0)),
        open_orders=[],
        balance=Decimal(10000),
        engine_mode="RUNNING",
        params={},
    )


def test_loader_finds_by_name_and_dotted_path() -> None:
    assert isinstance(load_strategy("sma_cross", {"fast": 2, "slow": 3}), SmaCross)
    assert type(load_strategy("strategies.template", {})).__name__ == "Template"
    with pytest.raises(StrategyNotFound):
        load_strategy("no_such_strategy", {})


def test_sma_cross_enters_on_a_cross_with_stop_and_take_profit() -> None:
    strategy = SmaCross({"fast": 2, "slow": 3, "stop_pct": "0.01", "take_profit_pct": "0.02"})
    # Falling, then a jump: the fast average crosses above the slow one on the last candle
    decisions = strategy.on_candle(context(["100", "99", "98", "97", "110"]))
    assert decisions == [
        Decision(
            Action.ENTER_LONG,
            stop_price=Decimal("108.90"),
            take_profit_price=Decimal("112.20"),
            reason="sma 2 crossed above 3",
        )
    ]
    # Already long and crossing down: exit
    exits = strategy.on_candle(context(["100", "101", "102", "103", "90"], quantity="1"))
    assert [d.action for d in exits] == [Action.EXIT]


class Exploding(Strategy):
    def on_candle(self, ctx: Context) -> list[Decision]:
        raise ZeroDivisionError("bad math")


@dataclass
class Filed:
    filings: list[Filing]
    then: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def file(self, filing: Filing) -> None:
        self.filings.append(filing)

    def after_filings(self, call: Callable[[], Awaitable[None]]) -> None:
        self.then.append(call)


async def test_a_strategy_that_raises_is_disabled_and_the_engine_keeps_running(
    world: World,
) -> None:
    await world.start_executor()
    filed = Filed([])
    runner = StrategyRunner(
        world.trading,
        world.store,
        Exploding({}),
        name="exploding",
        symbol="BTCUSDT",
        sink=filed,
        max_errors=3,
    )
    for index in range(4):
        await runner.on_candle(candle(index, "60000"), True)
    engine = await world.store.call(world.trading.engine)
    assert engine.strategy_disabled and "strategy_disabled" in engine.alarms
    assert "ZeroDivisionError" in engine.alarms["strategy_disabled"]["message"]
    # The engine still carries out commands
    command_id = await world.submit(
        "PLACE_ORDER", {"side": "BUY", "type": "MARKET", "quantity": "0.010"}, key="after"
    )
    assert (await world.finished(command_id)).status == "SUCCEEDED"


async def falling_sma_cross(world: World, strategy: type[SmaCross]) -> StrategyRunner:
    """A 2/3 SMA cross filing into the running executor, after four falling candles: the next
    candle well above them crosses."""
    await world.start_executor()
    runner = StrategyRunner(
        world.trading,
        world.store,
        strategy({"fast": 2, "slow": 3}),
        name="sma_cross",
        symbol="BTCUSDT",
        sink=world.executor,
    )
    for index, close in enumerate(["60000", "59900", "59800", "59700"]):
        await runner.on_candle(candle(index, close), True)
    return runner


async def test_strategy_decisions_become_one_command_per_candle(world: World) -> None:
    runner = await falling_sma_cross(world, SmaCross)
    crossing = candle(4, "61000")
    filed = await runner.decide(crossing)
    assert len(filed) == 1
    command_id = ids.command_id(world.trading.scope, filed[0].idempotency_key)
    await eventually(lambda: command_id in world.trading.repository)
    command = await world.finished(command_id)
    assert command.actor_type == "STRATEGY" and command.status == "SUCCEEDED", command.as_dict()
    # The same candle again (a restart replaying it) is the same Command: nothing new is sent
    runner.candles.pop()
    assert await runner.decide(crossing) == filed
    await eventually(lambda: world.executor._main.empty())
    assert world.client_id_count(client_order_id_for(command_id)) == 1


class CountingSmaCross(SmaCross):
    """SmaCross that also keeps a count in its state: a state save on every candle."""

    def on_candle(self, ctx: Context) -> list[Decision]:
        ctx.state["candles"] = int(ctx.state.get("candles", 0)) + 1
        return super().on_candle(ctx)


async def test_the_state_a_decision_changed_is_saved_after_its_order_left(world: World) -> None:
    runner = await falling_sma_cross(world, CountingSmaCross)
    filed = await runner.decide(candle(4, "61000"))
    assert len(filed) == 1
    command_id = ids.command_id(world.trading.scope, filed[0].idempotency_key)
    await eventually(lambda: command_id in world.trading.repository)
    await world.finished(command_id)
    engine_id = ids.engine_id(world.trading.scope)
    await eventually(lambda: world.trading.engine(readonly=True).strategy_state.get("candles") == 5)
    log = world.trading.recorder.select_notifications(1, 100_000)
    acknowledged = max(
        n.id
        for n in log
        if n.originator_id == ids.order_id(world.trading.scope, client_order_id_for(command_id))
    )
    saved = [n.id for n in log if n.originator_id == engine_id and "StrategyState" in n.topic]
    # The save of the deciding candle's state is the last one, and only after the order's own
    # records (its intent, then the exchange's acknowledgement): never in front of them.
    assert saved and saved[-1] > acknowledged


async def test_a_decision_on_a_past_candle_is_not_traded(world: World) -> None:
    await world.start_executor()
    filed = Filed([])
    runner = StrategyRunner(
        world.trading,
        world.store,
        SmaCross({"fast": 2, "slow": 3}),
        name="sma_cross",
        symbol="BTCUSDT",
        sink=filed,
    )
    for index, close in enumerate(["60000", "59900", "59800", "59700"]):
        await runner.on_candle(candle(index, close), False)
    # A crossing on a backfilled candle updates the strategy's view, but files nothing
    assert await runner.decide(candle(4, "61000"), live=False) == []
    assert runner.past_decisions == 1 and not filed.filings


def test_strategies_never_import_the_adapter() -> None:
    import ast
    from pathlib import Path

    import strategies

    for path in Path(strategies.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(("adapters", "binance", "processes")), (path, name)


class Slow(Strategy):
    def on_candle(self, ctx: Context) -> list[Decision]:
        time.sleep(0.4)  # a heavy computation, well over its budget
        return []


async def test_a_slow_strategy_does_not_stall_the_loop_and_is_counted(world: World) -> None:
    runner = StrategyRunner(
        world.trading,
        world.store,
        Slow({}),
        name="slow",
        symbol="BTCUSDT",
        sink=Filed([]),
        budget_seconds=0.25,
    )
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beating = asyncio.ensure_future(heartbeat())
    try:
        await runner.on_candle(candle(0, "60000"), True)
    finally:
        beating.cancel()
    assert runner.overruns == 1
    assert gaps and max(gaps) < 0.2  # the loop kept running while the strategy thought
