"""Simulated time: the data clock of the exchange, running ``speed`` times faster than the wall.

A fresh clock starts at the current wall-clock minute; a restored one continues from the instant
saved in the state file, so simulated time never jumps back to the wall clock after a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SimClock:
    def __init__(
        self,
        speed: float,
        wall: Callable[[], float] = time.time,
        start_ms: int | None = None,
    ) -> None:
        self._wall = wall
        now = wall()
        self.start_ms = int(now // 60) * 60_000 if start_ms is None else start_ms
        self._anchor_wall = now
        self._anchor_sim = float(self.start_ms)
        self.speed = speed
        self.paused = False

    def now_ms(self) -> int:
        if self.paused:
            return int(self._anchor_sim)
        return int(self._anchor_sim + (self._wall() - self._anchor_wall) * 1000.0 * self.speed)

    def _reanchor(self) -> None:
        self._anchor_sim = float(self.now_ms())
        self._anchor_wall = self._wall()

    def pause(self) -> None:
        self._reanchor()
        self.paused = True

    def resume(self) -> None:
        self._anchor_wall = self._wall()
        self.paused = False

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._reanchor()
        self.speed = speed

    def advance(self, sim_ms: int) -> None:
        """Jump simulated time forward (used by step, which works paused or running)."""
        self._reanchor()
        self._anchor_sim += sim_ms

    def wall_seconds_until(self, sim_ms: int) -> float | None:
        """Wall time until the simulated instant, or None while paused (it never arrives)."""
        if self.paused:
            return None
        return max(0.0, (sim_ms - self.now_ms()) / (1000.0 * self.speed))
