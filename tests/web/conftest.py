"""Fixtures for the web tests: a real SQLite file in a tmp dir, the real app, real tokens."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alphaengine.bootstrap import init_schema
from alphaengine.settings import Settings, load_settings
from web.app import create_app
from web.auth import PASSWORD_HASH_FILE, Tokens, hash_password, jwt_secret


@dataclass
class Web:
    client: TestClient
    settings: Settings
    password: str

    def login(self) -> dict[str, Any]:
        response = self.client.post(
            "/api/auth/login", json={"username": "admin", "password": self.password}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def headers(self) -> dict[str, str]:
        # Issued directly (login itself is tested in test_auth): skips an argon2 verify per test.
        token = Tokens(jwt_secret(self.settings)).issue("admin").access_token
        return {"Authorization": f"Bearer {token}"}


def make_settings(data_dir: Path) -> Settings:
    # No secrets file and an empty environment: nothing from the developer's machine leaks in.
    return load_settings(
        mode="paper", data_dir=data_dir, secrets_file=data_dir / "absent.yaml", environ={}
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path / "data")
    init_schema(settings)
    return settings


@pytest.fixture(scope="session")
def admin_password() -> tuple[str, str]:
    """One password and its argon2 hash for the session: hashing costs ~0.2 s each time."""
    password = secrets.token_urlsafe(18)
    return password, hash_password(password)


@pytest.fixture
def web(settings: Settings, admin_password: tuple[str, str]) -> Iterator[Web]:
    password, password_hash = admin_password
    # Where ensure_admin_password keeps a generated paper-mode hash (tested in test_auth).
    path = settings.data_dir / PASSWORD_HASH_FILE
    path.write_text(password_hash)
    path.chmod(0o600)
    app = create_app(settings, login_attempts=50)
    with TestClient(app) as client:
        yield Web(client=client, settings=settings, password=password)


@pytest.fixture
def auth(web: Web) -> dict[str, str]:
    return web.headers()
