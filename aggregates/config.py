"""The runtime configuration as an aggregate: every change of a limit or a parameter is an event.

Each event is a whole new version of the configuration document (version = aggregate version),
saying who made it; a rollback is a new version carrying an older body. Validation of the body
is the application's business (alphaengine.runtime_config): here it is a JSON document.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from aggregates import ids
from aggregates.envelope import Envelope, Scope


class VersionConflict(Exception):
    """The writer read another version than the one stored now: re-read and retry."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"config is at version {actual}, not {expected}: re-read and retry")
        self.expected = expected
        self.actual = actual


class RuntimeConfiguration(Aggregate):
    @staticmethod
    def create_id(scope: Scope) -> UUID:
        return ids.config_id(scope)

    @event("Created")
    def __init__(self, *, scope: Scope, body: dict[str, Any], by: str, envelope: Envelope) -> None:
        self.scope = scope
        self.body = body
        self.changed_by = by
        self.rolled_back_to: int | None = None

    def check_version(self, expected: int) -> None:
        if expected != self.version:
            raise VersionConflict(expected, self.version)

    def change(self, body: dict[str, Any], by: str, envelope: Envelope) -> bool:
        if body == self.body:
            return False
        self._changed(body=body, by=by, envelope=envelope)
        return True

    @event("Changed")
    def _changed(self, body: dict[str, Any], by: str, envelope: Envelope) -> None:
        self.body = body
        self.changed_by = by
        self.rolled_back_to = None

    def roll_back(self, to_version: int, body: dict[str, Any], by: str, envelope: Envelope) -> None:
        if not 1 <= to_version < self.version:
            raise ValueError(f"no version {to_version} to roll back to (now {self.version})")
        self._rolled_back(to_version=to_version, body=body, by=by, envelope=envelope)

    @event("RolledBack")
    def _rolled_back(
        self, to_version: int, body: dict[str, Any], by: str, envelope: Envelope
    ) -> None:
        self.body = body
        self.changed_by = by
        self.rolled_back_to = to_version
