"""Runtime configuration: what a person may change while the engine runs.

The truth is the `RuntimeConfiguration` aggregate in the Trading application (every version an
event, with who made it). The `runtime_config` table holds the latest version for cheap reads on
a connection a caller already holds (the web's requests, the bot's risk check); it is written
right after each change and re-synced from the events on every start (`sync_config_table`).
Changes use optimistic concurrency: a writer names the version it read, and loses if someone
else saved in between.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, Engine, insert, select, update

from aggregates.config import RuntimeConfiguration, VersionConflict
from aggregates.envelope import Source
from alphaengine.trading import Trading
from projections.schema import runtime_config
from strategies.loader import StrategyNotFound, check_strategy_name


class ConfigError(Exception):
    """Invalid runtime config; the message names the field (and the file, when there is one)."""

    def __init__(self, message: str, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TradingConfig(_Section):
    symbol: str = Field(default="BTCUSDT", pattern=r"^[A-Z0-9]{5,20}$")
    leverage: int = Field(default=5, ge=1, le=125)


class StrategyConfig(_Section):
    name: str = Field(default="sma_cross", min_length=1, max_length=100)
    timeframe: str = Field(default="1m", pattern=r"^(1|3|5|15|30)m$|^(1|2|4|6|8|12)h$|^1d$")
    params: dict[str, Any] = Field(
        default_factory=lambda: {
            "fast": 5,
            "slow": 20,
            "stop_pct": "0.004",
            "take_profit_pct": "0.008",
        }
    )

    @field_validator("name")
    @classmethod
    def _registered(cls, name: str) -> str:
        try:
            check_strategy_name(name)
        except StrategyNotFound as exc:
            raise ValueError(str(exc)) from exc
        return name


class RiskConfig(_Section):
    max_risk_per_trade: Decimal = Field(default=Decimal("0.01"), gt=0, le=Decimal("0.1"))
    daily_loss_limit: Decimal = Field(default=Decimal("0.05"), gt=0, le=1)
    max_leverage: int = Field(default=10, ge=1, le=125)
    max_position_notional: Decimal = Field(default=Decimal("50000"), gt=0)
    max_orders_per_minute: int = Field(default=30, ge=1, le=1200)


class EngineConfig(_Section):
    reconcile_interval: float = Field(default=30.0, ge=1, le=3600)
    stream_watchdog_seconds: float = Field(default=60.0, ge=1, le=3600)
    command_poll_interval: float = Field(default=0.02, gt=0, le=5)
    warmup_candles: int = Field(default=100, ge=1, le=1500)


class RuntimeConfig(_Section):
    trading: TradingConfig = Field(default_factory=TradingConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)


def parse_config(data: Any, *, origin: str = "runtime config") -> RuntimeConfig:
    try:
        return RuntimeConfig.model_validate(data)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        text = "; ".join(f"{origin}: {f['field']}: {f['message']}" for f in fields)
        raise ConfigError(text, fields) from exc


def load_config_file(path: Path) -> RuntimeConfig:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(data, origin=str(path))


@dataclass(frozen=True)
class StoredConfig:
    version: int
    body: dict[str, Any]
    updated_at: datetime | None
    updated_by: str

    def parsed(self) -> RuntimeConfig:
        """The config, or ConfigError naming the field when the stored body no longer loads."""
        return parse_config(self.body, origin=f"runtime config version {self.version}")


@dataclass(frozen=True)
class ConfigVersion:
    version: int
    at: datetime
    by: str
    change: str  # Created | Changed | RolledBack
    rolled_back_to: int | None
    body: dict[str, Any]


def stored_config(conn: Connection) -> StoredConfig:
    """The latest version, read on the caller's connection (defaults when nothing is stored)."""
    row = conn.execute(select(runtime_config)).first()
    if row is None:
        return StoredConfig(0, RuntimeConfig().model_dump(mode="json"), None, "")
    return StoredConfig(int(row.version), dict(row.body), row.updated_at, str(row.updated_by))


class ConfigStore:
    """Reads the latest config from the cache table; `get` parses it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def stored(self) -> StoredConfig:
        with self.engine.connect() as conn:
            return stored_config(conn)

    def get(self) -> tuple[int, RuntimeConfig]:
        stored = self.stored()
        return stored.version, stored.parsed()


def _write_table(engine: Engine, aggregate: RuntimeConfiguration) -> None:
    values = {
        "version": aggregate.version,
        "body": aggregate.body,
        "updated_at": aggregate.modified_on,
        "updated_by": aggregate.changed_by,
    }
    with engine.begin() as conn:
        # Write first (SQLite refuses to upgrade a read transaction); never move backwards.
        changed = conn.execute(
            update(runtime_config)
            .where(runtime_config.c.id == 1, runtime_config.c.version < aggregate.version)
            .values(**values)
        ).rowcount
        if not changed and conn.execute(select(runtime_config.c.id)).first() is None:
            conn.execute(insert(runtime_config).values(id=1, **values))


def sync_config_table(trading: Trading, engine: Engine) -> int:
    """Make the table show the aggregate's latest version; return it (0: none stored)."""
    aggregate = trading.runtime_configuration()
    if aggregate is None:
        return 0
    _write_table(engine, aggregate)
    return aggregate.version


def seed_config(
    trading: Trading, engine: Engine, config: RuntimeConfig, *, by: str = "init"
) -> int:
    """Store `config` as version 1 when no version exists; return the latest version.

    A database from before the config was event-sourced has only the table: its body becomes
    version 1 of the aggregate.
    """
    if trading.runtime_configuration() is None:
        legacy = ConfigStore(engine).stored()
        body, author = (legacy.body, legacy.updated_by) if legacy.version else (None, by)
        if body is None:
            body = config.model_dump(mode="json")
        # VersionConflict: another process seeded it in between, which is as good.
        with contextlib.suppress(VersionConflict):
            trading.change_runtime_config(
                body, expected_version=0, by=author, env=trading.envelope(Source.BOT)
            )
    return sync_config_table(trading, engine)


def save_config(
    trading: Trading,
    engine: Engine,
    config: RuntimeConfig,
    *,
    expected_version: int,
    by: str,
    source: Source = Source.WEB,
) -> int:
    version = trading.change_runtime_config(
        config.model_dump(mode="json"),
        expected_version=expected_version,
        by=by,
        env=trading.envelope(source),
    )
    sync_config_table(trading, engine)
    return version


def roll_back_config(
    trading: Trading,
    engine: Engine,
    to_version: int,
    *,
    expected_version: int,
    by: str,
    source: Source = Source.WEB,
) -> int:
    version = trading.roll_back_runtime_config(
        to_version, expected_version=expected_version, by=by, env=trading.envelope(source)
    )
    sync_config_table(trading, engine)
    return version


def config_history(trading: Trading) -> list[ConfigVersion]:
    """Every version, oldest first."""
    return [
        ConfigVersion(
            version=event.originator_version,
            at=event.timestamp,
            by=event.by,
            change=type(event).__name__,
            rolled_back_to=getattr(event, "to_version", None),
            body=event.body,
        )
        for event in trading.runtime_config_events()
    ]
