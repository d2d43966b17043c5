"""Login, tokens and the password: every /api route but login needs a valid access token."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from alphaengine.bootstrap import init_schema
from alphaengine.settings import SettingsError, load_settings
from tests.web.conftest import Web, make_settings
from web.app import create_app
from web.auth import (
    JWT_SECRET_FILE,
    PASSWORD_HASH_FILE,
    Tokens,
    ensure_admin_password,
    jwt_secret,
)

PROTECTED = [
    ("GET", "/api/dashboard"),
    ("GET", "/api/events"),
    ("GET", "/api/orders"),
    ("GET", "/api/positions"),
    ("GET", "/api/fills"),
    ("GET", "/api/candles"),
    ("GET", "/api/equity"),
    ("GET", "/api/commands"),
    ("GET", "/api/commands/7c9e6679-7425-40de-944b-e07fc1f90ae7"),
    ("POST", "/api/commands"),
    ("GET", "/api/config"),
    ("PUT", "/api/config"),
    ("GET", "/api/state"),
    ("GET", "/api/stream"),
]


def call(client: TestClient, method: str, path: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    status: int = client.request(method, path, headers=headers).status_code
    return status


def test_login_returns_access_and_refresh_tokens(web: Web) -> None:
    body = web.login()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    secret = jwt_secret(web.settings)
    access = jwt.decode(body["access_token"], secret, algorithms=["HS256"], issuer="alphaengine")
    refresh = jwt.decode(body["refresh_token"], secret, algorithms=["HS256"], issuer="alphaengine")
    assert (access["type"], access["sub"]) == ("access", "admin")
    assert refresh["type"] == "refresh"
    assert refresh["exp"] - refresh["iat"] == 12 * 3600


def test_wrong_password_or_user_is_refused(web: Web) -> None:
    bad_password = web.client.post("/api/auth/login", json={"username": "admin", "password": "x"})
    bad_user = web.client.post(
        "/api/auth/login", json={"username": "root", "password": web.password}
    )
    assert bad_password.status_code == bad_user.status_code == 401
    assert bad_password.json() == {"detail": "wrong username or password"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_api_route_needs_a_token(web: Web, method: str, path: str) -> None:
    assert call(web.client, method, path, None) == 401


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_expired_and_forged_tokens_are_refused(web: Web, method: str, path: str) -> None:
    secret = jwt_secret(web.settings)
    expired = Tokens(secret).issue("admin", now=datetime.now(UTC) - timedelta(hours=1))
    forged = Tokens("another-secret-of-at-least-32-characters!").issue("admin")
    assert call(web.client, method, path, expired.access_token) == 401
    assert call(web.client, method, path, forged.access_token) == 401
    assert call(web.client, method, path, "not.a.jwt") == 401


def test_expired_token_says_so(web: Web) -> None:
    expired = Tokens(jwt_secret(web.settings)).issue("admin", now=datetime(2020, 1, 1, tzinfo=UTC))
    response = web.client.get(
        "/api/dashboard", headers={"Authorization": f"Bearer {expired.access_token}"}
    )
    assert response.json() == {"detail": "token expired"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_refresh_token_buys_new_tokens_but_is_not_an_access_token(web: Web) -> None:
    tokens = web.login()
    as_access = web.client.get(
        "/api/dashboard", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert as_access.status_code == 401
    assert as_access.json() == {"detail": "not an access token"}

    refreshed = web.client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    new_access = refreshed.json()["access_token"]
    ok = web.client.get("/api/config", headers={"Authorization": f"Bearer {new_access}"})
    assert ok.status_code == 200

    access_as_refresh = web.client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert access_as_refresh.status_code == 401


def test_bad_login_bodies_are_422_naming_the_field(web: Web) -> None:
    missing = web.client.post("/api/auth/login", json={"username": "admin"})
    assert missing.status_code == 422
    assert "body.password" in missing.json()["message"]
    not_json = web.client.post(
        "/api/auth/login", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    refresh = web.client.post("/api/auth/refresh", json={})
    assert refresh.status_code == 422


def test_login_attempts_are_rate_limited_per_client(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    init_schema(settings)
    password = ensure_admin_password(settings)
    assert password is not None
    app = create_app(settings, login_attempts=3, login_window=60)
    with TestClient(app) as client:
        codes = [
            client.post(
                "/api/auth/login", json={"username": "admin", "password": "wrong"}
            ).status_code
            for _ in range(3)
        ]
        limited = client.post("/api/auth/login", json={"username": "admin", "password": password})
    assert codes == [401, 401, 401]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_paper_password_is_generated_once_and_kept_only_as_a_hash(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    password = ensure_admin_password(settings)
    assert password is not None and len(password) >= 20
    assert ensure_admin_password(settings) is None  # printed exactly once
    stored = (tmp_path / PASSWORD_HASH_FILE).read_text()
    assert stored.startswith("$argon2id$")
    assert password not in stored
    for path in tmp_path.iterdir():
        if path.is_file() and path.suffix != ".db":
            assert password not in path.read_text(errors="ignore")
    assert stat.S_IMODE(os.stat(tmp_path / PASSWORD_HASH_FILE).st_mode) == 0o600


def test_jwt_secret_is_generated_once_with_private_permissions(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    first = jwt_secret(settings)
    assert first == jwt_secret(settings)
    assert len(first) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / JWT_SECRET_FILE).st_mode) == 0o600


def test_configured_hash_is_used_and_nothing_is_generated(tmp_path: Path) -> None:
    from web.auth import hash_password

    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text(f"web:\n  admin_password_hash: '{hash_password('s3cret-pass')}'\n")
    settings = load_settings(data_dir=tmp_path, secrets_file=secrets_file, environ={})
    init_schema(settings)
    assert ensure_admin_password(settings) is None
    assert not (tmp_path / PASSWORD_HASH_FILE).exists()
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/api/auth/login", json={"username": "admin", "password": "s3cret-pass"}
        )
    assert response.status_code == 200


def test_testnet_without_a_hash_refuses_to_generate(tmp_path: Path) -> None:
    settings = load_settings(
        mode="testnet",
        data_dir=tmp_path,
        secrets_file=tmp_path / "absent.yaml",
        environ={"ALPHAENGINE_BINANCE_API_KEY": "k", "ALPHAENGINE_BINANCE_API_SECRET": "s"},
    )
    with pytest.raises(SettingsError, match="admin_password_hash"):
        ensure_admin_password(settings)
