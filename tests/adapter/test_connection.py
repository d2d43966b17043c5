"""Client set-up per mode: URLs by configuration only, keys from settings, sessions closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.binance.urls import PRODUCTION, TESTNET, endpoints_for
from adapters.simulator import DEFAULT_API_KEY, SimulatorServer
from alphaengine.exchange import connect_exchange
from alphaengine.settings import load_settings


def test_each_mode_has_its_own_endpoints() -> None:
    assert endpoints_for("production") == PRODUCTION
    assert endpoints_for("testnet") == TESTNET and not TESTNET.has_spot
    paper = endpoints_for("paper", "http://127.0.0.1:8123")
    assert paper.futures_rest == paper.spot_rest == "http://127.0.0.1:8123"
    assert paper.stream == "ws://127.0.0.1:8123/"
    with pytest.raises(ValueError, match="simulator"):
        endpoints_for("paper")
    with pytest.raises(ValueError, match="exchange url"):
        endpoints_for("paper", "127.0.0.1:8123")


async def test_paper_connects_to_the_simulator_with_its_keys_and_closes(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path, secrets_file=tmp_path / "none.yaml", environ={})
    connection = await connect_exchange(settings, sim.url)
    assert connection.client.API_KEY == DEFAULT_API_KEY
    assert sim.url + "/fapi" == connection.client.FUTURES_URL
    assert sim.ws_url == connection.endpoints.stream
    assert connection.governor.weight_limit_1m == 2400  # from exchangeInfo
    await connection.close()
    assert connection.client.session.closed


async def test_keys_from_settings_are_used(sim: SimulatorServer, tmp_path: Path) -> None:
    env = {"ALPHAENGINE_BINANCE_API_KEY": "x" * 64, "ALPHAENGINE_BINANCE_API_SECRET": "y" * 64}
    settings = load_settings(data_dir=tmp_path, secrets_file=tmp_path / "none.yaml", environ=env)
    connection = await connect_exchange(settings, sim.url)
    try:
        assert connection.client.API_KEY == "x" * 64
    finally:
        await connection.close()
