"""Runtime config over HTTP: versioned reads, optimistic writes, field-level errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from alphaengine.settings import Settings
from alphaengine.store import make_engine
from projections.schema import runtime_config
from tests.web.conftest import Web
from tests.web.seed import seed_account
from web.app import create_app
from web.auth import PASSWORD_HASH_FILE


def test_read_then_write_bumps_the_version(web: Web, auth: dict[str, str]) -> None:
    current = web.client.get("/api/config", headers=auth).json()
    assert current["version"] == 1
    assert current["config"]["trading"]["symbol"] == "BTCUSDT"
    config = current["config"]
    config["risk"]["max_leverage"] = 20
    saved = web.client.put(
        "/api/config", json={"version": current["version"], "config": config}, headers=auth
    )
    assert saved.status_code == 200
    assert saved.json()["version"] == 2
    again = web.client.get("/api/config", headers=auth).json()
    assert again["config"]["risk"]["max_leverage"] == 20
    assert again["updated_by"] == "admin"


def test_a_concurrent_change_is_409(web: Web, auth: dict[str, str]) -> None:
    read = web.client.get("/api/config", headers=auth).json()
    changed = {**read, "config": {**read["config"], "risk": {"max_orders_per_minute": 9}}}
    first = web.client.put("/api/config", json=changed, headers=auth)
    assert first.status_code == 200
    second = web.client.put(
        "/api/config", json={"version": read["version"], "config": read["config"]}, headers=auth
    )
    assert second.status_code == 409
    assert "version 2" in second.json()["detail"]


def test_a_bad_field_is_422_naming_it(web: Web, auth: dict[str, str]) -> None:
    read = web.client.get("/api/config", headers=auth).json()
    config = read["config"]
    config["trading"]["leverage"] = 500
    response = web.client.put(
        "/api/config", json={"version": read["version"], "config": config}, headers=auth
    )
    assert response.status_code == 422
    assert "body.config.trading.leverage" in response.json()["message"]
    config["trading"]["leverage"] = 5
    config["risk"]["surprise"] = 1
    unknown = web.client.put(
        "/api/config", json={"version": read["version"], "config": config}, headers=auth
    )
    assert "body.config.risk.surprise" in unknown.json()["message"]
    no_version = web.client.put("/api/config", json={"config": read["config"]}, headers=auth)
    assert no_version.status_code == 422
    assert "body.version" in no_version.json()["message"]
    # Nothing was saved by the refused writes.
    assert web.client.get("/api/config", headers=auth).json()["version"] == read["version"]


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "os.path", "subprocess:Popen", "strategies.loader", "base"]
)
def test_a_strategy_outside_the_strategies_package_is_422(
    web: Web, auth: dict[str, str], name: str
) -> None:
    read = web.client.get("/api/config", headers=auth).json()
    config = read["config"]
    config["strategy"]["name"] = name
    response = web.client.put(
        "/api/config", json={"version": read["version"], "config": config}, headers=auth
    )
    assert response.status_code == 422, name
    assert "body.config.strategy.name" in response.json()["message"]
    assert web.client.get("/api/config", headers=auth).json()["version"] == read["version"]


@pytest.mark.parametrize(
    "body",
    [
        {"strategy": {"name": "../../etc/passwd"}},
        {"trading": {"symbol": "BTCUSDT", "leverage": 5000}},
        ["not", "a", "mapping"],
        "just text",
    ],
)
def test_a_stored_config_that_cannot_load_leaves_the_web_working(
    settings: Settings, admin_password: tuple[str, str], body: object
) -> None:
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(update(runtime_config).values(body=body))
    seed_account(engine)
    engine.dispose()
    password, password_hash = admin_password
    (settings.data_dir / PASSWORD_HASH_FILE).write_text(password_hash)
    with TestClient(create_app(settings)) as client:  # it starts
        token = client.post(
            "/api/auth/login", json={"username": "admin", "password": password}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        shown = client.get("/api/config", headers=auth)
        board = client.get("/api/dashboard", headers=auth)
        candles = client.get("/api/candles", headers=auth)
    assert shown.status_code == 200
    assert shown.json()["error"] and shown.json()["config"] == body
    assert board.status_code == 200 and board.json()["symbol"] == "BTCUSDT"
    assert candles.status_code == 200 and len(candles.json()["items"]) == 3
