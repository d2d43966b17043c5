"""The same store tests on SQLite and on PostgreSQL (the `backend` fixture, tests/core/conftest.py).

Changing the URL is the whole scale-out path, so the bodies below know nothing of the backend.
"""

from __future__ import annotations

from eventsourcing.persistence import Notification

from aggregates.envelope import Source
from alphaengine.trading import Trading
from projections.projector import Projector
from projections.replay import rebuild
from projections.timetravel import state_at
from tests.core.story import drive_history, fill
from tests.core.tables import snapshot


def test_the_log_orders_every_change_and_reads_back_in_order(backend: Trading) -> None:
    drive_history(backend)
    notifications = backend.recorder.select_notifications(1, 10_000)
    assert [n.id for n in notifications] == list(range(1, len(notifications) + 1))
    # Paging through the log sees the same notifications
    paged: list[Notification] = []
    start = 1
    while page := backend.recorder.select_notifications(start, 10):
        paged.extend(page)
        start = page[-1].id + 1
    assert [n.id for n in paged] == [n.id for n in notifications]


def test_recording_is_idempotent(backend: Trading) -> None:
    f = fill(1, "x-1", "SELL", "0.003", "61000")
    assert backend.record_fill(f, backend.envelope(Source.WEBSOCKET))
    assert not backend.record_fill(f, backend.envelope(Source.REST))
    assert backend.position().quantity == -f.quantity


def test_projection_replay_and_time_travel_agree(backend: Trading) -> None:
    projector = Projector.for_trading(backend)
    chapters: list[dict[str, object]] = []

    def checkpoint() -> None:
        projector.catch_up(batch_size=4)
        chapters.append(state_at(backend))

    drive_history(backend, checkpoint=checkpoint)
    live = snapshot(backend)

    assert rebuild(backend) == backend.recorder.max_notification_id()
    assert snapshot(backend) == live
    for chapter in chapters:
        assert state_at(backend, chapter["notification_id"]) == chapter  # type: ignore[arg-type]
