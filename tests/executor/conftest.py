"""A real world for executor tests: the simulator on loopback, real python-binance, a Trading
app on a SQLite file in a tmp dir, and the executor following its log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import pytest_asyncio

from adapters.binance.connection import BinanceConnection
from adapters.simulator import SimulatorConfig, SimulatorServer
from aggregates.command import Command
from aggregates.market import SymbolRules
from alphaengine.bootstrap import init_schema, read_engine, scope_for
from alphaengine.exchange import connect_exchange
from alphaengine.runtime_config import RiskConfig, RuntimeConfig
from alphaengine.settings import Settings, load_settings
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Trading
from processes.exchange_clock import ExchangeClock
from processes.executor import Executor
from processes.health import HealthWriter
from processes.reconciler import Reconciler
from processes.risk import RiskGuard
from projections.tracking import ReadModelRecorder
from tests.waiting import eventually
from tests.worlds import tear_down

SYMBOL = "BTCUSDT"


async def add_fault(sim: SimulatorServer, **body: Any) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sim.url}/_sim/faults", json=body) as response,
    ):
        assert response.status == 200, await response.text()


@dataclass
class World:
    sim: SimulatorServer
    settings: Settings
    trading: Trading
    store: StoreThread
    connection: BinanceConnection
    reconciler: Reconciler
    risk: RiskGuard
    executor: Executor
    projector: Any
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def start(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.append(task)
        return task

    async def start_executor(self) -> None:
        self.start(self.executor.run())
        await asyncio.wait_for(self.executor.ready.wait(), 10)

    async def submit(
        self, kind: str, payload: dict[str, Any], key: str, actor: str = "USER"
    ) -> UUID:
        command_id, _ = await self.store.call(
            self.trading.submit_command,
            kind=kind,
            payload=payload,
            actor_type=actor,
            actor_id="test",
            idempotency_key=key,
            source="WEB",
        )
        return command_id

    async def command(self, command_id: UUID) -> Command:
        return await self.store.call(self.trading.get_command, command_id)

    async def finished(self, command_id: UUID, timeout: float = 20.0) -> Command:
        async def done() -> bool:
            return (await self.command(command_id)).is_finished

        await eventually(done, timeout=timeout)
        return await self.command(command_id)

    def client_id_count(self, client_order_id: str) -> int:
        counts: dict[str, int] = self.sim.state()["client_order_id_counts"]
        return int(counts.get(client_order_id, 0))

    def sim_position(self) -> Decimal:
        return Decimal(self.sim.state()["position"]["positionAmt"])


def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        seed=42,
        symbol=SYMBOL,
        speed=60.0,
        futures_balance=Decimal("10000"),
        spot_balance=Decimal("1000"),
        start_price=Decimal("60000"),
    )


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    server = SimulatorServer(sim_config())
    await server.start(host="127.0.0.1", port=0)
    try:
        yield server
    finally:
        await server.stop()


def risk_config(**overrides: Any) -> RiskConfig:
    return RiskConfig(**overrides)


@pytest_asyncio.fixture
async def world(sim: SimulatorServer, tmp_path: Path) -> AsyncIterator[World]:
    from projections.projector import Projector

    settings = load_settings(
        data_dir=tmp_path, secrets_file=tmp_path / "no-secrets.yaml", environ={}
    )
    init_schema(settings, RuntimeConfig())
    trading = Trading(scope_for(settings, SYMBOL), settings.database_url)
    store = StoreThread()
    engine = read_engine(settings)
    health = HealthWriter(engine)
    projector = Projector(trading, ReadModelRecorder.for_trading(trading))
    connection = await connect_exchange(settings, sim.url)
    reconciler = Reconciler(
        trading, connection.gateway, store, projector, health, symbol=SYMBOL, interval=3600
    )
    risk = RiskGuard(risk_config(), SymbolRules())
    risk.on_mark(Decimal(sim.state()["mark_price"]))
    clock = ExchangeClock(connection.gateway.server_time, max_jump=timedelta(minutes=1))
    executor = Executor(
        trading,
        connection.gateway,
        store,
        projector,
        reconciler.request,
        risk,
        clock,
        symbol=SYMBOL,
        read_engine=engine,
    )
    world = World(sim, settings, trading, store, connection, reconciler, risk, executor, projector)
    await reconciler.reconcile("test start")
    try:
        yield world
    finally:
        await tear_down(world.tasks, connection, store, trading, engine)
