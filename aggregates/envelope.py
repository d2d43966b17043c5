"""The envelope every event carries: where a fact came from and what caused it.

The event envelope (correlation, causation, command, source, dedup key, scope) is one
frozen value on every event, so an audit of any change can follow it back to the exchange message
or the person's click that caused it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import Transcoding


class Source(StrEnum):
    WEBSOCKET = "WEBSOCKET"
    REST = "REST"
    RECONCILER = "RECONCILER"
    BOT = "BOT"
    WEB = "WEB"


@dataclass(frozen=True)
class Scope:
    """Which account and instrument a fact belongs to; part of every aggregate's identity."""

    exchange: str = "binance"
    venue: str = "usdm"
    account: str = "main"
    symbol: str = "BTCUSDT"
    mode: str = "paper"

    @property
    def key(self) -> str:
        return f"{self.exchange}/{self.venue}/{self.account}/{self.mode}"

    @property
    def symbol_key(self) -> str:
        return f"{self.key}/{self.symbol}"


@dataclass(frozen=True)
class Envelope:
    source: str
    scope: Scope
    correlation_id: UUID = field(default_factory=uuid4)
    causation_id: UUID | None = None
    command_id: UUID | None = None
    dedup_key: str | None = None
    # The exchange's clock when the event was recorded (the bot knows it; the web does not).
    # What a person sees as the time of an event; the event's own timestamp is the recorder's.
    exchange_time: datetime | None = None

    def caused_by(self, causation_id: UUID) -> Envelope:
        return replace(self, causation_id=causation_id)

    def with_dedup_key(self, dedup_key: str) -> Envelope:
        return replace(self, dedup_key=dedup_key)


def envelope(
    source: Source | str,
    scope: Scope,
    *,
    command_id: UUID | None = None,
    correlation_id: UUID | None = None,
    causation_id: UUID | None = None,
    dedup_key: str | None = None,
    exchange_time: datetime | None = None,
) -> Envelope:
    return Envelope(
        source=str(source),
        scope=scope,
        correlation_id=correlation_id or command_id or uuid4(),
        causation_id=causation_id,
        command_id=command_id,
        dedup_key=dedup_key,
        exchange_time=exchange_time,
    )


class ScopeAsDict(Transcoding):
    type = Scope
    name = "scope"

    def encode(self, obj: Any) -> dict[str, str]:
        assert isinstance(obj, Scope)
        return {
            "exchange": obj.exchange,
            "venue": obj.venue,
            "account": obj.account,
            "symbol": obj.symbol,
            "mode": obj.mode,
        }

    def decode(self, data: Any) -> Scope:
        return Scope(**data)


class EnvelopeAsDict(Transcoding):
    type = Envelope
    name = "envelope"

    def encode(self, obj: Any) -> dict[str, Any]:
        assert isinstance(obj, Envelope)
        encoded = {
            "source": obj.source,
            "scope": obj.scope,
            "correlation_id": obj.correlation_id,
            "causation_id": obj.causation_id,
            "command_id": obj.command_id,
            "dedup_key": obj.dedup_key,
        }
        if obj.exchange_time is not None:
            # Only when known: envelopes stored before it existed decode unchanged.
            encoded["exchange_time"] = obj.exchange_time
        return encoded

    def decode(self, data: Any) -> Envelope:
        return Envelope(**data)
