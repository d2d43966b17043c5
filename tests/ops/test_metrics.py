"""GET /metrics: every family named alphaengine_*, values equal to a seeded database, and who
may read it (a bearer token from settings, or loopback clients only), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, event, insert

from adapters.binance.metrics import Metrics
from aggregates.envelope import Source
from alphaengine.bootstrap import init_schema, open_trading
from alphaengine.settings import Settings, SettingsError, load_settings
from processes.stats import StatsWriter
from projections.projector import Projector
from projections.schema import rm_commands
from tests.core.story import T0, balance
from tests.web.seed import NOW, seed_account
from tests.web.server import serve
from web.app import create_app
from web.auth import ensure_admin_password

TOKEN = "scrape-token-0123456789abcdef"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def settings_for(tmp: Path, *, url: str | None = None, token: str | None = None) -> Settings:
    secrets = tmp / "secrets.yaml"
    secrets.write_text(yaml.safe_dump({"web": {"metrics_token": token}} if token else {}))
    environ = {"ALPHAENGINE_DATABASE_URL": url} if url else {}
    settings = load_settings(
        mode="paper", data_dir=tmp / "data", secrets_file=secrets, environ=environ
    )
    init_schema(settings)
    ensure_admin_password(settings)
    return settings


def command_row(key: str, status: str, seconds: float) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-0000-0000-{abs(hash(key)) % 10**12:012d}",
        "idempotency_key": key,
        "kind": "CANCEL_ALL",
        "payload": {},
        "actor_type": "USER",
        "actor_id": "admin",
        "priority": 0,
        "status": status,
        "client_order_ids": [],
        "result": {},
        "last_error": {},
        "reason": "",
        "created_at": NOW,
        "updated_at": NOW + timedelta(seconds=seconds),
    }


def seed(settings: Settings, engine: Engine) -> int:
    """The web's account fixture, three commands, the bot's counters, unprojected events.

    Returns the projection lag: the events recorded here are not projected (init-db projected
    only its own).
    """
    seed_account(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(rm_commands),
            [
                command_row("fast", "SUCCEEDED", 0.2),
                command_row("slow", "FAILED", 3.0),
                command_row("waiting", "DISPATCHED", 100.0),  # not finished: no latency yet
            ],
        )
    metrics = Metrics()
    for name, amount in {
        "requests": 42,
        "budget_waits": 5,
        "rate_limited": 2,
        "banned": 1,
        "unknown_outcomes": 3,
        "user_messages": 100,
        "market_messages": 250,
        "gaps": 1,
        "market_reconnects": 2,
    }.items():
        metrics.inc(name, amount)
    StatsWriter(engine).write({**metrics, "orders_in_flight": 4})
    trading = open_trading(settings)
    try:
        envelope = trading.envelope(Source.REST)
        trading.record_balance(balance("10000", T0), envelope)
        trading.record_balance(balance("10001", T0 + timedelta(seconds=1)), envelope)
        return Projector.for_trading(trading).lag()
    finally:
        trading.close()


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@dataclass
class Scraper:
    client: TestClient
    engine: Engine
    unprojected: int

    def get(self, **headers: str) -> httpx.Response:
        response: httpx.Response = self.client.get("/metrics", headers=headers)
        return response


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def scraper(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scraper]:
    url = request.getfixturevalue("postgres_database") if request.param == "postgres" else None
    settings = settings_for(tmp_path, url=url, token=TOKEN)
    app = create_app(settings)
    engine = app.state.context.database.engine
    unprojected = seed(settings, engine)
    with TestClient(app) as client:
        yield Scraper(client, engine, unprojected)


def test_metrics_carry_the_seeded_database(scraper: Scraper) -> None:
    response = scraper.get(Authorization=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse(response.text)
    assert all(name.startswith("alphaengine_") for name, _ in samples)

    def value(metric: str, **labels: str) -> float:
        return samples[(metric, tuple(sorted(labels.items())))]

    # The bot's counters, from bot_stats
    assert value("alphaengine_exchange_requests_total") == 42
    assert value("alphaengine_exchange_rate_limit_waits_total") == 5
    assert value("alphaengine_exchange_http_429_total") == 2
    assert value("alphaengine_exchange_http_418_total") == 1
    assert value("alphaengine_exchange_unknown_outcomes_total") == 3
    assert value("alphaengine_stream_messages_total", stream="user") == 100
    assert value("alphaengine_stream_messages_total", stream="market") == 250
    assert value("alphaengine_stream_gaps_total", stream="user") == 1
    assert value("alphaengine_stream_gaps_total", stream="market") == 0
    assert value("alphaengine_stream_reconnects_total", stream="market") == 2
    assert value("alphaengine_bot_stat", name="orders_in_flight") == 4
    assert 0 <= value("alphaengine_bot_stats_age_seconds") < 60
    # The read models: orders by status, fills, the position, PnL, equity
    assert value("alphaengine_orders", status="NEW") == 2
    assert value("alphaengine_orders", status="FILLED") == 1
    assert value("alphaengine_fills_total") == 3
    assert value("alphaengine_position_quantity", symbol="BTCUSDT") == 0.01
    assert value("alphaengine_position_entry_price", symbol="BTCUSDT") == 60000
    assert value("alphaengine_mark_price", symbol="BTCUSDT") == 60500
    assert value("alphaengine_unrealized_pnl", symbol="BTCUSDT") == 5  # (60500-60000) x 0.010
    assert value("alphaengine_wallet_balance", asset="USDT") == 10000.5
    assert value("alphaengine_equity", asset="USDT") == 10005.5
    # Commands: by status, and the latency of the two finished ones (0.2 s and 3 s)
    assert value("alphaengine_commands", status="DISPATCHED") == 1
    assert value("alphaengine_command_latency_seconds_count") == 2
    assert value("alphaengine_command_latency_seconds_sum") == pytest.approx(3.2, abs=1e-3)
    assert value("alphaengine_command_latency_seconds_bucket", le="0.1") == 0
    assert value("alphaengine_command_latency_seconds_bucket", le="0.25") == 1
    assert value("alphaengine_command_latency_seconds_bucket", le="2.5") == 1
    assert value("alphaengine_command_latency_seconds_bucket", le="5.0") == 2
    assert value("alphaengine_command_latency_seconds_bucket", le="+Inf") == 2
    # Health: the notifications not projected yet, ages, the engine
    assert scraper.unprojected >= 2
    assert value("alphaengine_projection_lag_notifications") == scraper.unprojected
    assert 30 <= value("alphaengine_reconcile_age_seconds") < 90
    assert 0 <= value("alphaengine_heartbeat_age_seconds") < 60
    assert 0 <= value("alphaengine_stream_age_seconds", stream="user") < 60
    assert ("alphaengine_stream_age_seconds", (("stream", "market"),)) not in samples  # never
    assert value("alphaengine_bot_up") == 1
    assert value("alphaengine_engine_mode", mode="RUNNING") == 1
    assert value("alphaengine_engine_mode", mode="PAUSED") == 0
    assert value("alphaengine_alarms") == 1
    assert value("alphaengine_strategy_disabled") == 0
    assert value("alphaengine_info", mode="paper") == 1


def test_openmetrics_when_the_scraper_asks_for_it(scraper: Scraper) -> None:
    response = scraper.get(
        Authorization=f"Bearer {TOKEN}", Accept="application/openmetrics-text; version=1.0.0"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_a_configured_token_is_required_from_everyone(scraper: Scraper) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": TOKEN},
    ):
        response = scraper.get(**headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
    assert scraper.get(Authorization=f"Bearer {TOKEN}").status_code == 200


def test_one_request_holds_one_database_connection(scraper: Scraper) -> None:
    held, most, opened = 0, 0, 0

    def checkout(*_: Any) -> None:
        nonlocal held, most, opened
        held, opened = held + 1, opened + 1
        most = max(most, held)

    def checkin(*_: Any) -> None:
        nonlocal held
        held -= 1

    event.listen(scraper.engine, "checkout", checkout)
    event.listen(scraper.engine, "checkin", checkin)
    try:
        assert scraper.get(Authorization=f"Bearer {TOKEN}").status_code == 200
    finally:
        event.remove(scraper.engine, "checkout", checkout)
        event.remove(scraper.engine, "checkin", checkin)
    assert (opened, most, held) == (1, 1, 0)


def test_without_a_token_only_loopback_clients_may_read(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    app = create_app(settings)
    with TestClient(app) as client:  # its client address is "testclient", not loopback
        refused = client.get("/metrics")
    assert refused.status_code == 403
    assert "web.metrics_token" in refused.json()["detail"]
    with serve(create_app(settings)) as url:
        allowed = httpx.get(f"{url}/metrics", timeout=10)
    assert allowed.status_code == 200
    assert "alphaengine_bot_up" in allowed.text


def test_a_short_token_is_refused_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"web\.metrics_token"):
        settings_for(tmp_path, token="short")
