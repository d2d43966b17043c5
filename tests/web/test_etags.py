"""ETags from what an answer depends on: 304 while it holds, a new tag when it moves."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, update

from projections.schema import market_candles, market_marks, rm_events
from tests.web.conftest import Web
from tests.web.seed import NOW, advance_projection, event_row, seed_account, seed_events

GETS = [
    "/api/dashboard",
    "/api/orders",
    "/api/positions",
    "/api/fills",
    "/api/candles",
    "/api/equity",
    "/api/events",
    "/api/trades",
    "/api/performance",
    "/api/commands",
    "/api/config",
    "/api/config/history",
    "/api/state",
]


def engine_of(web: Web) -> Engine:
    engine: Engine = web.client.app.state.context.database.engine  # type: ignore[attr-defined]
    return engine


def get(web: Web, auth: dict[str, str], path: str, tag: str | None = None) -> Any:
    headers = dict(auth)
    if tag is not None:
        headers["If-None-Match"] = tag
    return web.client.get(path, headers=headers)


@pytest.mark.parametrize("path", GETS)
def test_every_get_has_an_etag_and_answers_304_to_it(
    web: Web, auth: dict[str, str], path: str
) -> None:
    seed_account(engine_of(web))
    first = get(web, auth, path)
    assert first.status_code == 200, first.text
    tag = first.headers["etag"]
    again = get(web, auth, path, tag)
    assert again.status_code == 304
    assert again.headers["etag"] == tag and again.content == b""
    assert get(web, auth, path, f'W/{tag}, "other"').status_code == 304
    assert get(web, auth, path, '"something-else"').status_code == 200


def test_read_model_answers_change_tag_when_the_projection_moves(
    web: Web, auth: dict[str, str]
) -> None:
    engine = engine_of(web)
    seed_events(engine, count=3)
    before = get(web, auth, "/api/events")
    with engine.begin() as conn:
        conn.execute(insert(rm_events).values(**event_row(4, "Engine.Paused")))
    advance_projection(engine)  # the projector writes rows and its position together
    after = get(web, auth, "/api/events", before.headers["etag"])
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert after.json()["items"][0]["notification_id"] == 4
    # The query is part of the tag.
    assert get(web, auth, "/api/events?limit=2").headers["etag"] != after.headers["etag"]


def test_candles_and_marks_written_by_the_bot_change_their_tags(
    web: Web, auth: dict[str, str]
) -> None:
    engine = engine_of(web)
    seed_account(engine)
    candles = get(web, auth, "/api/candles")
    board = get(web, auth, "/api/dashboard")
    with engine.begin() as conn:
        conn.execute(
            insert(market_candles).values(
                symbol="BTCUSDT",
                interval="1m",
                open_time=NOW + timedelta(minutes=1),
                open=Decimal(1),
                high=Decimal(1),
                low=Decimal(1),
                close=Decimal(1),
                volume=Decimal(1),
                close_time=NOW + timedelta(minutes=2),
            )
        )
    newer = get(web, auth, "/api/candles", candles.headers["etag"])
    assert newer.status_code == 200 and len(newer.json()["items"]) == 4
    assert get(web, auth, "/api/dashboard", board.headers["etag"]).status_code == 304

    with engine.begin() as conn:
        conn.execute(
            update(market_marks).values(
                mark_price=Decimal("61000"), time=NOW + timedelta(seconds=1)
            )
        )
    moved = get(web, auth, "/api/dashboard", board.headers["etag"])
    assert moved.status_code == 200
    assert Decimal(moved.json()["position"]["unrealized_pnl"]) == Decimal(
        "10"
    )  # (61000-60000)*0.01
