"""Where events and read models live: one SQLite file per mode in WAL mode (PostgreSQL by URL).

Choices (bench/store.py measures them beside raw sqlite3):
- WAL, so the web process reads while the bot writes.
- busy_timeout 30 s: a writer in the other process waits instead of failing at once.
- synchronous=FULL (SQLite's default, kept on purpose): the executor's write-ahead intent must
  survive a power cut *before* the order leaves for the exchange, or a restart could not know the
  order exists. NORMAL is about 1.5x faster and safe against a process crash only; our event rate
  (a few per second) never needs the difference. Override with ALPHAENGINE_SQLITE_SYNCHRONOUS.
- The schema is created once by `init_schema` before any process starts; afterwards every
  application runs with CREATE_TABLE=false, because concurrent "create if missing" races.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

BUSY_TIMEOUT_MS = 30_000
AGGREGATE_CACHE_SIZE = 2000
SYNCHRONOUS = os.environ.get("ALPHAENGINE_SQLITE_SYNCHRONOUS", "FULL").upper()
if SYNCHRONOUS not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
    raise ValueError(
        f"ALPHAENGINE_SQLITE_SYNCHRONOUS must be OFF|NORMAL|FULL|EXTRA, not {SYNCHRONOUS!r}"
    )


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def configure_engine(engine: Engine) -> Engine:
    """Apply our connection settings to an engine (also one the eventsourcing datastore made)."""
    if engine.dialect.name == "sqlite" and not event.contains(
        engine, "connect", _set_sqlite_pragmas
    ):
        event.listen(engine, "connect", _set_sqlite_pragmas)
        # Connections opened before the listener existed would lack the pragmas.
        engine.dispose()
    return engine


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"pool_pre_ping": not is_sqlite(url)}
    if is_sqlite(url):
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    return configure_engine(create_engine(url, **kwargs))


def eventsourcing_env(url: str, *, create_table: bool) -> dict[str, str]:
    env = {
        "PERSISTENCE_MODULE": "alphaengine.event_recorder:Factory",
        "SQLALCHEMY_URL": url,
        "CREATE_TABLE": "y" if create_table else "n",
        "AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE_SIZE),
    }
    if is_sqlite(url):
        # The library forwards nothing else to the engine: the timeout rides on the URL.
        sep = "&" if "?" in url else "?"
        env["SQLALCHEMY_URL"] = f"{url}{sep}timeout={BUSY_TIMEOUT_MS // 1000}"
    return env
