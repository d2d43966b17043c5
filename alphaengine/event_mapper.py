"""The library's mapper, with a page of stored events made into domain events in one loop.

`Mapper.to_domain_event` looks up, for every event, its class by topic, the conversion of its
originator id and its class version. A follower decodes pages of thousands of events of a few
dozen classes: `to_domain_events` looks each class up once and otherwise does what the
library does, in its order (decode, originator id and version, upcasting, then the object made
without `__init__`). Encrypted or compressed stores, and any event that fails to decode, go
through the library's own method, which also raises its own errors.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, find_id_convertor
from eventsourcing.utils import resolve_topic

# What making an event of a topic needs: its class, its originator id's conversion, its
# class version.
_EventClass = tuple[type[Any], Callable[[Any], Any], int]


class EventMapper(Mapper[UUID]):
    def to_domain_events(
        self, stored_events: Sequence[StoredEvent]
    ) -> list[DomainEventProtocol[UUID]]:
        if self.cipher or self.compressor:
            return [self.to_domain_event(stored) for stored in stored_events]
        known: dict[tuple[str, type], _EventClass] = {}
        decode = self.transcoder.decode
        events: list[DomainEventProtocol[UUID]] = []
        for stored in stored_events:
            originator_id = stored.originator_id
            key = (stored.topic, type(originator_id))
            event_class = known.get(key)
            if event_class is None:
                cls = resolve_topic(stored.topic)
                event_class = known[key] = (
                    cls,
                    find_id_convertor(cls, cast(Hashable, type(originator_id))),
                    getattr(cls, "class_version", 1),
                )
            cls, convert, class_version = event_class
            try:
                state: dict[str, Any] = decode(stored.state)
            except Exception:
                events.append(self.to_domain_event(stored))  # raises the library's error
                continue
            state["originator_id"] = convert(originator_id)
            state["originator_version"] = stored.originator_version
            from_version = state.pop("class_version", 1)
            while from_version < class_version:
                getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
                from_version += 1
            event = object.__new__(cls)
            object.__setattr__(event, "__dict__", state)
            events.append(event)
        return events
