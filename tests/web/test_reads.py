"""The read routes against read-model rows in a real SQLite file."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, insert

from projections.schema import rm_events, rm_orders
from tests.web.conftest import Web
from tests.web.seed import NOW, created_event, order_row, seed_account


def test_dashboard_shows_balance_position_pnl_orders_fills_and_alarms(
    web: Web, auth: dict[str, str]
) -> None:
    seed_account(web.client.app.state.context.database.engine)  # type: ignore[attr-defined]
    board = web.client.get("/api/dashboard", headers=auth).json()

    assert board["symbol"] == "BTCUSDT"
    assert board["engine"]["mode"] == "RUNNING"
    assert board["balance"]["wallet_balance"] == "10000.50"
    position = board["position"]
    assert position["side"] == "LONG"
    # (mark − entry) × quantity = (60500 − 60000) × 0.010
    assert Decimal(position["unrealized_pnl"]) == Decimal("5")
    # Today: realized 5.00 − 1.50, minus the USDT fee 0.30 (the BNB fee has no USDT value),
    # plus unrealized 5; the fill from two days ago does not count.
    assert Decimal(board["today_pnl"]) == Decimal("8.20")
    assert Decimal(board["equity"]) == Decimal("10005.50")
    assert [o["client_order_id"] for o in board["open_orders"]["normal"]] == ["ae-limit"]
    assert [o["client_order_id"] for o in board["open_orders"]["protective"]] == ["aesl-stop"]
    assert [f["trade_id"] for f in board["last_fills"]] == [3, 2, 1]
    assert board["alarms"][0]["code"] == "unprotected_position"
    # Money is never a float on the wire.
    assert isinstance(board["position"]["entry_price"], str)


def test_dashboard_on_an_empty_database_is_flat_and_running(web: Web, auth: dict[str, str]) -> None:
    board = web.client.get("/api/dashboard", headers=auth).json()
    assert board["position"]["side"] == "FLAT"
    assert board["balance"] is None
    assert board["engine"]["mode"] == "RUNNING"
    assert board["today_pnl"] == "0"


def test_orders_positions_fills_candles_equity(web: Web, auth: dict[str, str]) -> None:
    seed_account(web.client.app.state.context.database.engine)  # type: ignore[attr-defined]
    get = web.client.get

    open_orders = get("/api/orders", params={"open": "true"}, headers=auth).json()["items"]
    assert {o["client_order_id"] for o in open_orders} == {"ae-limit", "aesl-stop"}
    closed = get("/api/orders", params={"open": "false"}, headers=auth).json()["items"]
    assert [o["status"] for o in closed] == ["FILLED"]
    assert len(get("/api/orders", headers=auth).json()["items"]) == 3

    positions = get("/api/positions", headers=auth).json()["items"]
    assert [(p["symbol"], p["quantity"], p["leverage"]) for p in positions] == [
        ("BTCUSDT", "0.010", 5)
    ]

    page = get("/api/fills", params={"limit": 2}, headers=auth).json()
    assert [f["trade_id"] for f in page["items"]] == [3, 2]
    rest = get("/api/fills", params={"before": page["next_cursor"]}, headers=auth).json()
    assert [f["trade_id"] for f in rest["items"]] == [1]

    candles = get("/api/candles", headers=auth).json()
    assert candles["interval"] == "1m"
    assert [c["close"] for c in candles["items"]] == ["60005", "60006", "60007"]
    # Only the fills the chart can place: the one from two days ago precedes every candle.
    assert [f["trade_id"] for f in candles["fills"]] == [3, 1]

    equity = get("/api/equity", headers=auth).json()
    assert [p["equity"] for p in equity["items"]] == ["10001", "10002", "10003"]
    assert Decimal(equity["current"]) == Decimal("10005.50")


def test_bad_queries_are_422_with_the_field_named(web: Web, auth: dict[str, str]) -> None:
    get = web.client.get
    cases = {
        "/api/orders?limit=0": "query.limit",
        "/api/orders?open=maybe": "query.open",
        "/api/fills?before=-1": "query.before",
        "/api/fills?since=yesterday": "query.since",
        "/api/candles?interval=1minute": "query.interval",
        "/api/equity?limit=100000": "query.limit",
    }
    for url, field in cases.items():
        response = get(url, headers=auth)
        assert response.status_code == 422, url
        assert field in response.json()["message"], url
    naive = get("/api/fills?since=2026-01-01T00:00:00", headers=auth)
    assert naive.status_code == 422
    assert "timezone" in naive.json()["detail"]
    backwards = get(
        "/api/fills?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", headers=auth
    )
    assert backwards.status_code == 422


def test_health_reports_ages_lag_and_modes(web: Web) -> None:
    seed_account(web.client.app.state.context.database.engine)  # type: ignore[attr-defined]
    body = web.client.get("/health").json()
    assert body["database"] == "ok"
    assert body["mode"] == "paper"
    assert body["engine_mode"] == "RUNNING"
    assert body["status"] == "ok" and body["bot_alive"] is True
    assert 0 <= body["user_stream_age_seconds"] < 60
    assert 29 <= body["reconcile_age_seconds"] < 90
    assert body["projection_lag"] == 0


def test_unreachable_database_is_503_with_a_clear_message(
    web: Web, auth: dict[str, str], tmp_path: Path
) -> None:
    context = web.client.app.state.context  # type: ignore[attr-defined]
    context.database.close()
    web.settings.db_path.rename(tmp_path / "moved.db")
    for suffix in ("-wal", "-shm"):
        Path(f"{web.settings.db_path}{suffix}").unlink(missing_ok=True)
    health = web.client.get("/health")
    assert health.status_code == 503
    assert health.json()["ready"] is False
    board = web.client.get("/api/dashboard", headers=auth)
    assert board.status_code == 503
    assert "database unavailable" in board.json()["detail"]
    command = web.client.post(
        "/api/commands", json={"kind": "CANCEL_ALL"}, headers={**auth, "Idempotency-Key": "k"}
    )
    assert command.status_code == 503


def seed_many_orders(engine: Engine) -> list[str]:
    """Ten orders created one after another (creation notifications 1001..1010)."""
    rows = [
        order_row(
            f"ae-{n}",
            side="BUY" if n % 2 else "SELL",
            type="LIMIT" if n % 3 else "STOP_MARKET",
            status="NEW" if n < 5 else "FILLED",
            is_open=n < 5,
            origin="EXTERNAL" if n == 7 else "ENGINE",
            created_at=NOW - timedelta(minutes=10 - n),
        )
        for n in range(1, 11)
    ]
    with engine.begin() as conn:
        conn.execute(insert(rm_orders), rows)
        conn.execute(
            insert(rm_events),
            [created_event(1000 + n, row["id"], "Order.Placed") for n, row in enumerate(rows, 1)],
        )
    return [row["client_order_id"] for row in rows]


def test_orders_filters_and_cursor_paging(web: Web, auth: dict[str, str]) -> None:
    seed_many_orders(web.client.app.state.context.database.engine)  # type: ignore[attr-defined]

    def cids(**params: str) -> list[str]:
        page = web.client.get("/api/orders", params=params, headers=auth).json()
        return [o["client_order_id"] for o in page["items"]]

    assert cids() == [f"ae-{n}" for n in range(10, 0, -1)]  # newest first
    assert cids(side="BUY") == ["ae-9", "ae-7", "ae-5", "ae-3", "ae-1"]
    assert cids(type="STOP_MARKET") == ["ae-9", "ae-6", "ae-3"]
    assert cids(status="FILLED", origin="EXTERNAL") == ["ae-7"]
    assert cids(open="true") == ["ae-4", "ae-3", "ae-2", "ae-1"]
    since = (NOW - timedelta(minutes=3)).isoformat()
    until = (NOW - timedelta(minutes=1)).isoformat()
    assert cids(since=since, until=until) == ["ae-8", "ae-7"]

    seen: list[str] = []
    params: dict[str, str] = {"limit": "4"}
    while True:
        page = web.client.get("/api/orders", params=params, headers=auth).json()
        seen += [o["client_order_id"] for o in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = str(page["next_cursor"])
    assert seen == [f"ae-{n}" for n in range(10, 0, -1)]


def test_bad_order_filters_are_422(web: Web, auth: dict[str, str]) -> None:
    for url, field in {
        "/api/orders?side=LONG": "query.side",
        "/api/orders?origin=WEB": "query.origin",
        "/api/orders?type=limit;": "query.type",
        "/api/orders?limit=501": "query.limit",
    }.items():
        response = web.client.get(url, headers=auth)
        assert response.status_code == 422, url
        assert field in response.json()["message"], url


def test_fills_and_candles_page_by_cursor(web: Web, auth: dict[str, str]) -> None:
    seed_account(web.client.app.state.context.database.engine)  # type: ignore[attr-defined]
    page = web.client.get("/api/fills", params={"limit": 2}, headers=auth).json()
    rest = web.client.get("/api/fills", params={"cursor": page["next_cursor"]}, headers=auth)
    assert [f["trade_id"] for f in rest.json()["items"]] == [1]

    newest = web.client.get("/api/candles", params={"limit": 2}, headers=auth).json()
    assert [c["close"] for c in newest["items"]] == ["60006", "60007"]  # oldest first
    older = web.client.get(
        "/api/candles", params={"limit": 2, "cursor": newest["next_cursor"]}, headers=auth
    ).json()
    assert [c["close"] for c in older["items"]] == ["60005"]
    assert older["next_cursor"] is None
