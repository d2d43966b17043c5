"""Telling a full disk apart from other database errors, and waiting for space at start-up."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError as LibraryOperationalError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from alphaengine.bootstrap import init_schema
from alphaengine.settings import load_settings
from alphaengine.storage_full import is_storage_full, wait_for_storage
from tests.storage_errors import full_sqlite_error


def test_a_full_database_is_recognised_through_the_layers_that_wrap_it() -> None:
    raw = full_sqlite_error()
    assert raw.sqlite_errorcode == sqlite3.SQLITE_FULL
    wrapped = SQLAlchemyOperationalError("INSERT", {}, raw)
    try:
        raise LibraryOperationalError(wrapped) from wrapped
    except LibraryOperationalError as outer:
        assert is_storage_full(outer)
    assert is_storage_full(OSError(errno.ENOSPC, "No space left on device"))


def test_other_database_errors_are_not_a_full_disk() -> None:
    locked = sqlite3.OperationalError("database is locked")
    assert not is_storage_full(SQLAlchemyOperationalError("INSERT", {}, locked))
    assert not is_storage_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_storage_full(None)


def test_start_up_retries_init_db_while_the_disk_is_full(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, secrets_file=tmp_path / "none.yaml", environ={})
    attempts: list[int] = []
    sleeps: list[float] = []

    def prepare() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise LibraryOperationalError(full_sqlite_error())
        init_schema(settings)

    wait_for_storage(settings, prepare, retry_seconds=5, sleep=sleeps.append)
    assert len(attempts) == 3 and sleeps == [5, 5]


def test_any_other_start_up_error_is_not_waited_on(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, secrets_file=tmp_path / "none.yaml", environ={})

    def prepare() -> None:
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError):
        wait_for_storage(settings, prepare, sleep=lambda _: None)
