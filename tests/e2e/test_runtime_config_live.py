"""The runtime config as a running bot lives with it: the configured leverage reaches the
exchange by a recorded Command (at start and on every change, an alarm when it cannot), and a
config that cannot load leaves the bot safe without a strategy, an alarm saying why, until a
config that loads is saved."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregates.envelope import Source
from alphaengine.bootstrap import read_engine
from alphaengine.local_run import log_contains
from alphaengine.runtime_config import (
    ConfigError,
    ConfigStore,
    RuntimeConfig,
    save_config,
    sync_config_table,
)
from tests.e2e.harness import (
    QUIET_STRATEGY,
    Simulator,
    open_db,
    settings_for,
    start_bot,
    start_simulator,
    stop_process,
    wait_until,
    write_runtime_config,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    simulator = start_simulator(tmp_path)
    yield simulator
    simulator.stop()


def exchange_leverage(sim: Simulator) -> int:
    return int(sim.state()["position"]["leverage"])


def engine_alarms(tmp: Path) -> dict[str, Any]:
    trading = open_db(tmp)
    try:
        return dict(trading.engine().alarms)
    finally:
        trading.close()


def change_config(tmp: Path, **sections: dict[str, Any]) -> int:
    """What the web's PUT /api/config does: a new version through the Trading app."""
    settings = settings_for(tmp)
    engine = read_engine(settings)
    trading = open_db(tmp)
    try:
        stored = ConfigStore(engine).stored()
        try:
            body = stored.parsed().model_dump(mode="json")
        except ConfigError:
            body = RuntimeConfig().model_dump(mode="json")  # start again from the defaults
        version = stored.version
        for name, values in sections.items():
            body[name] = {**body[name], **values}
        return save_config(
            trading,
            engine,
            RuntimeConfig.model_validate(body),
            expected_version=version,
            by="test",
            source=Source.WEB,
        )
    finally:
        trading.close()
        engine.dispose()


def test_the_configured_leverage_is_applied_at_start_and_on_every_change(
    tmp_path: Path, sim: Simulator
) -> None:
    assert exchange_leverage(sim) == 20  # the exchange's default
    config = write_runtime_config(tmp_path, QUIET_STRATEGY, trading={"leverage": 5})
    bot = start_bot(tmp_path, sim, config)
    try:
        wait_until(lambda: exchange_leverage(sim) == 5, 60, "leverage 5 on the exchange")
        trading = open_db(tmp_path)
        try:
            kinds = [c for c in trading.runtime_config_events()]
            assert kinds  # the config is an aggregate with its history
        finally:
            trading.close()
        change_config(tmp_path, trading={"leverage": 3})
        wait_until(lambda: exchange_leverage(sim) == 3, 30, "leverage 3 on the exchange")
        # Above max_leverage: refused by the risk guard, and the alarm says so
        change_config(tmp_path, trading={"leverage": 15}, risk={"max_leverage": 10})
        wait_until(
            lambda: "leverage_not_applied" in engine_alarms(tmp_path), 30, "the leverage alarm"
        )
        assert "max_leverage" in engine_alarms(tmp_path)["leverage_not_applied"]["message"]
        assert exchange_leverage(sim) == 3
    finally:
        assert stop_process(bot, signal.SIGTERM) == 0


def test_a_config_that_cannot_load_keeps_the_bot_safe_and_says_why(
    tmp_path: Path, sim: Simulator
) -> None:
    config = write_runtime_config(tmp_path, QUIET_STRATEGY)
    bot = start_bot(tmp_path, sim, config)
    try:
        wait_until(lambda: log_contains(tmp_path, b"strategy running"), 60, "the strategy")
        # A version whose strategy refuses its parameters (fast must be below slow)
        change_config(tmp_path, strategy={"params": {"fast": 9, "slow": 3}})
        wait_until(lambda: "config_invalid" in engine_alarms(tmp_path), 30, "the config alarm")
        assert "fast < slow" in engine_alarms(tmp_path)["config_invalid"]["message"]
        assert bot.poll() is None  # still running: streams, reconciler, protection
        # A body that does not even parse any more (an older version of the engine stored it)
        trading = open_db(tmp_path)
        engine = read_engine(settings_for(tmp_path))
        try:
            latest = trading.runtime_configuration()
            assert latest is not None
            trading.change_runtime_config(
                {"risk": {"max_leverge": 3}},
                expected_version=latest.version,
                by="an older engine",
                env=trading.envelope(Source.WEB),
            )
            sync_config_table(trading, engine)
        finally:
            trading.close()
            engine.dispose()
        wait_until(
            lambda: (
                "cannot load"
                in engine_alarms(tmp_path).get("config_invalid", {}).get("message", "")
            ),
            30,
            "the alarm for an unreadable config",
        )
        # A config that loads starts the strategy again and clears the alarm
        change_config(tmp_path, strategy={"params": {"fast": 500, "slow": 501}})
        wait_until(lambda: "config_invalid" not in engine_alarms(tmp_path), 30, "alarm cleared")
        assert bot.poll() is None
    finally:
        assert stop_process(bot, signal.SIGTERM) == 0
