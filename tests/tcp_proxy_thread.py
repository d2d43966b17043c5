"""`TcpProxy` on a thread of its own, for tests whose client is another process."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from tests.tcp_proxy import TcpProxy


class ProxyThread:
    def __init__(self, proxy: TcpProxy, loop: asyncio.AbstractEventLoop) -> None:
        self.proxy = proxy
        self.loop = loop

    @classmethod
    def start(cls, work_dir: Path, target_port: int) -> ProxyThread:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        proxy = TcpProxy("127.0.0.1", target_port)

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(proxy.start())
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name="tcp-proxy", daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return cls(proxy, loop)

    @property
    def url(self) -> str:
        return self.proxy.url

    def freeze(self) -> None:
        self.loop.call_soon_threadsafe(self.proxy.freeze)

    def thaw(self) -> None:
        self.loop.call_soon_threadsafe(self.proxy.thaw)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
