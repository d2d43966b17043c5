"""The dashboard's pages, CORS closed by default, and no secret in the logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alphaengine.settings import load_settings
from tests.web.conftest import Web
from web.app import create_app
from web.auth import ensure_admin_password
from web.routes.pages import CHARTS_BUNDLE


def test_pages_and_assets_are_served(web: Web) -> None:
    root = web.client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/dashboard"
    for path in ("/login", "/dashboard"):
        page = web.client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("dashboard.js", "api.js", "charts.js", "config.js", "format.js", "login.js"):
        assert web.client.get(f"/static/js/{asset}").status_code == 200, asset
    assert web.client.get("/static/css/style.css").status_code == 200
    assert web.client.get("/static/js/missing.js").status_code == 404


def test_chart_library_is_served_from_the_npm_install(web: Web) -> None:
    response = web.client.get("/vendor/lightweight-charts.js")
    if not CHARTS_BUNDLE.exists():
        assert response.status_code == 404
        assert "make frontend" in response.json()["detail"]
        pytest.skip("web/frontend/node_modules is not installed (make frontend)")
    assert response.status_code == 200
    assert "LightweightCharts" in response.text[:5000] or "createChart" in response.text


def test_cors_is_closed_unless_origins_are_configured(web: Web, tmp_path: Path) -> None:
    preflight = {
        "Origin": "https://evil.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization",
    }
    closed = web.client.options("/api/dashboard", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers

    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text("web:\n  cors_origins: ['https://ops.example']\n")
    settings = load_settings(data_dir=tmp_path, secrets_file=secrets_file, environ={})
    ensure_admin_password(settings)
    with TestClient(create_app(settings)) as client:
        allowed = client.options(
            "/api/dashboard", headers={**preflight, "Origin": "https://ops.example"}
        )
        refused = client.options("/api/dashboard", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://ops.example"
    assert "access-control-allow-origin" not in refused.headers


def test_passwords_and_tokens_never_reach_the_logs(
    web: Web, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = web.login()
    web.client.post("/api/auth/login", json={"username": "admin", "password": "guess-1234"})
    web.client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    web.client.get("/api/dashboard", headers={"Authorization": "Bearer forged.token.value"})
    logged = capsys.readouterr()
    text = logged.out + logged.err
    assert "login" in text  # the attempts are logged ...
    for secret in (web.password, "guess-1234", tokens["access_token"], tokens["refresh_token"]):
        assert secret not in text  # ... but never what was typed or issued
    assert "forged.token.value" not in text
