"""Many requests at once over real HTTP: every one answered, nesting refused, overload shed."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import httpx
import pytest
from sqlalchemy import text

from alphaengine.settings import Settings
from tests.web.seed import seed_account, seed_events
from tests.web.server import serve
from web.app import create_app
from web.auth import Tokens, ensure_admin_password, jwt_secret
from web.services.database import Database, NestedConnection


async def fire(url: str, path: str, token: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        headers = {"Authorization": f"Bearer {token}"}
        return list(
            await asyncio.gather(*(client.get(path, headers=headers) for _ in range(count)))
        )


def test_200_concurrent_dashboards_all_answered(settings: Settings) -> None:
    ensure_admin_password(settings)
    app = create_app(settings)
    seed_account(app.state.context.database.engine)
    seed_events(app.state.context.database.engine)
    token = Tokens(jwt_secret(settings)).issue("admin").access_token
    with serve(app) as url:
        answers = asyncio.run(fire(url, "/api/dashboard", token, 200))
        # The server is still responsive afterwards (the pool was not left exhausted).
        health = httpx.get(f"{url}/health", timeout=5)
    assert [a.status_code for a in answers] == [200] * 200
    assert len({a.headers["etag"] for a in answers}) == 1
    assert all(a.json()["balance"]["wallet_balance"] == "10000.50" for a in answers)
    assert health.status_code == 200


def test_a_second_connection_from_the_same_thread_is_refused_not_awaited(
    settings: Settings,
) -> None:
    database = Database(settings.database_url, read_connections=2)

    def nested(conn: object) -> int:
        # What a helper opening its own connection inside a request would do.
        with database.reads.engine.connect() as inner:
            return int(inner.execute(text("select 1")).scalar_one())

    started = time.monotonic()
    with pytest.raises(NestedConnection):
        database.read(nested)
    assert time.monotonic() - started < 1.0  # refused at once, not after a pool timeout
    # The outer connection went back: both connections are usable again.
    assert database.read(lambda c: c.execute(text("select 2")).scalar_one()) == 2
    assert database.reads.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    database.close()


def test_beyond_the_in_flight_limit_requests_get_a_quick_503(settings: Settings) -> None:
    ensure_admin_password(settings)
    narrow = dataclasses.replace(settings, web=settings.web.model_copy(update={"max_in_flight": 2}))
    app = create_app(narrow)
    seed_account(app.state.context.database.engine)
    token = Tokens(jwt_secret(settings)).issue("admin").access_token
    with serve(app) as url:
        started = time.monotonic()
        answers = asyncio.run(fire(url, "/api/candles", token, 60))
        elapsed = time.monotonic() - started
        health = httpx.get(f"{url}/health", timeout=5)
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 503} and 200 in codes and 503 in codes, codes
    shed = next(a for a in answers if a.status_code == 503)
    assert shed.headers["retry-after"] == "1"
    assert shed.json() == {"detail": "busy; retry shortly"}
    assert shed.headers["cache-control"] == "no-store"
    assert elapsed < 30  # answered, not queued for a minute
    assert health.status_code == 200  # probes are never shed
