"""A real uvicorn server on a free loopback port, in a thread, for tests that need real HTTP.

Configured as `python -m web` configures it (web.__main__.server_config): forwarded headers,
server header and all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from tests.web.processes import wait_until
from web.__main__ import server_config


@contextmanager
def serve(app: FastAPI, *, timeout: float = 10.0) -> Iterator[str]:
    settings = app.state.context.settings
    server = uvicorn.Server(server_config(app, settings, "127.0.0.1", 0))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    wait_until(
        lambda: server.started or not thread.is_alive(), timeout=timeout, what="uvicorn", step=0.02
    )
    if not server.started:
        raise RuntimeError("uvicorn did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
