"""A full disk under the database, for real: a small tmpfs holds the data dir and a filler file
takes its last byte. The bot stops with EX_TEMPFAIL (75) because nothing can be recorded; started
again while the disk is still full it waits instead of failing (a service manager's restart
limit is never spent on it); once space is freed it starts by itself, the reconciler records
what the exchange did meanwhile, and the engine's state equals the exchange's.

Mounting needs root; elsewhere the test skips and says so."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alphaengine.local_run import log_contains, log_size
from alphaengine.storage_full import EXIT_STORAGE_FULL
from tests.e2e.harness import (
    ACTIVE_STRATEGY,
    Simulator,
    start_simulator,
    stop_process,
    wait_until,
    wait_until_matches_exchange,
    write_runtime_config,
)

pytestmark = pytest.mark.slow

DISK_BYTES = 32 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    data.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the data dir needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(data)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    simulator = start_simulator(tmp_path)  # its files live beside, not on the small disk
    yield simulator
    simulator.stop()


def fill(disk: Path) -> Path:
    """Take the disk's last byte. Unbuffered: a buffered file would retry its unwritten rest
    on close and raise ENOSPC a second time, outside any handler."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = b"\0" * 65536
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                return filler
    finally:
        os.close(fd)


def launch(tmp: Path, sim: Simulator, config: Path, log: str) -> subprocess.Popen[bytes]:
    from alphaengine import local_run

    return local_run.start_bot(tmp, sim.url, config, log_name=log)


def test_a_full_disk_stops_the_bot_and_a_restart_waits_for_space(
    tmp_path: Path, small_disk: Path, sim: Simulator
) -> None:
    config = write_runtime_config(tmp_path, ACTIVE_STRATEGY, reconcile_interval=2)
    bot = launch(tmp_path, sim, config, "first.log")
    try:
        wait_until(lambda: log_contains(tmp_path, b"bot running", "first.log"), 60, "the bot")
        wait_until(lambda: len(sim.state()["trades"]) >= 2, 120, "trades before the disk fills")
        filler = fill(small_disk)
        code = bot.wait(timeout=60)
    finally:
        if bot.poll() is None:
            stop_process(bot, signal.SIGKILL)
    assert code == EXIT_STORAGE_FULL, (tmp_path / "first.log").read_text()[-3000:]
    assert log_contains(tmp_path, b"storage is full: stopping", "first.log")

    second = launch(tmp_path, sim, config, "second.log")
    try:
        wait_until(
            lambda: log_contains(tmp_path, b"waiting for space before starting", "second.log"),
            30,
            "the restarted bot to wait for space",
        )
        time.sleep(3)
        assert second.poll() is None, "the bot must wait, not fail again"
        assert not log_contains(tmp_path, b"bot running", "second.log")
        trades_while_full = len(sim.state()["trades"])

        filler.unlink()
        mark = log_size(tmp_path, "second.log")
        wait_until(
            lambda: log_contains(tmp_path, b"bot running", "second.log", since=mark),
            60,
            "the bot to start once space is free",
        )
        wait_until(
            lambda: len(sim.state()["trades"]) >= trades_while_full + 2, 120, "trading again"
        )
        sim.control("clock", {"action": "pause"})
        wait_until_matches_exchange(tmp_path, sim, 60)
    finally:
        code = stop_process(second, signal.SIGTERM)
    assert code == 0
