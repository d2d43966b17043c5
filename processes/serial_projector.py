"""The projector behind a lock, so catch-ups can run off the store thread.

`Projector.catch_up` is safe from any thread but one caller at a time. The reconciler calls it
on the store thread; the executor calls it on a worker thread so a read-model batch never sits
in front of an order on the store thread (the tick-to-order path).
"""

from __future__ import annotations

import threading
from typing import Protocol


class CatchUp(Protocol):
    def catch_up(self, batch_size: int = 500) -> int: ...
    def lag(self) -> int: ...


class SerialProjector:
    def __init__(self, projector: CatchUp) -> None:
        self.projector = projector
        self._lock = threading.Lock()

    def catch_up(self, batch_size: int = 500) -> int:
        with self._lock:
            return self.projector.catch_up(batch_size)

    def lag(self) -> int:
        return self.projector.lag()
