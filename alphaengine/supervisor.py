"""The owner of every long-lived task of the bot, and the bound on how long a stop takes.

Each task is started here and named. A task that ends on its own — with an error, or by
returning, which a loop meant to run for ever must not do — is a failure: `wait` reports it and
the bot stops with a non-zero code, so a service manager restarts it. `shutdown` cancels every
task and waits up to a deadline, cancelling again while it waits: a cancel can be swallowed by
a library (asyncio.wait_for on Python 3.11 does), and a stop must not depend on every third
party behaving.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)

RECANCEL_SECONDS = 0.2


@dataclass(frozen=True)
class TaskFailure:
    name: str
    error: str
    exception: BaseException | None = None


class Supervisor:
    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[Any], str] = {}
        self._failures: asyncio.Queue[TaskFailure] = asyncio.Queue()
        self._stopping = False

    def start(self, name: str, coro: Coroutine[Any, Any, Any], *, finite: bool = False) -> None:
        """Run `coro` as a supervised task; `finite` ones (a start-up step) may return."""
        task = asyncio.create_task(coro, name=name)
        self._tasks[task] = name
        task.add_done_callback(lambda t: self._ended(t, finite))

    def _ended(self, task: asyncio.Task[Any], finite: bool) -> None:
        name = self._tasks.pop(task, task.get_name())
        if self._stopping or task.cancelled():
            return
        error = task.exception()
        if error is None and finite:
            return
        reason = repr(error) if error is not None else "returned, but should run until stopped"
        if error is not None:
            log.error("task failed", task=name, error=reason, exc_info=error)
        else:
            log.error("task ended unexpectedly", task=name)
        self._failures.put_nowait(TaskFailure(name, reason, error))

    @property
    def names(self) -> list[str]:
        return sorted(self._tasks.values())

    async def wait(self, stop: asyncio.Event) -> TaskFailure | None:
        """Until `stop` is set (None) or a task fails (that failure)."""
        stopped = asyncio.ensure_future(stop.wait())
        failed = asyncio.ensure_future(self._failures.get())
        try:
            await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (stopped, failed):
                waiter.cancel()
        if failed.done() and not failed.cancelled():
            return failed.result()
        return None

    async def shutdown(self, seconds: float) -> list[str]:
        """Cancel every task; return the names of those still running after `seconds`."""
        self._stopping = True
        deadline = time.monotonic() + seconds
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            done, pending = await asyncio.wait(pending, timeout=min(RECANCEL_SECONDS, remaining))
            for task in done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()
        stuck = sorted(self._tasks.get(t, t.get_name()) for t in pending)
        if stuck:
            log.error("tasks did not stop in time", tasks=stuck, seconds=seconds)
        return stuck

    async def stop(self, name: str, seconds: float) -> bool:
        """Cancel the task called `name` (one of several parts being restarted); True when gone."""
        tasks = [t for t, n in self._tasks.items() if n == name]
        for task in tasks:
            self._tasks.pop(task, None)  # ending now is no failure
            task.cancel()
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=seconds)
        return not pending
