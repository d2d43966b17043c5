"""The web's handle on the database: a synchronous SQLAlchemy engine used from a threadpool.

A sync engine (not aiosqlite) on purpose: it shares the project's connection settings (WAL,
busy timeout) from alphaengine.store, the read-model column types, and works unchanged on
PostgreSQL by URL. Every query is short; `run` moves it off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from alphaengine.store import make_engine

P = ParamSpec("P")
R = TypeVar("R")


class DatabaseUnavailable(Exception):
    """The database could not be reached or answered with an error; shown as 503."""


class Database:
    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)

    def read(self, query: Callable[[Connection], R]) -> R:
        with self.engine.connect() as conn:
            return query(conn)

    async def read_async(self, query: Callable[[Connection], R]) -> R:
        return await run_in_threadpool(self.read, query)

    def close(self) -> None:
        self.engine.dispose()
