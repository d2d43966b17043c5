"""Counters for what the exchange did to us: requests, throttles, bans, unknowns, gaps."""

from __future__ import annotations

import structlog

log = structlog.get_logger(__name__)

# The names every part of the adapter counts under; listed so a dashboard can show zeros.
COUNTERS = (
    "requests",
    "rate_limited",  # HTTP 429
    "banned",  # HTTP 418
    "time_resyncs",  # -1021 → server-time offset re-read
    "unknown_outcomes",
    "rejections",
    "unavailable",
    "budget_waits",  # paused ourselves to stay under the weight or order budget
    "malformed_messages",
    "user_messages",
    "market_messages",
    "gaps",  # user stream
    "reconnects",  # user stream
    "market_gaps",
    "market_reconnects",
)


class Metrics(dict[str, int]):
    def __init__(self) -> None:
        super().__init__({name: 0 for name in COUNTERS})

    def inc(self, name: str, amount: int = 1) -> int:
        self[name] = self.get(name, 0) + amount
        return self[name]

    def log_snapshot(self) -> None:
        log.info("exchange metrics", **self)
