"""Commands filed from the web, validated (aggregates.payloads) before they reach the log.

The web only files Commands (source WEB, actor USER); the bot's executor carries them out.
Payload keys are snake_case; Decimals travel as strings so no digit is lost.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from aggregates.command import ActorType, CommandKind
from aggregates.envelope import Source
from aggregates.payloads import BadPayload, parse_payload
from alphaengine.trading import Trading


class CommandRequest(BaseModel):
    """POST /api/commands body: the kind and its payload (checked against the kind's model)."""

    model_config = ConfigDict(extra="forbid")
    kind: CommandKind
    payload: dict[str, Any] = Field(default_factory=dict)


class PayloadInvalid(Exception):
    """The payload does not fit its kind; `errors` name each bad field under body.payload."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


def validated_payload(request: CommandRequest) -> dict[str, Any]:
    try:
        payload = parse_payload(request.kind, request.payload)
    except BadPayload as exc:
        raise PayloadInvalid(
            [{**e, "loc": ["body", "payload", *e["loc"]]} for e in exc.errors]
        ) from exc
    return payload.as_payload()


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was used before for a different request."""


def idempotency_key(username: str, header: str) -> str:
    # Namespaced per user so a web key can never collide with a strategy's decision key.
    return f"web:{username}:{header}"


def submit(
    trading: Trading, kind: CommandKind, payload: dict[str, Any], *, username: str, key: str
) -> tuple[UUID, bool, dict[str, Any]]:
    """File the Command; the same key again returns the same Command (new=False)."""
    command_id, new = trading.submit_command(
        kind=kind.value,
        payload=payload,
        actor_type=ActorType.USER.value,
        actor_id=username,
        idempotency_key=idempotency_key(username, key),
        source=Source.WEB,
    )
    command = trading.get_command(command_id).as_dict()
    if not new and (command["kind"] != kind.value or command["payload"] != payload):
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was already used for a different {command['kind']} command"
        )
    return command_id, new, command
