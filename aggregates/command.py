"""Commands: what a strategy, a person or the system asks the engine to do.

The id derives from the idempotency key, so the same decision or web request submitted twice is
one Command. The lifecycle is an explicit table; an illegal move is an error, never an overwrite.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from aggregates import ids
from aggregates.envelope import Envelope, Scope


class CommandKind(StrEnum):
    PLACE_ORDER = "PLACE_ORDER"
    CANCEL_ORDER = "CANCEL_ORDER"
    CANCEL_ALL = "CANCEL_ALL"
    CLOSE_POSITION = "CLOSE_POSITION"
    SET_LEVERAGE = "SET_LEVERAGE"
    TRANSFER_TO_FUTURES = "TRANSFER_TO_FUTURES"
    PAUSE_ENGINE = "PAUSE_ENGINE"
    RESUME_ENGINE = "RESUME_ENGINE"
    FLATTEN = "FLATTEN"


class ActorType(StrEnum):
    STRATEGY = "STRATEGY"
    USER = "USER"
    SYSTEM = "SYSTEM"


class CommandStatus(StrEnum):
    NEW = "NEW"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    DISPATCHED = "DISPATCHED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"
    RESOLVED = "RESOLVED"
    EXPIRED = "EXPIRED"


TRANSITIONS: dict[str, set[str]] = {
    "NEW": {"ACCEPTED", "REJECTED", "EXPIRED"},
    "ACCEPTED": {"DISPATCHED", "EXPIRED"},
    "DISPATCHED": {"SUCCEEDED", "FAILED", "UNKNOWN"},
    "UNKNOWN": {"RESOLVED"},
    "REJECTED": set(),
    "SUCCEEDED": set(),
    "FAILED": set(),
    "RESOLVED": set(),
    "EXPIRED": set(),
}
FINISHED = {"REJECTED", "SUCCEEDED", "FAILED", "RESOLVED", "EXPIRED"}


class IllegalCommandTransition(Exception):
    pass


class Command(Aggregate):
    @staticmethod
    def create_id(scope: Scope, idempotency_key: str) -> UUID:
        return ids.command_id(scope, idempotency_key)

    @event("Submitted")
    def __init__(
        self,
        *,
        scope: Scope,
        idempotency_key: str,
        kind: str,
        payload: dict[str, Any],
        actor_type: str,
        actor_id: str,
        priority: int,
        envelope: Envelope,
    ) -> None:
        self.scope = scope
        self.idempotency_key = idempotency_key
        self.kind = kind
        self.payload = payload
        self.actor_type = actor_type
        self.actor_id = actor_id
        self.priority = priority
        self.status = CommandStatus.NEW.value
        self.client_order_ids: list[str] = []
        self.result: dict[str, Any] = {}
        self.last_error: dict[str, Any] = {}
        self.reason = ""

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def _check(self, target: str) -> None:
        if target not in TRANSITIONS[self.status]:
            raise IllegalCommandTransition(f"{self.kind} {self.id}: {self.status} -> {target}")

    def accept(self, envelope: Envelope) -> None:
        self._check("ACCEPTED")
        self._accepted(envelope=envelope)

    @event("Accepted")
    def _accepted(self, envelope: Envelope) -> None:
        self.status = CommandStatus.ACCEPTED.value

    def reject(self, reason: str, envelope: Envelope) -> None:
        self._check("REJECTED")
        self._rejected(reason=reason, envelope=envelope)

    @event("Rejected")
    def _rejected(self, reason: str, envelope: Envelope) -> None:
        self.status = CommandStatus.REJECTED.value
        self.reason = reason

    def expire(self, reason: str, envelope: Envelope) -> None:
        """Too old to carry out: its decision was made on data the market has moved past.

        Only before the write-ahead intent: a dispatched Command's orders may have left and
        must be resolved, never forgotten.
        """
        self._check("EXPIRED")
        self._expired(reason=reason, envelope=envelope)

    @event("Expired")
    def _expired(self, reason: str, envelope: Envelope) -> None:
        self.status = CommandStatus.EXPIRED.value
        self.reason = reason

    def dispatch(self, client_order_ids: list[str], envelope: Envelope) -> None:
        """The write-ahead intent: recorded before any request leaves for the exchange."""
        self._check("DISPATCHED")
        self._dispatched(client_order_ids=client_order_ids, envelope=envelope)

    @event("Dispatched")
    def _dispatched(self, client_order_ids: list[str], envelope: Envelope) -> None:
        self.status = CommandStatus.DISPATCHED.value
        self.client_order_ids = list(client_order_ids)

    def succeed(self, result: dict[str, Any], envelope: Envelope) -> None:
        self._check("SUCCEEDED")
        self._succeeded(result=result, envelope=envelope)

    @event("Succeeded")
    def _succeeded(self, result: dict[str, Any], envelope: Envelope) -> None:
        self.status = CommandStatus.SUCCEEDED.value
        self.result = result

    def fail(self, error: dict[str, Any], envelope: Envelope) -> None:
        self._check("FAILED")
        self._failed(error=error, envelope=envelope)

    @event("Failed")
    def _failed(self, error: dict[str, Any], envelope: Envelope) -> None:
        self.status = CommandStatus.FAILED.value
        self.last_error = error

    def mark_unknown(self, error: dict[str, Any], envelope: Envelope) -> None:
        self._check("UNKNOWN")
        self._outcome_unknown(error=error, envelope=envelope)

    @event("OutcomeUnknown")
    def _outcome_unknown(self, error: dict[str, Any], envelope: Envelope) -> None:
        self.status = CommandStatus.UNKNOWN.value
        self.last_error = error

    def resolve(self, result: dict[str, Any], envelope: Envelope) -> None:
        self._check("RESOLVED")
        self._resolved(result=result, envelope=envelope)

    @event("Resolved")
    def _resolved(self, result: dict[str, Any], envelope: Envelope) -> None:
        self.status = CommandStatus.RESOLVED.value
        self.result = result

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "idempotency_key": self.idempotency_key,
            "kind": self.kind,
            "payload": self.payload,
            "actor_type": self.actor_type,
            "actor_id": self.actor_id,
            "priority": self.priority,
            "status": self.status,
            "client_order_ids": self.client_order_ids,
            "result": self.result,
            "last_error": self.last_error,
            "reason": self.reason,
        }
