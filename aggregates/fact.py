"""An index aggregate per exchange fact: its existence is the proof the fact was recorded.

Saved in the same transaction as the events the fact caused, with an id derived from the fact's
dedup key, so a second writer recording the same fact (WS and REST, or two processes) fails the
uniqueness check instead of counting it twice.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from aggregates import ids
from aggregates.envelope import Envelope, Scope


class Fact(Aggregate):
    @staticmethod
    def create_id(scope: Scope, dedup_key: str) -> UUID:
        return ids.fact_id(scope, dedup_key)

    @event("Recorded")
    def __init__(self, scope: Scope, dedup_key: str, envelope: Envelope) -> None:
        self.dedup_key = dedup_key
