"""The exchange's clock as the engine knows it, for judging how old a decision's data is.

Market events carry the exchange's own time; between them the clock runs at the local rate from
the last one. Before any, the REST-synchronised server time. An observation far ahead of what
the clock expects is not believed from the stream (one forged frame must not move time forward
for good): the caller re-reads the time from REST instead, which always wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta


class ExchangeClock:
    def __init__(self, fallback: Callable[[], datetime], *, max_jump: timedelta) -> None:
        self._fallback = fallback
        self.max_jump = max_jump
        self._anchor: datetime | None = None
        self._anchor_local = 0.0

    def now(self) -> datetime:
        if self._anchor is None:
            return self._fallback()
        return self._anchor + timedelta(seconds=time.monotonic() - self._anchor_local)

    def observe(self, exchange_time: datetime) -> bool:
        """A time the exchange stamped on a stream event; False when it is not believable."""
        if self._anchor is not None and exchange_time > self.now() + self.max_jump:
            return False
        self._set(exchange_time)
        return True

    def synchronise(self, exchange_time: datetime) -> None:
        """A time read from REST (the truth; possibly a lower bound): moves the clock forward,
        and back only when the clock is more than `max_jump` ahead of it."""
        if (
            self._anchor is None
            or exchange_time > self.now()
            or (self.now() - exchange_time > self.max_jump)
        ):
            self._anchor = exchange_time
            self._anchor_local = time.monotonic()

    def _set(self, exchange_time: datetime) -> None:
        if self._anchor is None or exchange_time > self.now():
            self._anchor = exchange_time
            self._anchor_local = time.monotonic()
