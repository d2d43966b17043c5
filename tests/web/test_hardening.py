"""Forwarded headers, body limits, security headers, strict ids and intervals, file modes."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import httpx
import pytest

from alphaengine.settings import Settings, SettingsError, check_secrets_permissions, load_settings
from tests.web.conftest import Web
from tests.web.processes import raw_request
from tests.web.seed import seed_account
from tests.web.server import serve
from web.app import create_app
from web.auth import ensure_admin_password
from web.services.guards import SECURITY_HEADERS


def login_codes(url: str, count: int, spoof: bool) -> list[int]:
    codes = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for n in range(count):
            headers = {"X-Forwarded-For": f"203.0.113.{n}"} if spoof else {}
            answer = client.post(
                "/api/auth/login",
                json={"username": "admin", "password": "wrong"},
                headers=headers,
            )
            codes.append(answer.status_code)
    return codes


def test_a_spoofed_forwarded_for_does_not_escape_the_login_limit(settings: Settings) -> None:
    ensure_admin_password(settings)
    with serve(create_app(settings, login_attempts=5)) as url:
        codes = login_codes(url, 30, spoof=True)
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429] * 25


def test_forwarded_for_counts_only_from_a_trusted_proxy(settings: Settings) -> None:
    ensure_admin_password(settings)
    behind_proxy = dataclasses.replace(
        settings, web=settings.web.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    )
    with serve(create_app(behind_proxy, login_attempts=5)) as url:
        codes = login_codes(url, 8, spoof=True)
    # Each forwarded client address has its own budget when the proxy is trusted.
    assert codes == [401] * 8


def test_trusted_proxies_must_be_addresses(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text("web:\n  trusted_proxies: ['nginx.local']\n")
    with pytest.raises(SettingsError, match=r"web\.trusted_proxies"):
        load_settings(data_dir=tmp_path, secrets_file=secrets_file, environ={})


def test_a_huge_declared_body_is_413_before_any_of_it_is_read(settings: Settings) -> None:
    ensure_admin_password(settings)
    with serve(create_app(settings)) as url:
        head = (
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 209715200\r\n\r\n"
        )
        answer = raw_request(url, head)  # not one byte of the 200 MB is sent
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_body_just_over_the_limit_is_413(web: Web) -> None:
    big = {"username": "admin", "password": "x" * (web.settings.web.max_body_bytes + 1)}
    answer = web.client.post("/api/auth/login", json=big)
    assert answer.status_code == 413
    assert "Content Too Large" in answer.text
    fits = {"username": "admin", "password": "x" * 200}
    assert web.client.post("/api/auth/login", json=fits).status_code == 401


def test_security_headers_and_no_store_on_every_response(web: Web, auth: dict[str, str]) -> None:
    seed_account(web.client.app.state.context.database.engine)  # type: ignore[attr-defined]
    answers = [
        web.client.get("/api/dashboard", headers=auth),
        web.client.get("/api/dashboard"),  # 401
        web.client.get("/api/nowhere", headers=auth),  # 404
        web.client.get("/api/candles?interval=7m", headers=auth),  # 422
        web.client.get("/health"),
        web.client.get("/docs"),
        web.client.get("/openapi.json"),
        web.client.get("/static/css/style.css"),
        web.client.post("/api/auth/login", content=b"x" * 100_000),  # 413
    ]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            if name != "Content-Security-Policy":
                assert answer.headers[name] == value, (answer.url, name)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store", answer.url
    api_csp = answers[0].headers["content-security-policy"]
    assert "script-src 'self'" in api_csp and "http" not in api_csp


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/candles?interval=7m", "query.interval"),
        ("/api/candles?interval=1minute", "query.interval"),
        ("/api/state?at=%EF%BC%91%EF%BC%92", "query.at"),  # full-width "１２"
        ("/api/events?cursor=%EF%BC%91%EF%BC%92", "query.cursor"),
        ("/api/events?cursor=%2B12", "query.cursor"),  # "+12"
        ("/api/events?cursor=1_2", "query.cursor"),
        ("/api/events?around=%D9%A3", "query.around"),  # Arabic-Indic digit three
        ("/api/fills?cursor=%201", "query.cursor"),  # " 1"
        ("/api/orders?cursor=99999999999999999999", "query.cursor"),
        ("/api/trades?cursor=12.0", "query.cursor"),
        ("/api/stream?after=%EF%BC%91", "query.after"),
    ],
)
def test_ids_and_cursors_are_ascii_digits_and_intervals_binances(
    web: Web, auth: dict[str, str], url: str, field: str
) -> None:
    answer = web.client.get(url, headers=auth)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert field in (body.get("message") or body["detail"])


@pytest.mark.parametrize("interval", ["1m", "3m", "15m", "2h", "12h", "1d", "3d", "1w", "1M"])
def test_every_binance_interval_is_accepted(web: Web, auth: dict[str, str], interval: str) -> None:
    answer = web.client.get("/api/candles", params={"interval": interval}, headers=auth)
    assert answer.status_code == 200
    assert answer.json()["interval"] == interval


def secrets_settings(tmp_path: Path, mode: int, run_mode: str = "paper") -> Settings:
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text("web:\n  port: 8080\n")
    secrets_file.chmod(mode)
    env = {
        "ALPHAENGINE_BINANCE_API_KEY": "k",
        "ALPHAENGINE_BINANCE_API_SECRET": "s",
        "ALPHAENGINE_ADMIN_PASSWORD_HASH": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    }
    return load_settings(
        mode=run_mode, data_dir=tmp_path / "data", secrets_file=secrets_file, environ=env
    )


def test_a_secrets_file_others_can_read_is_a_warning_then_fatal_in_production(
    tmp_path: Path,
) -> None:
    assert check_secrets_permissions(secrets_settings(tmp_path, 0o600)) == []
    warnings = check_secrets_permissions(secrets_settings(tmp_path, 0o644))
    assert len(warnings) == 1 and "chmod 600" in warnings[0] and "secrets.yaml" in warnings[0]
    assert check_secrets_permissions(secrets_settings(tmp_path, 0o620))  # group-writable
    with pytest.raises(SettingsError, match=r"secrets\.yaml.*chmod 600"):
        check_secrets_permissions(secrets_settings(tmp_path, 0o640, "production"))
    assert check_secrets_permissions(secrets_settings(tmp_path, 0o600, "production")) == []


def test_the_web_refuses_to_start_in_production_with_a_readable_secrets_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from web.__main__ import main

    settings = secrets_settings(tmp_path, 0o644, "production")
    for name in list(os.environ):
        if name.startswith("ALPHAENGINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALPHAENGINE_SECRETS_FILE", str(settings.secrets_file))
    monkeypatch.setenv("ALPHAENGINE_BINANCE_API_KEY", "k")
    monkeypatch.setenv("ALPHAENGINE_BINANCE_API_SECRET", "s")
    monkeypatch.setenv("ALPHAENGINE_ADMIN_PASSWORD_HASH", "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aA")
    previous = os.umask(0o022)
    try:
        code = main(["--mode", "production", "--data-dir", str(settings.data_dir)])
    finally:
        os.umask(previous)
    assert code == 2
    error = capsys.readouterr().err
    assert str(settings.secrets_file) in error and "chmod 600" in error


def test_generated_secrets_are_private(settings: Settings) -> None:
    from web.auth import JWT_SECRET_FILE, PASSWORD_HASH_FILE, jwt_secret

    previous = os.umask(0o022)  # even with a permissive umask
    try:
        ensure_admin_password(settings)
        jwt_secret(settings)
    finally:
        os.umask(previous)
    for name in (JWT_SECRET_FILE, PASSWORD_HASH_FILE):
        assert stat.S_IMODE((settings.data_dir / name).stat().st_mode) == 0o600
