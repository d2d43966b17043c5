"""The state file on disk: where it lives, one simulator at a time, writes that never tear.

While a simulator uses a state file it holds an exclusive OS lock (``flock``) on
``<state file>.lock``, which also records its pid. The kernel drops the lock when the process ends
in any way, SIGKILL included, so a stale lock file never blocks anyone; the file itself stays.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

STATE_FILE_NAME = "paper-exchange.json"


class StateFileError(Exception):
    """The state file cannot be used; the message names the file and the reason."""


class StateInUseError(StateFileError):
    def __init__(self, state_file: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(f"{state_file} is in use by a running simulator ({holder})")
        self.pid = pid


def state_file_for(data_dir: str | os.PathLike[str]) -> Path:
    """The paper exchange's state file inside a data directory."""
    return Path(data_dir) / STATE_FILE_NAME


def lock_file_for(state_file: str | os.PathLike[str]) -> Path:
    path = Path(state_file)
    return path.with_name(path.name + ".lock")


def temp_file_for(state_file: str | os.PathLike[str]) -> Path:
    path = Path(state_file)
    return path.with_name(f".{path.name}.tmp")


class StateLock:
    """Exclusive use of a state file, for a simulator or for whoever deletes it."""

    def __init__(self, state_file: str | os.PathLike[str]) -> None:
        self.state_file = Path(state_file)
        self.path = lock_file_for(self.state_file)
        self._fd: int | None = None

    def acquire(self) -> StateLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateFileError(f"{self.path}: cannot open the lock file: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise StateInUseError(self.state_file, pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def read_state(path: Path) -> str | None:
    """The saved document, or None when there is no state file yet."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(f"{path}: cannot read the state file: {exc}") from exc


def write_state(path: Path, text: str) -> None:
    """Replace the file atomically: a reader (or a restart after SIGKILL) sees the old document
    or the new one, never a mix. Mode 0600: it holds the paper account."""
    temp = temp_file_for(path)
    data = text.encode("utf-8")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    # The rename itself lives in the directory: sync it too, so a power cut keeps it.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
