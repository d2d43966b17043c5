"""A page of the log made into domain events in one loop is what the library's mapper makes of
each event: the same classes and attributes, upcast the same way, and the library's error for
an event that does not decode."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic

from alphaengine.event_mapper import EventMapper
from alphaengine.trading import Trading
from tests.core.story import drive_history


class Parcel(Aggregate):
    class_version = 1

    @event("Weighed")
    def weigh(self, grams: int, unit: str = "g") -> None:
        self.grams = grams
        self.unit = unit


class _WeighedV2(Parcel.Weighed):  # type: ignore[name-defined,misc]
    """`Parcel.Weighed` as a later version of the code knows it: version 1 weighed in
    kilograms, whatever it said."""

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["unit"] = "kg"


def _attributes(events: list[Any]) -> list[tuple[type, dict[str, Any]]]:
    return [(type(e), vars(e)) for e in events]


def test_a_story_s_events_come_out_as_the_library_makes_them(trading: Trading) -> None:
    drive_history(trading)
    mapper = trading.mapper
    assert isinstance(mapper, EventMapper)
    notifications = trading.recorder.select_notifications(1, 100_000)

    one_by_one = [mapper.to_domain_event(n) for n in notifications]

    assert _attributes(mapper.to_domain_events(notifications)) == _attributes(one_by_one)


def test_an_older_version_of_an_event_is_upcast_as_the_library_upcasts_it(
    trading: Trading,
) -> None:
    parcel = Parcel()
    parcel.weigh(grams=5)
    stored = [trading.mapper.to_stored_event(e) for e in parcel.collect_events()]
    weighed = stored[1]
    later = StoredEvent(
        originator_id=weighed.originator_id,
        originator_version=weighed.originator_version,
        topic=get_topic(_WeighedV2),
        state=weighed.state,
    )
    mapper = trading.mapper
    assert isinstance(mapper, EventMapper)

    events = mapper.to_domain_events([*stored, later])

    assert _attributes(events) == _attributes([mapper.to_domain_event(s) for s in [*stored, later]])
    assert events[2].unit == "kg"  # type: ignore[attr-defined]


def test_an_event_that_does_not_decode_raises_the_library_s_error(trading: Trading) -> None:
    broken = StoredEvent(
        originator_id=uuid4(),
        originator_version=1,
        topic=get_topic(Parcel.Created),
        state=b'{"timestamp": {"_type_": "money", "_data_": "1"}}',
    )
    mapper = trading.mapper
    assert isinstance(mapper, EventMapper)
    with pytest.raises(MapperDeserialisationError, match="money"):
        mapper.to_domain_events([broken])


def test_a_compressed_store_goes_through_the_library_s_own_method(trading: Trading) -> None:
    drive_history(trading)
    plain = trading.mapper
    compressed = EventMapper(transcoder=plain.transcoder, compressor=ZlibCompressor())
    notifications = trading.recorder.select_notifications(1, 100_000)
    stored = [compressed.to_stored_event(plain.to_domain_event(n)) for n in notifications]

    assert _attributes(compressed.to_domain_events(stored)) == _attributes(
        [plain.to_domain_event(n) for n in notifications]
    )
