"""At most a few log lines a second for one kind of repeated event (a flood of malformed frames
must not flood the log); every one is still counted."""

from __future__ import annotations

import time


class LogThrottle:
    def __init__(self, per_second: float = 1.0, burst: int = 5) -> None:
        self.rate = per_second
        self.burst = burst
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._suppressed = 0

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self._suppressed += 1
        return False

    def take_suppressed(self) -> int:
        count, self._suppressed = self._suppressed, 0
        return count
