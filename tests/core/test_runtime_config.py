"""Runtime config: versioned writes (a stale writer loses) and errors that name the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alphaengine.bootstrap import read_engine
from alphaengine.runtime_config import (
    ConfigError,
    ConfigStore,
    RuntimeConfig,
    VersionConflict,
    load_config_file,
    parse_config,
)
from alphaengine.settings import Settings
from alphaengine.trading import Trading


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
        assert store.put(faster, expected_version=1, by="alice") == 2
        slower = config.model_copy(deep=True)
        slower.risk.max_leverage = 20
        with pytest.raises(VersionConflict) as conflict:
            store.put(slower, expected_version=1, by="bob")
        assert (conflict.value.expected, conflict.value.actual) == (1, 2)

        # Nothing of the loser's write is stored
        assert store.get()[1].risk.max_leverage == 3
        # Seeding again changes nothing
        assert store.seed(RuntimeConfig()) == 2
    finally:
        engine.dispose()


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
