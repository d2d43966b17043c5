"""Opening the database: the schema-init step, and the objects every process needs."""

from __future__ import annotations

from sqlalchemy import Engine

from aggregates.envelope import Scope
from alphaengine.runtime_config import ConfigStore, RuntimeConfig
from alphaengine.settings import Settings
from alphaengine.store import make_engine
from alphaengine.trading import Trading
from projections.schema import metadata, projection_metadata
from projections.tracking import ReadModelRecorder


def scope_for(settings: Settings, symbol: str) -> Scope:
    return Scope(symbol=symbol, mode=settings.mode)


def init_schema(settings: Settings, seed: RuntimeConfig | None = None) -> None:
    """Create every table once, before any process starts (run again: it changes nothing)."""
    engine = make_engine(settings.database_url)
    try:
        metadata.create_all(engine)
        projection_metadata.create_all(engine)
        store = ConfigStore(engine)
        store.seed(seed or RuntimeConfig(), by="init")
        _, config = store.get()
    finally:
        engine.dispose()
    trading = Trading(
        scope_for(settings, config.trading.symbol), settings.database_url, create_table=True
    )
    ReadModelRecorder.for_trading(trading, create_table=True)
    trading.close()


def read_engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url)


def open_trading(settings: Settings, symbol: str | None = None) -> Trading:
    if symbol is None:
        engine = read_engine(settings)
        try:
            _, config = ConfigStore(engine).get()
        finally:
            engine.dispose()
        symbol = config.trading.symbol
    return Trading(scope_for(settings, symbol), settings.database_url)
