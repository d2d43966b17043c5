"""Time travel: the state at notification N is the state after replaying the first N events."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import StoredEvent

from aggregates.envelope import Scope
from alphaengine.settings import load_settings
from alphaengine.trading import Trading
from projections.timetravel import TimeTravelError, state_at
from tests.core.story import drive_history


def _prefix_copy(tmp_path: Path, scope: Scope) -> Trading:
    # An empty store (no seeded config): the copy receives the original's events only.
    settings = load_settings(
        mode="paper", data_dir=tmp_path / "copy", secrets_file=tmp_path / "none.yaml", environ={}
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Trading(scope, settings.database_url, create_table=True)


# The account at the end of each chapter of tests/core/story.py, worked out by hand:
# (wallet, position quantity, entry price, open orders as (client id prefix, type, side, qty)).
CHAPTERS = [
    # Bought 0.004 @ 60000 and 0.006 @ 60010: entry (240 + 360.06) / 0.010 = 60006
    ("9999.80", "0.010", "60006", []),
    # The stop's child sold it all: flat; the stop is finished, nothing rests
    ("9989.40", "0", "0", []),
    # Short 0.020 @ 59100, then one buy of 0.030 @ 59050 flips it: long 0.010 @ 59050; the
    # LIMIT sell of 0.005 rests
    ("9989.40", "0.010", "59050", [("LIMIT", "SELL", "0.005", "ENGINE")]),
    # Commands finish: the account does not move
    ("9989.40", "0.010", "59050", [("LIMIT", "SELL", "0.005", "ENGINE")]),
    # The reconciler corrects the wallet and adopts an order placed by hand
    (
        "9988.00",
        "0.010",
        "59050",
        [("LIMIT", "SELL", "0.005", "ENGINE"), ("LIMIT", "BUY", "0.001", "EXTERNAL")],
    ),
    # The engine pauses and keeps its strategy's state: the account does not move
    (
        "9988.00",
        "0.010",
        "59050",
        [("LIMIT", "SELL", "0.005", "ENGINE"), ("LIMIT", "BUY", "0.001", "EXTERNAL")],
    ),
]


def _summary(state: dict[str, Any]) -> tuple[str, str, str, list[tuple[str, str, str, str]]]:
    (usdt,) = [b for b in state["balances"] if b["asset"] == "USDT"]
    position = state["position"]
    orders = sorted((o["type"], o["side"], o["origQty"], o["origin"]) for o in state["open_orders"])
    return (
        str(Decimal(usdt["walletBalance"]).normalize()),
        str(Decimal(position["positionAmt"]).normalize()),
        str(Decimal(position["entryPrice"]).normalize()),
        [(t, side, str(Decimal(q).normalize()), origin) for t, side, q, origin in orders],
    )


def _expected(chapter: tuple[str, str, str, list[tuple[str, str, str, str]]]) -> Any:
    wallet, quantity, entry, orders = chapter
    return (
        str(Decimal(wallet).normalize()),
        str(Decimal(quantity).normalize()),
        str(Decimal(entry).normalize()),
        sorted((t, side, str(Decimal(q).normalize()), origin) for t, side, q, origin in orders),
    )


def test_each_chapter_is_found_again_by_time_travel_as_worked_out_by_hand(
    trading: Trading,
) -> None:
    # Record the story, noting the notification id at every chapter's end
    ends: list[int] = []
    drive_history(
        trading, checkpoint=lambda: ends.append(int(trading.recorder.max_notification_id() or 0))
    )
    assert len(ends) == len(CHAPTERS)
    # Time travel to each chapter's end says what the hand-worked account says
    for end, chapter in zip(ends, CHAPTERS, strict=True):
        assert _summary(state_at(trading, end)) == _expected(chapter), end


def test_state_at_each_notification_equals_a_replay_of_the_log_up_to_it(
    trading: Trading, tmp_path: Path
) -> None:
    drive_history(trading)
    # Copy the log event by event into a fresh store: loading the latest state of a prefix is
    # the other way to know the past; it must agree with time travel everywhere.
    copy = _prefix_copy(tmp_path, trading.scope)
    for notification in trading.recorder.select_notifications(1, 10_000):
        stored = StoredEvent(
            originator_id=notification.originator_id,
            originator_version=notification.originator_version,
            topic=notification.topic,
            state=notification.state,
        )
        copy.recorder.insert_events([stored])
        assert state_at(trading, notification.id) == state_at(copy)
    copy.close()


def test_state_at_a_time_picks_the_last_notification_at_or_before_it(trading: Trading) -> None:
    drive_history(trading)
    notifications = trading.recorder.select_notifications(1, 10_000)
    events = [trading.mapper.to_domain_event(n) for n in notifications]
    stamps = [e.timestamp for e in events if isinstance(e, DomainEvent)]
    assert len(stamps) == len(events)  # every recorded event carries its time
    middle = len(stamps) // 2

    at = stamps[middle]
    expected = max(i + 1 for i, s in enumerate(stamps) if s <= at)
    assert state_at(trading, at)["notification_id"] == expected
    assert state_at(trading, stamps[0] - timedelta(seconds=1))["notification_id"] == 0
    later = state_at(trading, stamps[-1] + timedelta(days=1))
    assert later == state_at(trading)


def test_before_anything_happened_the_account_is_empty(trading: Trading) -> None:
    drive_history(trading)
    empty = state_at(trading, 0)
    assert empty["balances"] == [] and empty["open_orders"] == []
    assert empty["position"]["positionAmt"] == "0"
    assert empty["as_of"] is None


def test_bad_moments_are_clear_errors(trading: Trading) -> None:
    with pytest.raises(TimeTravelError, match="timezone"):
        state_at(trading, datetime(2026, 1, 1))
    with pytest.raises(TimeTravelError, match=">= 0"):
        state_at(trading, -1)
