"""A real "database or disk is full" error, as SQLite raises it, for the tests that need one."""

from __future__ import annotations

import sqlite3


def full_sqlite_error() -> sqlite3.OperationalError:
    # The error SQLite really raises when a write does not fit (max_page_count is the limit).
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.execute("PRAGMA max_page_count = 2")
    try:
        conn.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.OperationalError as exc:
        return exc
    raise AssertionError("the insert should not fit")
