"""The shipped nginx config in front of a real `python -m web`, checked through HTTPS.

Debian's nginx runs in the foreground with its own prefix and a self-signed certificate made
here; only ports, paths and certificate locations differ from deploy/nginx/alphaengine.conf.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, insert, select

from alphaengine.bootstrap import init_schema
from alphaengine.settings import load_settings
from alphaengine.store import make_engine, sqlite_url
from projections.schema import rm_events
from tests.ops.nginx import (
    SITE_CONFIG,
    Ports,
    nginx_binary,
    render,
    running_nginx,
    self_signed_certificate,
)
from tests.web.processes import TEST_PASSWORD, clean_env, free_port, running, wait_until
from tests.web.seed import event_row
from web.auth import hash_password

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

NGINX = nginx_binary()
HOST = "localhost"


@dataclass
class Proxy:
    ports: Ports
    tls: ssl.SSLContext
    database: Path

    @property
    def https(self) -> str:
        return f"https://{HOST}:{self.ports.https}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.https, verify=self.tls, timeout=10)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    if NGINX is None:
        pytest.skip("nginx not installed: `make test` installs Debian's nginx when run as root")
    tmp = tmp_path_factory.mktemp("nginx")
    data_dir = tmp / "data"
    ports = Ports(http=free_port(), https=free_port(), web=free_port())
    certificate = self_signed_certificate(tmp)
    tls = ssl.create_default_context(cafile=str(certificate.cert))
    env = clean_env(data_dir, ALPHAENGINE_ADMIN_PASSWORD_HASH=hash_password(TEST_PASSWORD))
    init_schema(load_settings(data_dir=data_dir, secrets_file=tmp / "none.yaml", environ={}))
    args = ["-m", "web", "--data-dir", str(data_dir), "--port", str(ports.web)]
    site = render(SITE_CONFIG.read_text(), ports, certificate, tmp)
    with (
        running(args, env=env, log=tmp / "web.log") as web,
        running_nginx(NGINX, tmp, site) as nginx,
    ):
        result = Proxy(ports, tls, data_dir / "alphaengine-paper.db")

        def serving() -> bool:
            assert nginx.process.poll() is None, nginx.errors()
            with result.client() as client:
                return client.get("/health").status_code == 200

        wait_until(serving, timeout=30, what="/health through nginx", proc=web)
        yield result


@pytest.fixture(scope="module")
def token(proxy: Proxy) -> str:
    with proxy.client() as client:
        response = client.post(
            "/api/auth/login", json={"username": "admin", "password": TEST_PASSWORD}
        )
    assert response.status_code == 200, response.text
    access: str = response.json()["access_token"]
    return access


def test_https_login_read_and_command(proxy: Proxy, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    with proxy.client() as client:
        board = client.get("/api/dashboard", headers=auth)
        assert board.status_code == 200
        assert board.json()["engine"]["mode"] == "RUNNING"
        filed = client.post(
            "/api/commands",
            json={"kind": "PAUSE_ENGINE", "payload": {"reason": "through nginx"}},
            headers={**auth, "Idempotency-Key": "nginx-pause-1"},
        )
        assert filed.status_code == 202, filed.text
        command = client.get(filed.json()["status_url"], headers=auth)
        assert command.status_code == 200
        assert command.json()["kind"] == "PAUSE_ENGINE"


def test_headers_on_every_answer(proxy: Proxy) -> None:
    with proxy.client() as client:
        for path in ("/health", "/login", "/api/dashboard"):  # 200 JSON, a page, a 401
            response = client.get(path)
            headers = response.headers
            assert headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
            assert headers.get_list("x-content-type-options") == ["nosniff"], path
            assert headers.get_list("referrer-policy") == ["no-referrer"], path
            assert headers["x-frame-options"] == "DENY"
            assert "camera=()" in headers["permissions-policy"]
            assert headers["server"] == "nginx"  # no version


def test_plain_http_is_redirected_to_https(proxy: Proxy) -> None:
    response = httpx.get(
        f"http://{HOST}:{proxy.ports.http}/api/dashboard?x=1", follow_redirects=False
    )
    assert response.status_code == 301
    assert response.headers["location"] == f"https://{HOST}/api/dashboard?x=1"


def test_the_live_stream_passes_through_unbuffered(proxy: Proxy, token: str) -> None:
    engine = make_engine(sqlite_url(proxy.database))
    timeout = httpx.Timeout(10, read=3)  # a silent gap longer than this fails the test
    try:
        with (
            proxy.client() as client,
            client.stream(
                "GET", "/api/stream", headers={"Authorization": f"Bearer {token}"}, timeout=timeout
            ) as response,
        ):
            started = time.monotonic()
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            first = next(line for line in lines if line.startswith("event:"))
            assert first == "event: dashboard"
            assert time.monotonic() - started < 1.0, "the first message was held back"

            with engine.begin() as conn:
                # Past every projected notification (init-db projected its own).
                top = conn.execute(select(func.max(rm_events.c.notification_id))).scalar() or 0
                conn.execute(insert(rm_events).values(**event_row(top + 1, "Engine.Paused")))
            inserted = time.monotonic()
            data = next(
                line.removeprefix("data:").strip()
                for line in lines
                if line.startswith("data:") and "Engine.Paused" in line
            )
            # The web polls every second: the row arrives on the next poll, not after a flush.
            assert time.monotonic() - inserted < 2.5
    finally:
        engine.dispose()
    assert json.loads(data)["notification_id"] == top + 1


def test_request_bodies_are_limited(proxy: Proxy, token: str) -> None:
    with proxy.client() as client:
        response = client.post(
            "/api/commands",
            content=b"{" + b" " * 100_000 + b"}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    assert response.status_code == 413


def test_metrics_only_from_this_host(proxy: Proxy) -> None:
    with proxy.client() as client:
        local = client.get("/metrics")
    assert local.status_code == 200
    assert "alphaengine_bot_up" in local.text
    # Another source address (127.0.0.2 is not in the allow list) stands in for the outside.
    outside = httpx.HTTPTransport(verify=proxy.tls, local_address="127.0.0.2")
    with httpx.Client(base_url=proxy.https, transport=outside, timeout=10) as client:
        refused = client.get("/metrics")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")  # nginx's, not the web's


def test_login_is_rate_limited_by_nginx(proxy: Proxy, token: str) -> None:
    # Bodies the web refuses (422) before checking any password: only nginx's limit can answer
    # 429 here, and its answer is HTML, not the web's JSON.
    with proxy.client() as client:
        answers = [client.post("/api/auth/login", json={}) for _ in range(10)]
    codes = [a.status_code for a in answers]
    assert codes[0] == 422, codes
    limited = [a for a in answers if a.status_code == 429]
    assert limited, codes
    assert all(a.headers["content-type"].startswith("text/html") for a in limited)
