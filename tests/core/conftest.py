"""Fixtures for the core: a real SQLite file per test, the schema created as `init-db` does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from alphaengine.bootstrap import init_schema, open_trading
from alphaengine.settings import Settings, load_settings
from alphaengine.store import make_engine
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


def _empty(url: str) -> None:
    engine = make_engine(url)
    try:
        existing = MetaData()
        existing.reflect(engine)
        existing.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Trading]:
    """The Trading application on SQLite, then on PostgreSQL (the `postgres_url` fixture,
    tests/conftest.py), whose database is emptied first: ALPHAENGINE_TEST_POSTGRES_URL, if
    set, must name a database kept for tests."""
    environ: dict[str, str] = {}
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        _empty(url)
        environ["ALPHAENGINE_DATABASE_URL"] = url
    settings = load_settings(
        data_dir=tmp_path, secrets_file=tmp_path / "absent.yaml", environ=environ
    )
    init_schema(settings)
    init_schema(settings)  # a second init changes nothing
    app = open_trading(settings)
    yield app
    app.close()
