"""Sessions: rotating refresh tokens, reuse detection, logout, password change, lifetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from fastapi.testclient import TestClient
from sqlalchemy import update

from alphaengine.bootstrap import init_schema
from projections.schema import web_sessions
from tests.web.conftest import Web, make_settings
from web.app import create_app
from web.auth import ensure_admin_password, jwt_secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def works(web: Web, access_token: str) -> bool:
    status: int = web.client.get("/api/config", headers=bearer(access_token)).status_code
    return status == 200


def refresh(web: Web, refresh_token: str) -> tuple[int, dict[str, str]]:
    answer = web.client.post("/api/auth/refresh", json={"refresh_token": refresh_token})
    return answer.status_code, answer.json()


def test_a_refresh_token_buys_new_tokens_once(web: Web) -> None:
    first = web.login()
    code, second = refresh(web, first["refresh_token"])
    assert code == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert works(web, second["access_token"])
    # The spent token again: someone copied it. The whole session ends, the new tokens too.
    reused_code, reused = refresh(web, first["refresh_token"])
    assert reused_code == 401
    assert "already used" in reused["detail"]
    assert refresh(web, second["refresh_token"])[0] == 401
    assert not works(web, second["access_token"])
    assert not works(web, first["access_token"])
    # Another login is another session, untouched.
    assert works(web, web.login()["access_token"])


def test_logout_ends_the_session_of_both_tokens(web: Web) -> None:
    tokens = web.login()
    other = web.login()
    answer = web.client.post(
        "/api/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=bearer(tokens["access_token"]),
    )
    assert answer.status_code == 200 and answer.json() == {"logged_out": True}
    assert not works(web, tokens["access_token"])
    assert web.client.get("/api/dashboard", headers=bearer(tokens["access_token"])).json() == {
        "detail": "session ended; log in again"
    }
    assert refresh(web, tokens["refresh_token"])[0] == 401
    assert works(web, other["access_token"])  # only that session ended


def test_logout_with_only_the_refresh_token_and_bad_logouts(web: Web) -> None:
    tokens = web.login()
    answer = web.client.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert answer.status_code == 200
    assert not works(web, tokens["access_token"])
    assert web.client.post("/api/auth/logout").status_code == 401
    forged = web.client.post("/api/auth/logout", headers=bearer("not.a.jwt"))
    assert forged.status_code == 401


def test_a_password_change_ends_every_session_and_the_new_password_works(web: Web) -> None:
    one, two = web.login(), web.login()
    new_password = "a-new-and-long-enough-password"
    wrong = web.client.post(
        "/api/auth/password",
        json={"current_password": "not-it", "new_password": new_password},
        headers=bearer(one["access_token"]),
    )
    assert wrong.status_code == 403
    assert works(web, one["access_token"])  # a refused change ends nothing
    short = web.client.post(
        "/api/auth/password",
        json={"current_password": web.password, "new_password": "short"},
        headers=bearer(one["access_token"]),
    )
    assert short.status_code == 422 and "body.new_password" in short.json()["message"]

    changed = web.client.post(
        "/api/auth/password",
        json={"current_password": web.password, "new_password": new_password},
        headers=bearer(one["access_token"]),
    )
    assert changed.status_code == 200
    for tokens in (one, two):
        assert not works(web, tokens["access_token"])
        assert refresh(web, tokens["refresh_token"])[0] == 401
    old = web.client.post("/api/auth/login", json={"username": "admin", "password": web.password})
    assert old.status_code == 401
    new = web.client.post("/api/auth/login", json={"username": "admin", "password": new_password})
    assert new.status_code == 200
    assert works(web, new.json()["access_token"])


def test_the_changed_password_survives_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    init_schema(settings)
    password = ensure_admin_password(settings)
    assert password is not None
    new_password = "another-long-enough-password"
    with TestClient(create_app(settings)) as client:
        login = client.post("/api/auth/login", json={"username": "admin", "password": password})
        client.post(
            "/api/auth/password",
            json={"current_password": password, "new_password": new_password},
            headers=bearer(login.json()["access_token"]),
        )
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/api/auth/login", json={"username": "admin", "password": new_password}
        )
    assert answer.status_code == 200


def test_refreshing_never_extends_a_session_past_its_lifetime(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    init_schema(settings)
    password = ensure_admin_password(settings)
    secret = jwt_secret(settings)
    app = create_app(settings, session_lifetime=timedelta(hours=1), refresh_ttl=timedelta(hours=12))
    with TestClient(app) as client:
        login = client.post("/api/auth/login", json={"username": "admin", "password": password})
        tokens = login.json()
        ends = jwt.decode(tokens["refresh_token"], secret, algorithms=["HS256"])["exp"]
        for _ in range(3):
            tokens = client.post(
                "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            ).json()
            claims = jwt.decode(tokens["refresh_token"], secret, algorithms=["HS256"])
            assert claims["exp"] == ends  # 1 h after the login, however often refreshed
        # When the session's hour is over, its refresh token buys nothing.
        with app.state.context.database.engine.begin() as conn:
            conn.execute(
                update(web_sessions).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        late = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert late.status_code == 401
    assert late.json()["detail"] == "session expired; log in again"
