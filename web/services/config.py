"""The latest runtime config as the web shows it: parsed when it loads, its error when not.

Read raw from the runtime_config table on the request's connection: a body that no longer loads
(or is not even a mapping) must not keep the dashboard, the candles or the web itself from
working; it is shown with its error, and the bot refuses to trade until it is fixed.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from alphaengine.runtime_config import ConfigError, RuntimeConfig, parse_config
from projections.schema import runtime_config


@dataclass(frozen=True)
class ShownConfig:
    version: int
    body: Any
    updated_at: datetime | None
    updated_by: str
    config: RuntimeConfig | None
    error: str | None

    @property
    def symbol(self) -> str:
        if self.config is not None:
            return self.config.trading.symbol
        return _named(self.body, "trading", "symbol") or RuntimeConfig().trading.symbol

    @property
    def interval(self) -> str:
        if self.config is not None:
            return self.config.strategy.timeframe
        return _named(self.body, "strategy", "timeframe") or RuntimeConfig().strategy.timeframe


def _named(body: Any, section: str, key: str) -> str | None:
    part = body.get(section) if isinstance(body, dict) else None
    value = part.get(key) if isinstance(part, dict) else None
    return value if isinstance(value, str) and value else None


# The last row parsed, by its content: validating a config (and finding its strategy module)
# costs far more than the read, and the dashboard needs the symbol on every request.
_last: tuple[tuple[Any, ...], ShownConfig] | None = None
_lock = threading.Lock()


def shown_config(conn: Connection) -> ShownConfig:
    global _last
    row = conn.execute(select(runtime_config)).first()
    if row is None:
        return ShownConfig(
            0, RuntimeConfig().model_dump(mode="json"), None, "", RuntimeConfig(), None
        )
    key = (row.version, row.updated_at, row.updated_by, json.dumps(row.body, sort_keys=True))
    with _lock:
        if _last is not None and _last[0] == key:
            return _last[1]
    version = int(row.version)
    try:
        config: RuntimeConfig | None = parse_config(
            row.body, origin=f"runtime config version {version}"
        )
        error = None
    except ConfigError as exc:
        config, error = None, str(exc)
    shown = ShownConfig(version, row.body, row.updated_at, str(row.updated_by or ""), config, error)
    with _lock:
        _last = (key, shown)
    return shown
