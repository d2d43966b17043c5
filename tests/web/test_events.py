"""GET /api/events: cursor pagination by notification id and the filters."""

from __future__ import annotations

from datetime import timedelta

from tests.web.conftest import Web
from tests.web.seed import NOW, seed_events


def test_pages_walk_backwards_without_gaps_or_repeats(web: Web, auth: dict[str, str]) -> None:
    seed_events(web.client.app.state.context.database.engine)  # type: ignore[attr-defined]
    seen: list[int] = []
    params: dict[str, int] = {"limit": 7}
    while True:
        page = web.client.get("/api/events", params=params, headers=auth).json()
        seen += [e["notification_id"] for e in page["items"]]
        if page["next_cursor"] is None:
            break
        params["before"] = page["next_cursor"]
    assert seen == list(range(30, 0, -1))


def test_after_pages_forwards(web: Web, auth: dict[str, str]) -> None:
    seed_events(web.client.app.state.context.database.engine)  # type: ignore[attr-defined]
    page = web.client.get("/api/events", params={"after": 25}, headers=auth).json()
    assert [e["notification_id"] for e in page["items"]] == [26, 27, 28, 29, 30]
    assert page["next_cursor"] is None


def test_filters_by_type_entity_source_and_time(web: Web, auth: dict[str, str]) -> None:
    seed_events(web.client.app.state.context.database.engine)  # type: ignore[attr-defined]

    def ids(**params: str) -> list[int]:
        page = web.client.get("/api/events", params=params, headers=auth).json()
        return sorted(e["notification_id"] for e in page["items"])

    assert ids(type="Order.Filled") == list(range(3, 31, 3))
    assert ids(type="Position.") == list(range(1, 31, 3))
    assert ids(entity="Account") == list(range(2, 31, 3))
    assert ids(source="RECONCILER") == list(range(2, 31, 3))
    assert ids(type="Order.Filled", source="REST") == []
    # Event n is stamped NOW − (60 − n) minutes.
    since = (NOW - timedelta(minutes=35)).isoformat()
    until = (NOW - timedelta(minutes=32)).isoformat()
    assert ids(since=since, until=until) == [25, 26, 27]
    assert ids(entity_id="11111111-1111-1111-1111-111111111111") == list(range(1, 31))
    assert ids(entity_id="22222222-1111-1111-1111-111111111111") == []


def test_bad_event_queries_are_422(web: Web, auth: dict[str, str]) -> None:
    for params, field in [
        ({"limit": "501"}, "query.limit"),
        ({"source": "TELEPATHY"}, "query.source"),
        ({"entity_id": "not-a-uuid"}, "query.entity_id"),
        ({"before": "abc"}, "query.before"),
        ({"before": str(2**64)}, "query.before"),
        ({"after": "-1"}, "query.after"),
        ({"before": "5", "after": "1"}, "query.before"),
        ({"since": "2026-01-01T00:00:00"}, "query.since"),
    ]:
        response = web.client.get("/api/events", params=params, headers=auth)
        assert response.status_code == 422, params
        body = response.json()
        assert field in (body.get("message") or body["detail"]), params
