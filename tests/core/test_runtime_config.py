"""Runtime config: versioned writes (a stale writer loses) and errors that name the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aggregates.config import VersionConflict
from alphaengine.bootstrap import read_engine
from alphaengine.runtime_config import (
    ConfigError,
    ConfigStore,
    RuntimeConfig,
    config_history,
    load_config_file,
    parse_config,
    roll_back_config,
    save_config,
    seed_config,
    sync_config_table,
)
from alphaengine.settings import Settings
from alphaengine.trading import Trading
from projections.schema import runtime_config


def test_two_writers_from_the_same_version_one_loses(trading: Trading, settings: Settings) -> None:
    engine = read_engine(settings)
    try:
        store = ConfigStore(engine)
        # init-db seeded version 1
        version, config = store.get()
        assert version == 1 and config == RuntimeConfig()

        # Both read version 1; the first write wins
        faster = config.model_copy(deep=True)
        faster.risk.max_leverage = 3
        assert save_config(trading, engine, faster, expected_version=1, by="alice") == 2
        slower = config.model_copy(deep=True)
        slower.risk.max_leverage = 20
        with pytest.raises(VersionConflict) as conflict:
            save_config(trading, engine, slower, expected_version=1, by="bob")
        assert (conflict.value.expected, conflict.value.actual) == (1, 2)

        # Nothing of the loser's write is stored
        assert store.get()[1].risk.max_leverage == 3
        # Seeding again changes nothing
        assert seed_config(trading, engine, RuntimeConfig()) == 2
    finally:
        engine.dispose()


def test_every_change_is_an_event_with_its_author_and_a_rollback_is_one_more(
    trading: Trading, settings: Settings
) -> None:
    engine = read_engine(settings)
    try:
        # Version 1 (init) → 2 (alice: 3 orders a minute) → 3 (bob: 7)
        three = RuntimeConfig.model_validate({"risk": {"max_orders_per_minute": 3}})
        seven = RuntimeConfig.model_validate({"risk": {"max_orders_per_minute": 7}})
        save_config(trading, engine, three, expected_version=1, by="alice")
        save_config(trading, engine, seven, expected_version=2, by="bob")

        # Roll back to alice's version: a fourth version with her body
        assert roll_back_config(trading, engine, 2, expected_version=3, by="carol") == 4
        assert ConfigStore(engine).get() == (4, three)

        history = config_history(trading)
        assert [(v.version, v.by, v.change, v.rolled_back_to) for v in history] == [
            (1, "init", "Created", None),
            (2, "alice", "Changed", None),
            (3, "bob", "Changed", None),
            (4, "carol", "RolledBack", 2),
        ]
        assert [v.body["risk"]["max_orders_per_minute"] for v in history] == [30, 3, 7, 3]
        assert all(v.at.tzinfo is not None for v in history)

        # The table is a cache: emptied, it is restored from the events
        with engine.begin() as conn:
            conn.execute(runtime_config.delete())
        assert sync_config_table(trading, engine) == 4
        assert ConfigStore(engine).get() == (4, three)
    finally:
        engine.dispose()


def test_a_strategy_name_outside_the_strategies_package_is_refused() -> None:
    for name in ("../../etc/passwd", "os", "os.path:join", "strategies.base", "nope"):
        with pytest.raises(ConfigError, match=r"strategy\.name"):
            parse_config({"strategy": {"name": name}})
    assert parse_config({"strategy": {"name": "every_candle"}}).strategy.name == "every_candle"


def test_field_errors_name_the_field() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"risk": {"max_leverage": 500}, "strategy": {"timeframe": "7m"}})
    fields = {f["field"] for f in error.value.fields}
    assert fields == {"risk.max_leverage", "strategy.timeframe"}
    assert "risk.max_leverage" in str(error.value)


def test_a_misspelt_field_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(ConfigError, match=r"risk\.max_leverge"):
        parse_config({"risk": {"max_leverge": 3}})


def test_a_config_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "runtime.yaml"
    path.write_text("trading:\n  symbol: btc\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: trading.symbol")):
        load_config_file(path)
    path.write_text("trading: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "missing.yaml")


def test_the_example_runtime_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "runtime.example.yaml"
    assert load_config_file(example).trading.symbol
