"""Runtime configuration: what a person may change while the engine runs.

Stored in the database as one versioned JSON document (the seed's config_store shape), changed
with optimistic concurrency: a writer names the version it read, and loses if someone else
saved in between.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, insert, select, update

from projections.schema import runtime_config


class ConfigError(Exception):
    """Invalid runtime config; the message names the field (and the file, when there is one)."""

    def __init__(self, message: str, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


class VersionConflict(Exception):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"config is at version {actual}, not {expected}: re-read and retry")
        self.expected = expected
        self.actual = actual


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TradingConfig(_Section):
    symbol: str = Field(default="BTCUSDT", pattern=r"^[A-Z0-9]{5,20}$")
    leverage: int = Field(default=5, ge=1, le=125)


class StrategyConfig(_Section):
    name: str = Field(default="sma_cross", min_length=1)
    timeframe: str = Field(default="1m", pattern=r"^(1|3|5|15|30)m$|^(1|2|4|6|8|12)h$|^1d$")
    params: dict[str, Any] = Field(
        default_factory=lambda: {
            "fast": 5,
            "slow": 20,
            "stop_pct": "0.004",
            "take_profit_pct": "0.008",
        }
    )


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


class ConfigStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self) -> tuple[int, RuntimeConfig]:
        with self.engine.connect() as conn:
            row = conn.execute(select(runtime_config.c.version, runtime_config.c.body)).first()
        if row is None:
            return 0, RuntimeConfig()
        return int(row.version), parse_config(row.body)

    def seed(self, config: RuntimeConfig, *, by: str = "system", replace: bool = False) -> int:
        """Store `config` if nothing is stored yet (or always, with replace); return the version."""
        version, _ = self.get()
        if version and not replace:
            return version
        return self.put(config, expected_version=version, by=by)

    def put(self, config: RuntimeConfig, *, expected_version: int, by: str) -> int:
        body = config.model_dump(mode="json")
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            # Write first, then check: a read-then-write transaction on SQLite would fail at
            # once if the other process committed in between.
            if expected_version == 0:
                exists = conn.execute(select(runtime_config.c.version)).first()
                if exists is not None:
                    raise VersionConflict(expected_version, int(exists.version))
                conn.execute(
                    insert(runtime_config).values(
                        id=1, version=1, body=body, updated_at=now, updated_by=by
                    )
                )
                return 1
            result = conn.execute(
                update(runtime_config)
                .where(runtime_config.c.id == 1, runtime_config.c.version == expected_version)
                .values(version=expected_version + 1, body=body, updated_at=now, updated_by=by)
            )
            if result.rowcount != 1:
                row = conn.execute(select(runtime_config.c.version)).first()
                raise VersionConflict(expected_version, int(row.version) if row else 0)
            return expected_version + 1
