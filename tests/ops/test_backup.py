"""`python -m alphaengine backup`: an online, consistent copy taken while another process writes.

The copy, restored as a data dir of its own, must answer `state --json` exactly as the original
answers `state --json --at <the copy's last notification>`, and a replay on it must rebuild the
same read-model rows the original has for that stretch of the log.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from alphaengine.store import make_engine, sqlite_url
from projections.schema import rm_equity, rm_events, rm_fills

REPO = Path(__file__).resolve().parents[2]
DB_NAME = "alphaengine-paper.db"


def cli(tmp: Path, *args: str | Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAENGINE_")}
    env.update(ALPHAENGINE_SECRETS_FILE=str(tmp / "absent-secrets.yaml"), **extra_env)
    return subprocess.run(
        [sys.executable, "-m", "alphaengine", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def last_notification(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute("SELECT max(id) FROM trading_events").fetchone()[0] or 0)


def wait_for(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def log_rows(db: Path, upto: int) -> dict[str, list[dict[str, Any]]]:
    """Read-model rows keyed by notification id, up to `upto`: the log's own stretch."""
    engine = make_engine(sqlite_url(db))
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    dict(row._mapping)
                    for row in conn.execute(
                        select(table)
                        .where(table.c.notification_id <= upto)
                        .order_by(*table.primary_key.columns)
                    )
                ]
                for table in (rm_fills, rm_events, rm_equity)
            }
    finally:
        engine.dispose()


def test_a_backup_taken_while_writing_restores_to_the_state_at_its_last_notification(
    tmp_path: Path,
) -> None:
    original = tmp_path / "original"
    assert cli(tmp_path, "init-db", "--data-dir", original).returncode == 0
    live = original / DB_NAME
    stop = tmp_path / "stop-writing"
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.ops.backup_writer", sqlite_url(live), str(stop)],
        cwd=REPO,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: writer.poll() is None and last_notification(live) >= 100, "history")
        before = last_notification(live)
        backups = tmp_path / "backups"
        backups.mkdir()
        copy = backups / "copy.db"
        made = cli(tmp_path, "backup", "--data-dir", original, "--to", copy)
        after = last_notification(live)
        assert made.returncode == 0, made.stderr
    finally:
        stop.touch()
        _, errors = writer.communicate(timeout=60)
    assert writer.returncode == 0, errors

    copied = last_notification(copy)
    assert before <= copied <= after
    assert before < after, "the writer kept writing while the backup ran"
    assert f"up to notification {copied}" in made.stdout
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert not (backups / "copy.db-wal").exists()  # one self-contained file
    assert sorted(p.name for p in backups.iterdir()) == ["copy.db"]  # no partial left behind

    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copyfile(copy, restored / DB_NAME)
    now = cli(tmp_path, "state", "--json", "--data-dir", restored)
    then = cli(tmp_path, "state", "--json", "--at", str(copied), "--data-dir", original)
    assert now.returncode == 0 and then.returncode == 0, now.stderr + then.stderr
    restored_state, original_state = json.loads(now.stdout), json.loads(then.stdout)
    assert restored_state == original_state
    assert restored_state["notification_id"] == copied
    assert restored_state["balances"] and restored_state["position"]["positionAmt"] != "0"

    rebuilt = cli(tmp_path, "replay", "--data-dir", restored)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"rebuilt read models from {copied} notifications" in rebuilt.stdout
    assert cli(tmp_path, "replay", "--data-dir", original).returncode == 0
    restored_rows = log_rows(restored / DB_NAME, copied)
    assert restored_rows == log_rows(live, copied)
    assert restored_rows["rm_fills"] and restored_rows["rm_events"]
    assert log_rows(restored / DB_NAME, last_notification(live)) == restored_rows


def test_backup_refuses_postgresql_and_points_to_pg_dump(tmp_path: Path) -> None:
    url = "postgresql+psycopg://alphaengine@127.0.0.1:9/alphaengine"
    result = cli(
        tmp_path,
        "backup",
        "--data-dir",
        tmp_path,
        "--to",
        tmp_path / "x.db",
        ALPHAENGINE_DATABASE_URL=url,
    )
    assert result.returncode == 2
    assert "pg_dump" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_backup_refuses_to_overwrite_the_live_database_or_write_nowhere(tmp_path: Path) -> None:
    assert cli(tmp_path, "init-db", "--data-dir", tmp_path).returncode == 0
    itself = cli(tmp_path, "backup", "--data-dir", tmp_path, "--to", tmp_path / DB_NAME)
    assert itself.returncode == 2 and "live database itself" in itself.stderr
    nowhere = cli(tmp_path, "backup", "--data-dir", tmp_path, "--to", tmp_path / "no" / "x.db")
    assert nowhere.returncode == 2 and "does not exist" in nowhere.stderr
    missing = cli(tmp_path, "backup", "--data-dir", tmp_path / "empty", "--to", tmp_path / "y.db")
    assert missing.returncode == 2 and "nothing to back up" in missing.stderr
