"""Stopping works where the event loop has no signal handlers (Windows): a plain handler hands
the stop to the loop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from alphaengine.system import install_loop_signals


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
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        loop.close()
