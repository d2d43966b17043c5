"""processes/stats.py: the bot's counters upserted into `bot_stats`, all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from adapters.binance.metrics import COUNTERS, Metrics
from alphaengine.bootstrap import init_schema, open_trading
from alphaengine.settings import Settings, load_settings
from alphaengine.store import make_engine
from processes.stats import StatsError, StatsWriter
from projections.replay import rebuild
from projections.schema import bot_stats


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(
        mode="paper", data_dir=tmp_path, secrets_file=tmp_path / "absent.yaml", environ={}
    )
    init_schema(settings)
    return settings


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


def stored(engine: Engine) -> dict[str, Decimal]:
    with engine.connect() as conn:
        return {r.name: r.value for r in conn.execute(select(bot_stats))}


def test_every_counter_is_stored_and_later_writes_replace_it(engine: Engine) -> None:
    metrics = Metrics()
    metrics.inc("requests", 41)
    writer = StatsWriter(engine)
    writer.write(metrics)
    assert stored(engine) == {name: Decimal(metrics[name]) for name in COUNTERS}

    metrics.inc("requests")
    writer.write({**metrics, "fill_latency_ms": 12.5, "weight": Decimal("0.75")})
    values = stored(engine)
    assert values["requests"] == 42
    assert values["fill_latency_ms"] == Decimal("12.5")
    assert values["weight"] == Decimal("0.75")
    with engine.connect() as conn:
        times = {r.updated_at for r in conn.execute(select(bot_stats))}
    assert len(times) == 1 and next(iter(times)).tzinfo is not None  # one write, one moment


@pytest.mark.parametrize(
    "bad",
    [
        {"requests": 1, "gaps": float("nan")},
        {"requests": 1, "gaps": "3"},
        {"requests": 1, "gaps": True},
        {"requests": 1, "": 2},
        {"requests": 1, "x" * 65: 2},
    ],
)
def test_bad_input_is_refused_with_its_name_and_nothing_is_written(
    engine: Engine, bad: dict[str, object]
) -> None:
    with pytest.raises(StatsError, match="stat"):
        StatsWriter(engine).write(bad)  # type: ignore[arg-type]
    assert stored(engine) == {}


def test_replay_leaves_the_counters_alone(engine: Engine, settings: Settings) -> None:
    StatsWriter(engine).write({"requests": 7})
    trading = open_trading(settings)
    try:
        rebuild(trading)
    finally:
        trading.close()
    assert stored(engine) == {"requests": Decimal(7)}
