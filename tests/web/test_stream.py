"""GET /api/stream over real HTTP: new feed rows and dashboard snapshots arrive as SSE."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import insert

from alphaengine.settings import Settings
from projections.schema import rm_engine, rm_events
from tests.web.seed import NOW, advance_projection, event_row, seed_events
from tests.web.server import serve
from web.app import create_app
from web.auth import Tokens, ensure_admin_password, jwt_secret


def read_messages(
    response: httpx.Response, done: Callable[[list[dict[str, Any]]], bool], deadline: float
) -> list[dict[str, Any]]:
    """SSE messages until `done(messages)` or the deadline (checked as lines arrive)."""
    messages: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            break
        if not line:
            if current:
                messages.append(current)
                current = {}
                if done(messages):
                    break
            continue
        name, _, value = line.partition(":")
        current[name] = value.strip()
    return messages


def paused_board_seen(messages: list[dict[str, Any]]) -> bool:
    """The new event arrived, and a snapshot after it shows the engine paused."""
    last = messages[-1]
    pushed = any(m.get("event") == "event" for m in messages)
    return pushed and last.get("event") == "dashboard" and '"PAUSED"' in last.get("data", "")


def test_stream_pushes_new_events_and_dashboard_changes(settings: Settings) -> None:
    ensure_admin_password(settings)
    app = create_app(settings, stream_interval=0.1)
    engine = app.state.context.database.engine
    seed_events(engine, count=3)
    token = Tokens(jwt_secret(settings)).issue("admin").access_token
    with (
        serve(app) as url,
        httpx.Client(base_url=url, timeout=10) as client,
        client.stream(
            "GET", "/api/stream", headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        # Only what happens after connecting is pushed: 1..3 existed already. Written as the
        # projector writes: the rows, and (here just after them) its tracking position.
        with engine.begin() as conn:
            conn.execute(insert(rm_events).values(**event_row(4, "Engine.Paused")))
            conn.execute(
                insert(rm_engine).values(
                    id=1,
                    mode="PAUSED",
                    reason="test",
                    alarms={},
                    strategy_disabled=False,
                    updated_at=NOW,
                )
            )
        advance_projection(engine)
        messages = read_messages(response, paused_board_seen, time.monotonic() + 10)
    events = [json.loads(m["data"]) for m in messages if m.get("event") == "event"]
    assert [e["notification_id"] for e in events] == [4]
    assert events[0]["event_type"] == "Engine.Paused"
    boards = [json.loads(m["data"]) for m in messages if m.get("event") == "dashboard"]
    assert boards and boards[-1]["engine"]["mode"] == "PAUSED"


def test_stream_resumes_after_a_cursor(settings: Settings) -> None:
    ensure_admin_password(settings)
    app = create_app(settings, stream_interval=0.1)
    seed_events(app.state.context.database.engine, count=5)
    token = Tokens(jwt_secret(settings)).issue("admin").access_token
    with (
        serve(app) as url,
        httpx.Client(base_url=url, timeout=10) as client,
        client.stream(
            "GET",
            "/api/stream",
            params={"after": 2},
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        messages = read_messages(
            response, lambda seen: seen[-1].get("id") == "5", time.monotonic() + 10
        )
    ids = [int(m["id"]) for m in messages if m.get("event") == "event"]
    assert ids == [3, 4, 5]
