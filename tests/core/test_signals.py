"""Stopping works where the event loop has no signal handlers (Windows): a plain handler hands
the stop to the loop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alphaengine.system import EXIT_FAILED, STOP_DEADLINE, install_loop_signals

ROOT = Path(__file__).resolve().parents[2]


class LoopWithoutSignalHandlers(asyncio.SelectorEventLoop):
    def add_signal_handler(self, sig: int, callback: object, *args: object) -> None:
        raise NotImplementedError


@pytest.mark.skipif(sys.platform == "win32", reason="sends itself SIGINT")
def test_without_loop_signal_handlers_a_signal_still_sets_the_stop() -> None:
    loop = LoopWithoutSignalHandlers()
    previous = signal.getsignal(signal.SIGINT)
    try:
        stop = asyncio.Event()

        async def main() -> bool:
            install_loop_signals(asyncio.get_running_loop(), stop)
            os.kill(os.getpid(), signal.SIGINT)
            async with asyncio.timeout(5):
                await stop.wait()
            return stop.is_set()

        assert loop.run_until_complete(main())
    finally:
        STOP_DEADLINE.disarm()  # the request armed this process's stop deadline
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        loop.close()


def test_a_stop_that_hangs_is_ended_by_the_deadline_with_every_stack(tmp_path: Path) -> None:
    # A child process whose "stop" never finishes: the deadline ends it, non-zero, and says
    # where each thread was.
    script = tmp_path / "hang.py"
    script.write_text(
        "import faulthandler, time\n"
        "from alphaengine import system\n"
        "system.STOP_DEADLINE_SECONDS = 0.5\n"
        "faulthandler.enable()\n"
        "system.STOP_DEADLINE.arm('SIGTERM')\n"
        "def stuck_in_cleanup():\n"
        "    time.sleep(30)\n"
        "stuck_in_cleanup()\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, timeout=20, check=False
    )
    assert done.returncode == EXIT_FAILED
    assert time.monotonic() - started < 10
    err = done.stderr.decode()
    assert "did not finish in 0.5 s" in err and "stuck_in_cleanup" in err


def test_a_stop_asked_for_during_start_up_is_kept_if_its_raise_was_swallowed() -> None:
    loop = asyncio.new_event_loop()
    try:
        # What `_raise_stop` leaves behind when its exception dies in a GC callback.
        STOP_DEADLINE.requested = "SIGTERM"
        stop = asyncio.Event()

        async def main() -> bool:
            install_loop_signals(asyncio.get_running_loop(), stop)
            return stop.is_set()

        assert loop.run_until_complete(main())
    finally:
        STOP_DEADLINE.disarm()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        loop.close()
