"""GET /api/state: time travel from the event store, equal to the state rebuilt at that moment."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from aggregates.envelope import Source
from aggregates.facts import BalanceFact, PositionFact
from alphaengine.bootstrap import open_trading
from projections.timetravel import state_at
from tests.web.conftest import Web


def record_history(web: Web) -> list[tuple[int, datetime]]:
    """Three moments: a balance, then a position, then a pause and a new balance."""
    trading = open_trading(web.settings)
    marks: list[tuple[int, datetime]] = []
    try:
        now = datetime.now(UTC)
        trading.record_balance(
            BalanceFact("USDT", Decimal("1000.5"), Decimal("1000.5"), now, "SNAPSHOT"),
            trading.envelope(Source.REST),
        )
        marks.append((trading.recorder.max_notification_id() or 0, datetime.now(UTC)))
        time.sleep(0.01)
        trading.correct_position(
            PositionFact("BTCUSDT", Decimal("0.004"), Decimal("60000.1"), Decimal("60010"), now, 5),
            trading.envelope(Source.RECONCILER),
        )
        marks.append((trading.recorder.max_notification_id() or 0, datetime.now(UTC)))
        time.sleep(0.01)
        trading.pause_engine("lunch", trading.envelope(Source.WEB))
        trading.record_balance(
            BalanceFact("USDT", Decimal("990.25"), Decimal("990.25"), now, "ORDER"),
            trading.envelope(Source.WEBSOCKET),
        )
        marks.append((trading.recorder.max_notification_id() or 0, datetime.now(UTC)))
    finally:
        trading.close()
    return marks


def rebuilt(web: Web, at: int | datetime) -> dict[str, Any]:
    trading = open_trading(web.settings)
    try:
        result: dict[str, Any] = state_at(trading, at)
        return result
    finally:
        trading.close()


def test_state_at_a_notification_id_equals_the_rebuilt_state(
    web: Web, auth: dict[str, str]
) -> None:
    marks = record_history(web)
    for notification_id, _ in marks:
        answer = web.client.get("/api/state", params={"at": notification_id}, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json() == rebuilt(web, notification_id)

    first = web.client.get("/api/state", params={"at": marks[0][0]}, headers=auth).json()
    last = web.client.get("/api/state", params={"at": marks[2][0]}, headers=auth).json()
    assert [b["walletBalance"] for b in first["balances"]] == ["1000.5"]
    assert Decimal(first["position"]["positionAmt"]) == 0
    assert first["engine"]["mode"] == "RUNNING"
    assert [b["walletBalance"] for b in last["balances"]] == ["990.25"]
    assert Decimal(last["position"]["positionAmt"]) == Decimal("0.004")
    assert last["engine"]["mode"] == "PAUSED"


def test_state_at_a_time_equals_the_rebuilt_state(web: Web, auth: dict[str, str]) -> None:
    marks = record_history(web)
    _, after_position = marks[1]
    at = after_position.isoformat().replace("+00:00", "Z")
    answer = web.client.get("/api/state", params={"at": at}, headers=auth)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body == rebuilt(web, after_position)
    assert body["notification_id"] == marks[1][0]
    assert Decimal(body["position"]["positionAmt"]) == Decimal("0.004")
    assert body["engine"]["mode"] == "RUNNING"


@pytest.mark.parametrize("at", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "-3"])
def test_bad_moments_are_422(web: Web, auth: dict[str, str], at: str) -> None:
    response = web.client.get("/api/state", params={"at": at}, headers=auth)
    assert response.status_code == 422
    assert "query.at" in response.json()["detail"]
