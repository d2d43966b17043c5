"""How soon a stream reconnects after its session ended.

A session that lived long enough was healthy: the next one opens at once, so a routine
server-side close costs nothing. A session that could not open, or ended soon after it did
(a refused port while the exchange restarts, a server that accepts and closes), is a failure,
and failures back off exponentially up to a cap: without that, a loop whose open fails at
once spins the CPU and the log thousands of times a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable

HEALTHY_SESSION_SECONDS = 5.0
FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 2.0


class ReconnectPacing:
    def __init__(
        self,
        *,
        healthy_seconds: float = HEALTHY_SESSION_SECONDS,
        first_backoff: float = FIRST_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.healthy_seconds = healthy_seconds
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.clock = clock
        self.failures = 0
        self._opened_at: float | None = None

    def opened(self) -> None:
        """A session is open (call once it is usable)."""
        self._opened_at = self.clock()

    def ended(self) -> float:
        """The session ended (or never opened): seconds to wait before the next attempt."""
        opened_at, self._opened_at = self._opened_at, None
        if opened_at is not None and self.clock() - opened_at >= self.healthy_seconds:
            self.failures = 0
            return 0.0
        self.failures += 1
        return float(min(self.max_backoff, self.first_backoff * 2 ** (self.failures - 1)))
