"""The web's handle on the database: bounded pools, and at most one connection per request.

Each pool is paired with a capacity limiter of exactly its size, and every use of a pool goes
through that limiter: a thread holds a limiter token before it asks for a connection, so no
thread ever waits inside the pool. A thread that already holds a connection of a pool and asks
the same pool for another (a query helper opening its own connection while the request's is
checked out) is refused with `NestedConnection` at once: with more threads than connections
that pattern deadlocks the whole pool, so it is a bug to surface, never a wait.

Pools: `reads` (every GET), `writes` (the web's own rows: sign-in sessions, the runtime-config
table). The Trading application (Commands, config versions, time travel) has its own engine and
pool; the web calls it through its own limiter (web.context) and never while it holds a read
connection.

Why synchronous SQLAlchemy in worker threads and not aiosqlite: a request here is a handful of
short indexed SELECTs. One thread hop runs them all on one connection; aiosqlite hops to its
connection thread and back for every execute and fetch, which measured slower for this shape of
work. The sync engine also shares the project's connection settings (WAL, busy timeout) and
column types from alphaengine.store and projections.schema, and runs unchanged on PostgreSQL by
URL. The pool sizes are small on purpose: the work is bounded by the GIL and two cores, not by
the number of connections.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event

from alphaengine.store import BUSY_TIMEOUT_MS, configure_engine, is_sqlite

R = TypeVar("R")

READ_CONNECTIONS = 4
WRITE_CONNECTIONS = 2
# How long a request may queue for a connection before it is answered 503 (busy, retry).
QUEUE_WAIT_SECONDS = 5.0
# Only reached if a connection is used outside `Pool.run` (the limiter keeps threads out).
POOL_TIMEOUT_SECONDS = 10.0


class DatabaseUnavailable(Exception):
    """The database could not be reached or answered with an error; shown as 503."""


class DatabaseBusy(Exception):
    """Every connection stayed in use for QUEUE_WAIT_SECONDS; shown as 503 with Retry-After."""


class NestedConnection(RuntimeError):
    """A thread asked a pool for a second connection while it still held one."""


class _Holders:
    """Which threads hold a connection of one pool (checked out and not yet returned)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._local = threading.local()

    def checkout(self, *_: Any) -> None:
        if getattr(self._local, "held", 0):
            raise NestedConnection(
                f"a second {self.name} connection was requested while this thread holds one; "
                "pass the request's connection down instead"
            )
        self._local.held = 1

    def checkin(self, *_: Any) -> None:
        self._local.held = 0


def make_pool_engine(url: str, size: int, name: str) -> Engine:
    kwargs: dict[str, Any] = {
        "pool_size": size,
        "max_overflow": 0,
        "pool_timeout": POOL_TIMEOUT_SECONDS,
        "pool_pre_ping": not is_sqlite(url),
    }
    if is_sqlite(url):
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    engine = configure_engine(create_engine(url, **kwargs))
    holders = _Holders(name)
    event.listen(engine, "checkout", holders.checkout)
    event.listen(engine, "checkin", holders.checkin)
    return engine


class Pool:
    """An engine with `size` connections, used by at most `size` threads at once."""

    def __init__(self, url: str, size: int, name: str) -> None:
        self.name = name
        self.size = size
        self.engine = make_pool_engine(url, size, name)
        self._limiter = anyio.CapacityLimiter(size)
        # Threads for this pool's work: a token of `_limiter` is held before one is asked for,
        # so this never makes anyone wait.
        self._threads = anyio.CapacityLimiter(size)

    def read(self, query: Callable[[Connection], R]) -> R:
        with self.engine.connect() as conn:
            return query(conn)

    def write(self, change: Callable[[Connection], R]) -> R:
        with self.engine.begin() as conn:
            return change(conn)

    async def run(self, work: Callable[[], R]) -> R:
        """Run `work` (which uses one connection of this pool) in a worker thread."""
        try:
            with anyio.fail_after(QUEUE_WAIT_SECONDS):
                await self._limiter.acquire()
        except TimeoutError as exc:
            raise DatabaseBusy(f"all {self.size} {self.name} connections busy") from exc
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._threads)
        finally:
            self._limiter.release()

    def close(self) -> None:
        self.engine.dispose()


class Database:
    def __init__(
        self,
        url: str,
        *,
        read_connections: int = READ_CONNECTIONS,
        write_connections: int = WRITE_CONNECTIONS,
    ) -> None:
        self.reads = Pool(url, read_connections, "read")
        self.writes = Pool(url, write_connections, "write")

    @property
    def engine(self) -> Engine:
        """The read engine (tests seed rows through it)."""
        return self.reads.engine

    def read(self, query: Callable[[Connection], R]) -> R:
        return self.reads.read(query)

    async def read_async(self, query: Callable[[Connection], R]) -> R:
        return await self.reads.run(lambda: self.reads.read(query))

    async def write_async(self, change: Callable[[Connection], R]) -> R:
        return await self.writes.run(lambda: self.writes.write(change))

    def close(self) -> None:
        self.reads.close()
        self.writes.close()
