"""Fault injection rules: what goes wrong, for which requests, and how often."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REQUEST_KINDS = frozenset(
    {"delay", "apply_then_timeout", "apply_then_503", "fail_503", "rate_limit", "clock_skew"}
)
STREAM_KINDS = frozenset({"stall_websockets", "duplicate_events", "shuffle_events"})
IMMEDIATE_KINDS = frozenset({"drop_websockets", "expire_listen_key", "raw_frames"})
KINDS = REQUEST_KINDS | STREAM_KINDS | IMMEDIATE_KINDS
RAW_FRAME_TARGETS = ("market", "user")


@dataclass
class FaultRule:
    """``count`` applies a rule N times, ``probability`` to a seeded share; neither: always."""

    kind: str
    method: str | None = None
    path: str | None = None
    count: int | None = None
    probability: float | None = None
    delay_seconds: float | None = None
    skew_ms: int = 0
    retry_after: int = 2
    ban_seconds: int = 120
    duration_seconds: float | None = None
    # raw_frames: which sockets ("market" or "user") and what to send them.
    target: str | None = None
    frames: list[Any] | None = None
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(KINDS)}")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0")
        if self.probability is not None and not 0 <= self.probability <= 1:
            raise ValueError("probability must be within [0, 1]")
        if self.kind == "raw_frames":
            if self.target not in RAW_FRAME_TARGETS:
                raise ValueError(f"raw_frames needs target 'market' or 'user', not {self.target!r}")
            if not isinstance(self.frames, list) or not self.frames:
                raise ValueError("raw_frames needs frames: a non-empty list of frames to send")

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FaultRule:
        match = body.get("match") or {}
        if not isinstance(match, Mapping):
            raise ValueError("match must be an object")
        known = {
            "count": int,
            "probability": float,
            "delay_seconds": float,
            "skew_ms": int,
            "retry_after": int,
            "ban_seconds": int,
            "duration_seconds": float,
        }
        extras: dict[str, Any] = {}
        for name, convert in known.items():
            if body.get(name) is not None:
                extras[name] = convert(body[name])
        kind = str(body.get("kind", ""))
        if kind == "raw_frames":
            extras["target"] = body.get("target")
            extras["frames"] = body.get("frames")
        return cls(
            kind=kind,
            method=match.get("method") or body.get("method"),
            path=match.get("path") or body.get("path"),
            **extras,
        )

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path or path.startswith(self.path)

    @property
    def expired(self) -> bool:
        if self.count is not None and self.count <= 0:
            return True
        return self.duration_seconds is not None and time.time() > (
            self.created_at + self.duration_seconds
        )

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "match": {"method": self.method, "path": self.path},
            "count": self.count,
            "probability": self.probability,
            "delay_seconds": self.delay_seconds,
            "skew_ms": self.skew_ms,
            "retry_after": self.retry_after,
            "ban_seconds": self.ban_seconds,
            "duration_seconds": self.duration_seconds,
        }
        if self.kind == "raw_frames":
            body |= {"target": self.target, "frames": self.frames}
        return body


class FaultBook:
    def __init__(self, seed: int) -> None:
        self.rules: list[FaultRule] = []
        self._rng = random.Random(f"{seed}:faults")

    def add(self, rule: FaultRule) -> None:
        rule.created_at = time.time()
        self.rules.append(rule)

    def clear(self) -> None:
        self.rules.clear()

    def _prune(self) -> None:
        self.rules = [r for r in self.rules if not r.expired]

    def take(self, kind: str, method: str = "", path: str = "") -> FaultRule | None:
        """The first live rule of ``kind`` for this request, consuming one use of it."""
        self._prune()
        for rule in self.rules:
            if rule.kind != kind or not rule.matches(method, path):
                continue
            if rule.probability is not None and self._rng.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
            return rule
        return None

    def peek(self, kind: str) -> FaultRule | None:
        """A live rule of ``kind`` without consuming it (state that lasts, like a stall)."""
        self._prune()
        return next((r for r in self.rules if r.kind == kind), None)

    def global_skew_ms(self) -> int:
        """Skew of unconditional clock_skew rules: the exchange clock itself is off."""
        self._prune()
        return sum(
            r.skew_ms
            for r in self.rules
            if r.kind == "clock_skew" and not r.method and not r.path and r.count is None
        )
