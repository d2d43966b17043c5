"""The bot as a service manager sees it: SIGTERM ends it within seconds whatever it is waiting
on, a task that dies ends it with a non-zero code after an alarm, a second bot on the same data
is refused, and a port already in use stops the launcher at once."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alphaengine.local_run import log_contains, log_size
from tests.e2e.harness import (
    QUIET_STRATEGY,
    ROOT,
    Simulator,
    bot_env,
    open_db,
    start_bot,
    start_simulator,
    stop_process,
    wait_until,
    write_runtime_config,
)
from tests.tcp_proxy_thread import ProxyThread

pytestmark = pytest.mark.slow

STOP_BOUND_SECONDS = 5.0


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    simulator = start_simulator(tmp_path)
    yield simulator
    simulator.stop()


def running_bot(tmp: Path, url: str, log_name: str = "bot.log") -> subprocess.Popen[bytes]:
    config = write_runtime_config(tmp, QUIET_STRATEGY, reconcile_interval=1)
    from alphaengine import local_run

    bot = local_run.start_bot(tmp, url, config, log_name=log_name)
    wait_until(lambda: log_contains(tmp, b"bot running", log_name), 60, "the bot to run")
    return bot


def timed_stop(bot: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> tuple[int, float]:
    started = time.monotonic()
    code = stop_process(bot, sig, timeout=30)
    return code, time.monotonic() - started


def last_stop_recorded(tmp: Path) -> dict[str, object]:
    trading = open_db(tmp)
    try:
        return dict(trading.engine().bot)
    finally:
        trading.close()


def test_sigterm_while_running_exits_0_in_time_and_records_the_stop(
    tmp_path: Path, sim: Simulator
) -> None:
    bot = running_bot(tmp_path, sim.url)
    code, took = timed_stop(bot)
    assert code == 0 and took < STOP_BOUND_SECONDS, (code, took)
    assert last_stop_recorded(tmp_path)["state"] == "STOPPED"
    assert b"Task was destroyed" not in (tmp_path / "bot.log").read_bytes()


def test_sigint_too(tmp_path: Path, sim: Simulator) -> None:
    bot = running_bot(tmp_path, sim.url)
    code, took = timed_stop(bot, signal.SIGINT)
    assert code == 0 and took < STOP_BOUND_SECONDS, (code, took)


def test_sigterm_with_every_socket_hung_and_a_rest_call_in_flight(
    tmp_path: Path, sim: Simulator
) -> None:
    # Everything between the bot and the exchange goes silent both ways: sockets, REST.
    proxy = ProxyThread.start(tmp_path, sim.port)
    try:
        bot = running_bot(tmp_path, proxy.url)
        proxy.freeze()
        sim.add_fault({"kind": "delay", "delay_seconds": 30})
        # Give the bot time to be waiting on the frozen sockets and a REST call
        time.sleep(2.0)
        code, took = timed_stop(bot)
        assert code == 0 and took < STOP_BOUND_SECONDS, (code, took)
    finally:
        proxy.stop()


def test_sigterm_while_the_database_is_locked_by_another_process(
    tmp_path: Path, sim: Simulator
) -> None:
    bot = running_bot(tmp_path, sim.url)
    db = sqlite3.connect(tmp_path / "data" / "alphaengine-paper.db", isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")  # holds the write lock: every writer of the bot waits
        time.sleep(1.0)
        code, took = timed_stop(bot)
        assert code == 0 and took < STOP_BOUND_SECONDS, (code, took)
    finally:
        db.execute("ROLLBACK")
        db.close()


def test_sigterm_during_start_up_while_the_exchange_is_down(tmp_path: Path) -> None:
    config = write_runtime_config(tmp_path, QUIET_STRATEGY)
    from alphaengine import local_run

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]  # nothing listens there
    bot = local_run.start_bot(tmp_path, f"http://127.0.0.1:{dead}", config)
    wait_until(lambda: log_contains(tmp_path, b"exchange not reachable"), 60, "a retry")
    code, took = timed_stop(bot)
    assert code == 0 and took < STOP_BOUND_SECONDS, (code, took)


def test_a_task_that_dies_raises_an_alarm_and_exits_non_zero(
    tmp_path: Path, sim: Simulator
) -> None:
    bot = running_bot(tmp_path, sim.url)
    # An internal error the bot cannot ride out: a table it writes every few seconds vanishes.
    db = sqlite3.connect(tmp_path / "data" / "alphaengine-paper.db")
    db.execute("DROP TABLE health")
    db.commit()
    db.close()
    assert bot.wait(timeout=30) == 1
    trading = open_db(tmp_path)
    try:
        engine = trading.engine()
        assert "task_failed" in engine.alarms, engine.alarms
        assert "no such table: health" in engine.alarms["task_failed"]["message"]
        assert engine.bot["state"] == "STOPPED" and engine.bot["exit_code"] == 1
    finally:
        trading.close()


def test_a_second_bot_on_the_same_database_is_refused_naming_the_holder(
    tmp_path: Path, sim: Simulator
) -> None:
    first = running_bot(tmp_path, sim.url)
    try:
        config = write_runtime_config(tmp_path, QUIET_STRATEGY)
        second = start_bot(tmp_path, sim, config)
        assert second.wait(timeout=60) == 2
        text = (tmp_path / "bot.log").read_bytes()
        assert b"another bot already runs" in text and f"pid {first.pid}".encode() in text
        # The first one is untouched
        mark = log_size(tmp_path)
        wait_until(lambda: log_contains(tmp_path, b"reconciled", since=mark), 30, "a reconcile")
        assert first.poll() is None
    finally:
        assert stop_process(first) == 0


def test_a_taken_web_port_stops_the_launcher_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "alphaengine.system",
                "--data-dir",
                str(tmp_path / "data"),
                "--web-port",
                str(port),
            ],
            cwd=ROOT,
            env=bot_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert f"port {port}" in done.stderr and "in use" in done.stderr
    assert not (tmp_path / "data" / "simulator.port").exists()  # nothing was started
