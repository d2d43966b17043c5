"""Runtime config over HTTP: versioned reads, optimistic writes, field-level errors."""

from __future__ import annotations

from tests.web.conftest import Web


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
