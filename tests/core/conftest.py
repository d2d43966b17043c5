"""Fixtures for the core: a real SQLite file per test, the schema created as `init-db` does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alphaengine.bootstrap import init_schema, open_trading
from alphaengine.settings import Settings, load_settings
from alphaengine.trading import Trading
from projections.projector import Projector


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # An explicit, absent secrets file and an empty environment: the developer's own
    # config/secrets.yaml and ALPHAENGINE_* variables never leak into a test.
    return load_settings(
        mode="paper", data_dir=tmp_path / "data", secrets_file=tmp_path / "none.yaml", environ={}
    )


@pytest.fixture
def trading(settings: Settings) -> Iterator[Trading]:
    init_schema(settings)
    app = open_trading(settings)
    yield app
    app.close()


@pytest.fixture
def projector(trading: Trading) -> Projector:
    return Projector.for_trading(trading)
