"""Time travel: the state at notification N is the state after replaying the first N events."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
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


def test_state_at_each_notification_equals_a_replay_of_the_log_up_to_it(
    trading: Trading, tmp_path: Path
) -> None:
    # Record the story, remembering the live state at every chapter's end
    live: list[dict[str, Any]] = []
    drive_history(trading, checkpoint=lambda: live.append(state_at(trading)))

    # Copy the log event by event into a fresh store; compare after each one
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

    # The states seen live are the states time travel finds again
    for seen in live:
        assert state_at(trading, seen["notification_id"]) == seen
    assert len({s["notification_id"] for s in live}) == len(live)


def test_state_at_a_time_picks_the_last_notification_at_or_before_it(trading: Trading) -> None:
    drive_history(trading)
    notifications = trading.recorder.select_notifications(1, 10_000)
    stamps = [trading.mapper.to_domain_event(n).timestamp for n in notifications]
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
