"""One thread for all event-store work in an asyncio process.

The eventsourcing library is synchronous; running its calls on a single dedicated thread keeps
the event loop free for the exchange's sockets and keeps writes from this process in order.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class StoreThread:
    def __init__(self, name: str = "event-store") -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking calls; with `wait`, until the call in progress ends (a busy database can
        hold one for its busy timeout, so a bounded stop does not wait)."""
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
