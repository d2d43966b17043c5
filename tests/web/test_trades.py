"""GET /api/trades and /api/performance against round trips worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert

from projections.schema import rm_fills
from tests.web.conftest import Web
from tests.web.seed import fill_row

D = Decimal
NOW = datetime.now(UTC).replace(microsecond=0)
T1, T2, T3 = (NOW - timedelta(days=3, hours=h) for h in (2, 1, 0))
T4, T5, T6, T7 = (NOW - timedelta(seconds=s) for s in (60, 50, 40, 30))

# trade id, side, quantity, price, fee, fee asset, time
FILLS = [
    (1, "BUY", "0.010", "60000", "0.24", "USDT", T1),  # A opens long
    (2, "BUY", "0.010", "61000", "0.24", "USDT", T2),  # A adds
    (3, "SELL", "0.020", "62000", "0.50", "USDT", T3),  # A closes
    (4, "SELL", "0.010", "62000", "0.25", "USDT", T4),  # B opens short
    (5, "BUY", "0.030", "63000", "0.60", "USDT", T5),  # B closes, C opens long 0.020 (flip)
    (6, "SELL", "0.020", "62500", "0.01", "BNB", T6),  # C closes; a BNB fee has no USDT value
    (7, "BUY", "0.005", "62000", "0.10", "USDT", T7),  # D opens, still open: not a trade
]

# Worked out by hand:
# A long 0.020: entry (600 + 610) / 0.020 = 60500, exit 62000, PnL 1240 - 1210 = 30,
#   fees 0.24 + 0.24 + 0.50 = 0.98, net 29.02.
# B short 0.010: entry 62000, exit 63000, PnL -(630 - 620) = -10; the flip fill's fee 0.60
#   splits by quantity: 0.20 to B, 0.40 to C; fees 0.25 + 0.20 = 0.45, net -10.45.
# C long 0.020: entry 63000, exit 62500, PnL 1250 - 1260 = -10, fees 0.40, net -10.40.
EXPECTED = [
    {
        "id": 5,
        "side": "LONG",
        "quantity": "0.020",
        "entry_price": "63000",
        "exit_price": "62500",
        "opened_at": T5,
        "closed_at": T6,
        "fees": "0.40",
        "realized_pnl": "-10",
        "net_pnl": "-10.40",
    },
    {
        "id": 4,
        "side": "SHORT",
        "quantity": "0.010",
        "entry_price": "62000",
        "exit_price": "63000",
        "opened_at": T4,
        "closed_at": T5,
        "fees": "0.45",
        "realized_pnl": "-10",
        "net_pnl": "-10.45",
    },
    {
        "id": 1,
        "side": "LONG",
        "quantity": "0.020",
        "entry_price": "60500",
        "exit_price": "62000",
        "opened_at": T1,
        "closed_at": T3,
        "fees": "0.98",
        "realized_pnl": "30",
        "net_pnl": "29.02",
    },
]


def seed_fills(web: Web) -> None:
    engine = web.client.app.state.context.database.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            insert(rm_fills),
            [
                fill_row(
                    trade_id,
                    100 + trade_id,
                    side=side,
                    quantity=D(quantity),
                    price=D(price),
                    fee=D(fee),
                    fee_asset=asset,
                    time=at,
                )
                for trade_id, side, quantity, price, fee, asset, at in FILLS
            ],
        )


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_closed_round_trips_netted_one_way_newest_first(web: Web, auth: dict[str, str]) -> None:
    seed_fills(web)
    page = web.client.get("/api/trades", headers=auth).json()
    assert page["next_cursor"] is None
    assert len(page["items"]) == len(EXPECTED)
    for got, want in zip(page["items"], EXPECTED, strict=True):
        assert got["symbol"] == "BTCUSDT"
        for key in ("id", "side"):
            assert got[key] == want[key], key
        for key in ("quantity", "entry_price", "exit_price", "fees", "realized_pnl", "net_pnl"):
            assert D(got[key]) == D(str(want[key])), (want["id"], key, got[key])
        assert parse_time(got["opened_at"]) == want["opened_at"]
        assert parse_time(got["closed_at"]) == want["closed_at"]
        duration = (want["closed_at"] - want["opened_at"]).total_seconds()  # type: ignore[operator]
        assert got["duration_seconds"] == duration


def test_trades_page_by_cursor(web: Web, auth: dict[str, str]) -> None:
    seed_fills(web)
    first = web.client.get("/api/trades", params={"limit": 2}, headers=auth).json()
    assert [t["id"] for t in first["items"]] == [5, 4]
    assert first["next_cursor"] == 4
    rest = web.client.get(
        "/api/trades", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth
    ).json()
    assert [t["id"] for t in rest["items"]] == [1]
    assert rest["next_cursor"] is None


def test_performance_all_and_today(web: Web, auth: dict[str, str]) -> None:
    if (NOW - timedelta(seconds=60)).date() != datetime.now(UTC).date():
        pytest.skip("B and C must close on the same UTC day as now; retry after 00:02 UTC")
    seed_fills(web)
    body = web.client.get("/api/performance", headers=auth).json()
    assert body["time_zone"] == "UTC"
    as_of = parse_time(body["as_of"])

    every = body["all"]
    assert (every["trades"], every["wins"], every["losses"]) == (3, 1, 2)
    assert D(every["win_rate"]) == D(1) / D(3)
    assert D(every["total_pnl"]) == D("8.17")  # 29.02 - 10.45 - 10.40
    assert D(every["fees"]) == D("1.83")  # 0.98 + 0.45 + 0.40
    assert D(every["profit_factor"]) == D("29.02") / D("20.85")
    assert D(every["max_drawdown"]) == D("20.85")  # from +29.02 down to +8.17
    assert D(every["best_trade"]) == D("29.02")
    assert D(every["worst_trade"]) == D("-10.45")
    days = (as_of - T1).total_seconds() / 86400
    assert abs(float(every["trades_per_day"]) - 3 / days) < 1e-6

    today = body["today"]  # B and C closed today; A three days ago
    assert (today["trades"], today["wins"], today["losses"]) == (2, 0, 2)
    assert D(today["win_rate"]) == 0
    assert D(today["total_pnl"]) == D("-20.85")
    assert D(today["fees"]) == D("0.85")
    assert D(today["profit_factor"]) == 0  # no winning trade
    assert D(today["max_drawdown"]) == D("20.85")
    assert (D(today["best_trade"]), D(today["worst_trade"])) == (D("-10.40"), D("-10.45"))
    assert D(today["trades_per_day"]) == 2


def test_no_trades_yet(web: Web, auth: dict[str, str]) -> None:
    assert web.client.get("/api/trades", headers=auth).json() == {
        "items": [],
        "next_cursor": None,
    }
    stats = web.client.get("/api/performance", headers=auth).json()["all"]
    assert stats["trades"] == 0 and stats["win_rate"] is None and stats["profit_factor"] is None
    assert D(stats["total_pnl"]) == 0 and stats["best_trade"] is None
