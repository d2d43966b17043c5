"""GET /api/events: cursor pagination by notification id and the filters."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from projections.schema import rm_events
from tests.web.conftest import Web
from tests.web.seed import NOW, event_row, seed_events


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


def ids_of(page: dict[str, list[dict[str, int]]]) -> list[int]:
    return [e["notification_id"] for e in page["items"]]


def test_cursor_pages_back_and_default_page_size(web: Web, auth: dict[str, str]) -> None:
    seed_events(web.client.app.state.context.database.engine, count=60)  # type: ignore[attr-defined]
    first = web.client.get("/api/events", headers=auth).json()
    assert ids_of(first) == list(range(60, 10, -1))  # 50 by default, newest first
    rest = web.client.get("/api/events", params={"cursor": first["next_cursor"]}, headers=auth)
    assert ids_of(rest.json()) == list(range(10, 0, -1))
    assert rest.json()["next_cursor"] is None


def test_around_shows_both_sides_of_an_event(web: Web, auth: dict[str, str]) -> None:
    seed_events(web.client.app.state.context.database.engine)  # type: ignore[attr-defined]
    page = web.client.get("/api/events", params={"around": 15, "limit": 6}, headers=auth).json()
    assert ids_of(page) == [18, 17, 16, 15, 14, 13]
    assert page["next_cursor"] == 13 and page["newer_cursor"] == 18
    edge = web.client.get("/api/events", params={"around": 29, "limit": 6}, headers=auth).json()
    assert ids_of(edge) == [30, 29, 28, 27]
    assert edge["newer_cursor"] is None


def test_filters_by_aggregate_type_command_and_text(web: Web, auth: dict[str, str]) -> None:
    engine = web.client.app.state.context.database.engine  # type: ignore[attr-defined]
    seed_events(engine)
    command_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    with engine.begin() as conn:
        conn.execute(
            insert(rm_events),
            [
                event_row(31, "Command.Filed", command_id=command_id, data={"kind": "FLATTEN"}),
                event_row(32, "Order.Placed", command_id=command_id, data={"cid": "ae-Needle_1%"}),
            ],
        )

    def ids(**params: str) -> list[int]:
        page = web.client.get("/api/events", params=params, headers=auth).json()
        return sorted(e["notification_id"] for e in page["items"])

    assert ids(aggregate_type="Command") == [31]
    assert ids(command_id=command_id) == [31, 32]
    assert ids(q="needle_1%") == [32]  # in the data, case-insensitive, wildcards literal
    assert ids(q="flatten") == [31]
    assert ids(q="Command.Fil") == [31]  # in the type
    assert ids(q="7c9e6679") == [31, 32]  # in the ids
    assert ids(q="needle_2") == []
    assert ids(q="_") == [32]  # an underscore is a character, not "any character"


def test_bad_new_event_filters_are_422(web: Web, auth: dict[str, str]) -> None:
    for params, field in [
        ({"aggregate_type": "Order;DROP"}, "query.aggregate_type"),
        ({"command_id": "nope"}, "query.command_id"),
        ({"q": "x" * 65}, "query.q"),
        ({"type": "Order.Filled%"}, "query.type"),
        ({"around": "5", "cursor": "9"}, "query.cursor"),
    ]:
        response = web.client.get("/api/events", params=params, headers=auth)
        assert response.status_code == 422, params
        body = response.json()
        assert field in (body.get("message") or body["detail"]), params
