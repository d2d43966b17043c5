"""GET /api/state: time travel from the event store, checked against states worked out by hand
from a known sequence of recorded facts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from aggregates.envelope import Source
from aggregates.facts import BalanceFact, PositionFact
from alphaengine.bootstrap import open_trading
from tests.web.conftest import Web
from tests.web.processes import wait_until


def later_than(moment: datetime) -> None:
    """Wait until the clock has passed `moment`, so the next fact is stamped after it."""
    wait_until(lambda: datetime.now(UTC) > moment, timeout=5, what="the clock", step=0.001)


def record_history(web: Web) -> list[tuple[int, datetime, datetime]]:
    """Three moments: a balance, then a position, then a pause and a new balance.

    Each mark: (last notification id, a time just before the step, a time just after it).
    """
    trading = open_trading(web.settings)
    marks: list[tuple[int, datetime, datetime]] = []
    try:
        now = datetime.now(UTC)
        before = datetime.now(UTC)
        trading.record_balance(
            BalanceFact("USDT", Decimal("1000.5"), Decimal("1000.5"), now, "SNAPSHOT"),
            trading.envelope(Source.REST),
        )
        marks.append((trading.recorder.max_notification_id() or 0, before, datetime.now(UTC)))
        later_than(marks[-1][2])
        before = datetime.now(UTC)
        trading.correct_position(
            PositionFact("BTCUSDT", Decimal("0.004"), Decimal("60000.1"), Decimal("60010"), now, 5),
            trading.envelope(Source.RECONCILER),
        )
        marks.append((trading.recorder.max_notification_id() or 0, before, datetime.now(UTC)))
        later_than(marks[-1][2])
        before = datetime.now(UTC)
        trading.pause_engine("lunch", trading.envelope(Source.WEB))
        trading.record_balance(
            BalanceFact("USDT", Decimal("990.25"), Decimal("990.25"), now, "ORDER"),
            trading.envelope(Source.WEBSOCKET),
        )
        marks.append((trading.recorder.max_notification_id() or 0, before, datetime.now(UTC)))
    finally:
        trading.close()
    return marks


FLAT = {
    "symbol": "BTCUSDT",
    "positionAmt": "0",
    "entryPrice": "0",
    "breakEvenPrice": "0",
    "realizedPnl": "0",
    "leverage": None,
}
# A correction sets quantity and entry; the break-even is the position's own netting result,
# which with no fees netted is the entry price (the fact's 60010 is not taken over).
LONG = {
    "symbol": "BTCUSDT",
    "positionAmt": "0.004",
    "entryPrice": "60000.1",
    "breakEvenPrice": "60000.1",
    "realizedPnl": "0",
    "leverage": 5,
}


def usdt(amount: str) -> list[dict[str, Any]]:
    return [
        {
            "asset": "USDT",
            "walletBalance": amount,
            "crossWalletBalance": amount,
            "availableBalance": None,
        }
    ]


# What each moment must show, from the facts recorded in record_history.
EXPECTED = [
    {
        "balances": usdt("1000.5"),
        "position": FLAT,
        "open_orders": [],
        "engine": {"mode": "RUNNING", "reason": "", "alarms": []},
    },
    {
        "balances": usdt("1000.5"),
        "position": LONG,
        "open_orders": [],
        "engine": {"mode": "RUNNING", "reason": "", "alarms": []},
    },
    {
        "balances": usdt("990.25"),
        "position": LONG,
        "open_orders": [],
        "engine": {"mode": "PAUSED", "reason": "lunch", "alarms": []},
    },
]


def check(body: dict[str, Any], mark: tuple[int, datetime, datetime], index: int) -> None:
    notification_id, before, after = mark
    assert body["notification_id"] == notification_id
    as_of = datetime.fromisoformat(body["as_of"])
    assert before <= as_of <= after  # the last event's own time
    shown = {key: body[key] for key in ("balances", "position", "open_orders", "engine")}
    assert shown == EXPECTED[index]


def test_state_at_each_notification_id(web: Web, auth: dict[str, str]) -> None:
    marks = record_history(web)
    for index, mark in enumerate(marks):
        answer = web.client.get("/api/state", params={"at": mark[0]}, headers=auth)
        assert answer.status_code == 200, answer.text
        check(answer.json(), mark, index)
    now = web.client.get("/api/state", headers=auth).json()  # no `at`: the latest
    check(now, marks[2], 2)


def test_state_at_a_time(web: Web, auth: dict[str, str]) -> None:
    marks = record_history(web)
    for index, mark in enumerate(marks):
        at = mark[2].isoformat().replace("+00:00", "Z")  # just after that step
        answer = web.client.get("/api/state", params={"at": at}, headers=auth)
        assert answer.status_code == 200, answer.text
        check(answer.json(), mark, index)


@pytest.mark.parametrize(
    "at", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "-3", "１２", "+12"]
)
def test_bad_moments_are_422(web: Web, auth: dict[str, str], at: str) -> None:
    response = web.client.get("/api/state", params={"at": at}, headers=auth)
    assert response.status_code == 422
    assert "query.at" in response.json()["detail"]
