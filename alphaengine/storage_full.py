"""A full disk under the database: told apart from other database errors, because it is not a
bug and not transient in seconds. Nothing can be recorded, so nothing may trade (every order's
intent is written before it leaves); the bot stops, and a restart waits for space instead of
failing again, so a service manager's restart limit is never spent on it."""

from __future__ import annotations

import errno
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import structlog
from sqlalchemy.engine import make_url

from alphaengine.bootstrap import read_engine
from alphaengine.settings import Settings
from alphaengine.store import is_sqlite
from processes.health import HealthWriter

log = structlog.get_logger(__name__)

# Below this much free space beside a SQLite file, the next checkpoint or page may not fit.
MIN_FREE_BYTES = 8 * 1024 * 1024
# EX_TEMPFAIL: the bot stopped because the storage is full; a restart waits for space.
EXIT_STORAGE_FULL = 75
RETRY_SECONDS = 5.0
REPORT_EVERY = 6  # a log line every 30 s while waiting
# PostgreSQL's SQLSTATE for disk_full.
PG_DISK_FULL = "53100"


def is_storage_full(error: BaseException | None) -> bool:
    """Whether `error`, or anything in its chain, says the storage is full."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if getattr(error, "sqlstate", None) == PG_DISK_FULL:
            return True
        text = str(error).lower()
        if "database or disk is full" in text or "no space left on device" in text:
            return True
        error = error.__cause__ or error.__context__ or getattr(error, "orig", None)
    return False


def low_on_space(directory: Path, floor: int = MIN_FREE_BYTES) -> int | None:
    """The free bytes in `directory` when they are below `floor`, else None."""
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return None
    return free if free < floor else None


def wait_for_storage(
    settings: Settings,
    prepare: Callable[[], None],
    *,
    retry_seconds: float = RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run `prepare` (init-db) and prove the database takes a write, retrying while the storage
    is full. A stop signal ends the wait (start-up's signal handlers raise out of the sleep).
    Open positions keep their stops on the exchange meanwhile."""
    waits = 0
    while True:
        problem = _storage_problem(settings, prepare)
        if problem is None:
            if waits:
                log.info("the database's storage takes writes again: starting")
            return
        if waits % REPORT_EVERY == 0:
            log.error(
                "the database's storage is full: waiting for space before starting",
                problem=problem,
                retry_seconds=retry_seconds,
            )
        waits += 1
        sleep(retry_seconds)


def _storage_problem(settings: Settings, prepare: Callable[[], None]) -> str | None:
    url = settings.database_url
    if is_sqlite(url):
        directory = Path(make_url(url).database or ".").resolve().parent
        free = low_on_space(directory)
        if free is not None:
            return f"{free} bytes free in {directory}"
    try:
        prepare()
        engine = read_engine(settings)
        try:
            HealthWriter(engine).set("storage", "writable")
        finally:
            engine.dispose()
    except Exception as exc:
        if is_storage_full(exc):
            return str(exc)[:300]
        raise
    return None
