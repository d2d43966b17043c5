"""The event store's Core recorders against the library's own, on SQLite and on PostgreSQL.

The oracle is eventsourcing-sqlalchemy's recorder on the same tables: whatever one side writes,
the other reads back the same, for every shape of query the recorder interface allows.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyAggregateRecorder,
    SQLAlchemyApplicationRecorder,
)

from aggregates import ids
from alphaengine.event_recorder import EventRecorder, SnapshotRecorder
from alphaengine.trading import Trading
from tests.core.story import drive_history


@pytest.fixture
def trading(backend: Trading) -> Trading:
    return backend


def _library(trading: Trading) -> SQLAlchemyApplicationRecorder:
    ours = trading.recorder
    assert isinstance(ours, EventRecorder)
    return SQLAlchemyApplicationRecorder(ours.datastore, events_table_name=ours.events_table_name)


def _library_snapshots(trading: Trading) -> SQLAlchemyAggregateRecorder:
    assert trading.snapshots is not None
    ours = trading.snapshots.recorder
    assert isinstance(ours, SnapshotRecorder)
    return SQLAlchemyAggregateRecorder(
        ours.datastore, events_table_name=ours.events_table_name, for_snapshots=True
    )


def _events(originator: object, versions: range, topic: str = "t.Event") -> list[StoredEvent]:
    return [
        StoredEvent(
            originator_id=originator,  # type: ignore[arg-type]
            originator_version=v,
            topic=topic,
            state=f'{{"v": {v}}}'.encode(),
        )
        for v in versions
    ]


def test_what_the_application_records_reads_back_the_same_through_the_library(
    trading: Trading,
) -> None:
    drive_history(trading)
    ours, library = trading.recorder, _library(trading)
    everything = library.select_notifications(1, 100_000)
    assert len(everything) > 50
    assert ours.select_notifications(1, 100_000) == everything
    assert ours.max_notification_id() == library.max_notification_id() == everything[-1].id
    middle = everything[len(everything) // 2].id
    for start, size, stop, inclusive in [
        (middle, 7, None, True),
        (middle, 7, None, False),
        (1, 1000, middle, True),
        (None, 5, None, True),
    ]:
        assert ours.select_notifications(
            start, size, stop, inclusive_of_start=inclusive
        ) == library.select_notifications(start, size, stop, inclusive_of_start=inclusive)
    topics = sorted({n.topic for n in everything})[:2]
    picked = ours.select_notifications(1, 100_000, topics=topics)
    assert picked == library.select_notifications(1, 100_000, topics=topics)
    assert picked and {n.topic for n in picked} <= set(topics)

    originators = {n.originator_id for n in everything}
    for originator in originators:
        assert ours.select_events(originator) == library.select_events(originator)
    position = ids.position_id(trading.scope)
    top = len(library.select_events(position))
    assert top > 4
    shapes: list[tuple[int | None, int | None, bool, int | None]] = [
        (1, None, False, None),
        (None, top - 1, False, None),
        (1, top - 1, True, None),
        (None, None, True, 1),
        (2, None, False, 2),
    ]
    for gt, lte, desc, limit in shapes:
        assert ours.select_events(
            position, gt=gt, lte=lte, desc=desc, limit=limit
        ) == library.select_events(position, gt=gt, lte=lte, desc=desc, limit=limit)
    assert ours.select_events(uuid4()) == []


def test_what_the_library_writes_reads_back_the_same_through_ours(trading: Trading) -> None:
    originator = uuid4()
    library = _library(trading)
    library.insert_events(_events(originator, range(1, 4)))
    assert trading.recorder.select_events(originator) == library.select_events(originator)
    assert [e.originator_version for e in trading.recorder.select_events(originator)] == [1, 2, 3]


def test_a_save_returns_its_notification_ids_and_a_conflict_records_nothing(
    trading: Trading,
) -> None:
    originator = uuid4()
    recorder = trading.recorder
    first = recorder.insert_events(_events(originator, range(1, 4)))
    assert first is not None and len(first) == 3
    stored = recorder.select_notifications(first[0], 10)
    assert [n.id for n in stored] == list(first)
    assert [n.originator_version for n in stored] == [1, 2, 3]
    single = recorder.insert_events(_events(uuid4(), range(1, 2)))
    assert single is not None and list(single) == [first[-1] + 1]

    # Version 3 exists: the whole save is refused, version 4 included.
    with pytest.raises(IntegrityError):
        recorder.insert_events(_events(originator, range(3, 5)))
    assert [e.originator_version for e in recorder.select_events(originator)] == [1, 2, 3]
    assert recorder.max_notification_id() == first[-1] + 1


def test_snapshots_are_shared_with_the_library(trading: Trading) -> None:
    drive_history(trading)
    position = ids.position_id(trading.scope)
    held = trading.position(readonly=True)
    trading.take_snapshot(position)
    assert trading.snapshots is not None
    ours, library = trading.snapshots.recorder, _library_snapshots(trading)
    taken = library.select_events(position, desc=True, limit=1)
    assert taken and ours.select_events(position, desc=True, limit=1) == taken

    other = uuid4()
    library.insert_events(_events(other, range(5, 6), topic="t.Snapshot"))
    ours.insert_events(_events(other, range(9, 10), topic="t.Snapshot"))
    assert ours.select_events(other) == library.select_events(other)
    assert [e.originator_version for e in ours.select_events(other, lte=8)] == [5]
    # The snapshot, as read back, is the aggregate its events gave.
    snapshot: Any = trading.mapper.to_domain_event(taken[0])
    restored = snapshot.mutate(None)
    assert (restored.version, restored.quantity, restored.entry_price) == (
        held.version,
        held.quantity,
        held.entry_price,
    )


def test_a_read_inside_a_callers_transaction_sees_its_uncommitted_writes(trading: Trading) -> None:
    originator = uuid4()
    recorder = trading.recorder
    assert isinstance(recorder, EventRecorder)
    with pytest.raises(RuntimeError), recorder.transaction(commit=True):
        recorder.insert_events(_events(originator, range(1, 3)))
        assert [e.originator_version for e in recorder.select_events(originator)] == [1, 2]
        raise RuntimeError("roll back")
    assert recorder.select_events(originator) == []
