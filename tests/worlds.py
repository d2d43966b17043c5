"""Tearing down an in-process bot assembled by a test: tasks first, then connections and stores."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine

from adapters.binance.connection import BinanceConnection
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Trading


async def tear_down(
    tasks: Iterable[asyncio.Task[Any]],
    connection: BinanceConnection,
    store: StoreThread,
    trading: Trading,
    engine: Engine,
) -> None:
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=5)
    await connection.close()
    store.shutdown()
    trading.close()
    engine.dispose()
