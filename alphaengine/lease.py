"""One bot per database: an OS lock on a file beside the database, held for the bot's life.

The operating system releases the lock when the process ends, however it ends (SIGKILL
included), so a restart never waits for a lease to time out, and a second bot on the same data
dir and mode is refused at once with a message naming the holder. The web may run beside it;
`replay` refuses while the lock is held (the bot reads some read models while it trades).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any


class LeaseHeld(Exception):
    """Another process holds the bot lease of this data dir and mode."""


def lease_path(data_dir: Path, mode: str) -> Path:
    return data_dir / f"bot-{mode}.lock"


def _try_lock(handle: IO[str]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def describe_holder(path: Path) -> str:
    try:
        holder: dict[str, Any] = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    return (
        f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
        f"since {holder.get('since', '?')}"
    )


class BotLease:
    def __init__(self, data_dir: Path, mode: str) -> None:
        self.path = lease_path(data_dir, mode)
        self._handle: IO[str] | None = None
        self.holder = f"{os.getpid()}@{socket.gethostname()}"

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Not truncated before the lock is ours: the file names the current holder.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(fd, "r+")
        if not _try_lock(handle):
            handle.close()
            raise LeaseHeld(
                f"another bot already runs on {self.path.parent} ({self.path.name}): "
                f"{describe_holder(self.path)}; stop it first"
            )
        handle.seek(0)
        handle.truncate()
        json.dump(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(),
            },
            handle,
        )
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the descriptor releases the lock
            self._handle = None

    def __enter__(self) -> BotLease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lease_is_held(data_dir: Path, mode: str) -> str | None:
    """The holder's description while a bot holds the lease, else None (checks, holds nothing)."""
    path = lease_path(data_dir, mode)
    if not path.exists():
        return None
    with open(path) as handle:
        if _try_lock(handle):
            return None  # closing releases the probe's lock
    return describe_holder(path)
