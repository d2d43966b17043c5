"""A real world for adapter tests: the simulator on loopback, a Trading app on a SQLite file.

Every test drives the adapter (python-binance for REST, its own sockets for streams) against the
in-process simulator; faults are injected through the simulator's HTTP control endpoint
(`POST /_sim/faults`), as an operator would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from adapters.binance.connection import BinanceConnection
from adapters.simulator import SimulatorConfig, SimulatorServer
from aggregates.intent import OrderIntent
from alphaengine.bootstrap import init_schema, read_engine, scope_for
from alphaengine.exchange import connect_exchange
from alphaengine.settings import Settings, load_settings
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Trading
from processes.exchange_clock import ExchangeClock
from processes.health import HealthWriter
from processes.ingest import Ingestor
from processes.market_stream import CandleHandler, MarketStream
from processes.reconciler import Reconciler
from processes.user_stream import UserStream
from projections.projector import Projector
from projections.tracking import ReadModelRecorder
from tests.worlds import tear_down

SYMBOL = "BTCUSDT"


def sim_config(**overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {
        "seed": 42,
        "symbol": SYMBOL,
        "speed": 60.0,
        "futures_balance": Decimal("10000"),
        "spot_balance": Decimal("1000"),
        "start_price": Decimal("60000"),
    }
    values.update(overrides)
    return SimulatorConfig(**values)


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    server = SimulatorServer(sim_config())
    await server.start(host="127.0.0.1", port=0)
    try:
        yield server
    finally:
        await server.stop()


async def add_fault(sim: SimulatorServer, **body: Any) -> None:
    """Inject a fault the way an operator would: POST /_sim/faults."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sim.url}/_sim/faults", json=body) as response,
    ):
        assert response.status == 200, await response.text()


async def clear_faults(sim: SimulatorServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.delete(f"{sim.url}/_sim/faults") as response,
    ):
        assert response.status == 200, await response.text()


@dataclass
class World:
    sim: SimulatorServer
    settings: Settings
    trading: Trading
    store: StoreThread
    health: HealthWriter
    projector: Projector
    connection: BinanceConnection
    reconciler: Reconciler
    ingestor: Ingestor
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self.tasks.append(task)
        return task

    def user_stream(self, **kwargs: Any) -> UserStream:
        return UserStream(
            self.connection.streams,
            self.ingestor,
            self.reconciler.request,
            self.connection.metrics,
            self.health,
            **kwargs,
        )

    def market_stream(
        self,
        on_candle: CandleHandler,
        on_mark: Any = None,
        *,
        warmup: int = 20,
        **kwargs: Any,
    ) -> MarketStream:
        clock = ExchangeClock(self.connection.gateway.server_time, max_jump=timedelta(minutes=1))
        return MarketStream(
            self.connection.streams,
            self.connection.gateway,
            clock,
            self.connection.metrics,
            self.health,
            self.health.engine,
            symbol=SYMBOL,
            interval="1m",
            warmup=warmup,
            on_candle=on_candle,
            on_mark=on_mark,
            **kwargs,
        )

    async def place(
        self, client_id: str, side: str, quantity: str, order_type: str = "MARKET", **extra: Any
    ) -> Any:
        intent = OrderIntent(
            client_order_id=client_id,
            is_algo=False,
            symbol=SYMBOL,
            side=side,
            order_type=order_type,
            quantity=Decimal(quantity),
            **extra,
        )
        return await self.connection.gateway.place_order(intent)

    def sim_position(self) -> Decimal:
        return Decimal(self.sim.state()["position"]["positionAmt"])

    def assert_matches_exchange(self) -> None:
        """Recorded fills, position and balance equal the simulator's, nothing counted twice."""
        state = self.sim.state()
        trades = state["trades"]
        for trade in trades:
            assert self.trading.has_fact(f"fill:{SYMBOL}:{trade['id']}"), trade["id"]
        position = self.trading.position()
        assert position.quantity == Decimal(state["position"]["positionAmt"])
        assert position.entry_price == Decimal(state["position"]["entryPrice"])
        account = self.trading.account()
        assert account.wallet_balance("USDT") == Decimal(state["balances"][0]["balance"])
        assert account.fees == sum((Decimal(t["commission"]) for t in trades), Decimal(0))
        assert account.realized_pnl == sum((Decimal(t["realizedPnl"]) for t in trades), Decimal(0))


@pytest_asyncio.fixture
async def world(sim: SimulatorServer, tmp_path: Path) -> AsyncIterator[World]:
    settings = load_settings(
        data_dir=tmp_path, secrets_file=tmp_path / "no-secrets.yaml", environ={}
    )
    init_schema(settings)
    trading = Trading(scope_for(settings, SYMBOL), settings.database_url)
    store = StoreThread()
    engine = read_engine(settings)
    health = HealthWriter(engine)
    projector = Projector(trading, ReadModelRecorder.for_trading(trading))
    connection = await connect_exchange(settings, sim.url)
    reconciler = Reconciler(
        trading, connection.gateway, store, projector, health, symbol=SYMBOL, interval=3600
    )
    ingestor = Ingestor(trading, store)
    world = World(
        sim, settings, trading, store, health, projector, connection, reconciler, ingestor
    )
    try:
        yield world
    finally:
        await tear_down(world.tasks, connection, store, trading, engine)
