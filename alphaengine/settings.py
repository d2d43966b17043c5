"""Static settings: mode, keys per mode, the web's secrets, where the database lives.

Read from `config/secrets.yaml` (see `config/secrets.example.yaml`) and then environment variables
(ALPHAENGINE_*), which win. A missing or invalid value stops start-up with a message that names
the key and the file it was expected in.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alphaengine.store import sqlite_url

Mode = Literal["paper", "testnet", "production"]
MODES: tuple[str, ...] = ("paper", "testnet", "production")

# The simulator's documented paper-mode credentials (adapters/simulator/README.md).
PAPER_API_KEY_ENV = "ALPHAENGINE_PAPER_API_KEY"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRETS_FILE = REPO_ROOT / "config" / "secrets.yaml"
DEFAULT_DATA_DIR = REPO_ROOT / "data"


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the key and where it came from."""


class ApiKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: str = Field(min_length=1)
    api_secret: str = Field(min_length=1)


class BinanceSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paper: ApiKeys | None = None
    testnet: ApiKeys | None = None
    production: ApiKeys | None = None


class WebSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jwt_secret: str | None = Field(default=None, min_length=32)
    admin_password_hash: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    cors_origins: list[str] = []
    # Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For / -Proto headers
    # are believed; nginx's address when deployed behind it. None: the socket peer is the client.
    trusted_proxies: list[str] = []
    # Request bodies above this are refused (413) before they are read into memory.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Requests handled at once; beyond it the web answers 503 with Retry-After at once.
    max_in_flight: int = Field(default=256, ge=1, le=10_000)

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or network") from exc
        return value


class SecretsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Mode = "paper"
    binance: BinanceSection = BinanceSection()
    web: WebSection = WebSection()
    database_url: str | None = None

    @field_validator("database_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError("must be a URL such as postgresql+psycopg://user@host/db")
        return value


@dataclass(frozen=True)
class Settings:
    mode: str
    data_dir: Path
    secrets_file: Path
    api_key: str | None
    api_secret: str | None
    web: WebSection
    database_url: str

    @property
    def db_path(self) -> Path:
        return self.data_dir / f"alphaengine-{self.mode}.db"


def _read_secrets(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: the top level must be a mapping")
    return data


def _describe(error: ValidationError, path: Path) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        lines.append(f"{path}: {key}: {item['msg']}")
    return "\n".join(lines)


def load_settings(
    *,
    mode: str | None = None,
    data_dir: Path | str | None = None,
    secrets_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    env = os.environ if environ is None else environ
    path = Path(secrets_file or env.get("ALPHAENGINE_SECRETS_FILE") or DEFAULT_SECRETS_FILE)
    raw = _read_secrets(path)
    try:
        secrets = SecretsFile.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from exc

    chosen = mode or env.get("ALPHAENGINE_MODE") or secrets.mode
    if chosen not in MODES:
        source = (
            "--mode"
            if mode
            else ("ALPHAENGINE_MODE" if env.get("ALPHAENGINE_MODE") else f"{path}: mode")
        )
        raise SettingsError(f"{source}: must be one of {', '.join(MODES)}, not {chosen!r}")

    keys: ApiKeys | None = getattr(secrets.binance, chosen)
    api_key = env.get("ALPHAENGINE_BINANCE_API_KEY") or (keys.api_key if keys else None)
    api_secret = env.get("ALPHAENGINE_BINANCE_API_SECRET") or (keys.api_secret if keys else None)
    if chosen != "paper":
        for name, value in (("api_key", api_key), ("api_secret", api_secret)):
            if not value:
                raise SettingsError(
                    f"{path}: binance.{chosen}.{name} is required in {chosen} mode "
                    f"(or set ALPHAENGINE_BINANCE_{name.upper()})"
                )

    web = secrets.web
    overrides: dict[str, Any] = {}
    if env.get("ALPHAENGINE_JWT_SECRET"):
        overrides["jwt_secret"] = env["ALPHAENGINE_JWT_SECRET"]
    if env.get("ALPHAENGINE_ADMIN_PASSWORD_HASH"):
        overrides["admin_password_hash"] = env["ALPHAENGINE_ADMIN_PASSWORD_HASH"]
    if overrides:
        try:
            web = WebSection.model_validate({**web.model_dump(), **overrides})
        except ValidationError as exc:
            raise SettingsError(_describe(exc, Path("environment (ALPHAENGINE_*)"))) from exc
    if chosen == "production" and not web.admin_password_hash:
        raise SettingsError(f"{path}: web.admin_password_hash is required in production mode")

    directory = Path(data_dir or env.get("ALPHAENGINE_DATA_DIR") or DEFAULT_DATA_DIR)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"--data-dir {directory}: cannot create it: {exc}") from exc
    db_path = directory / f"alphaengine-{chosen}.db"
    url = env.get("ALPHAENGINE_DATABASE_URL") or secrets.database_url or sqlite_url(db_path)
    return Settings(
        mode=chosen,
        data_dir=directory,
        secrets_file=path,
        api_key=api_key,
        api_secret=api_secret,
        web=web,
        database_url=url,
    )


def check_secrets_permissions(settings: Settings) -> list[str]:
    """Warnings for a secrets file others may read; in production such a file is an error.

    The file holds exchange keys and the web's password hash: group or world access to it
    (read or write) hands the account to every other user of the machine.
    """
    path = settings.secrets_file
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return []
    except OSError as exc:
        return [f"{path}: cannot check its permissions: {exc}"]
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return []
    message = f"{path} is readable or writable by others (mode {mode:04o}): run `chmod 600 {path}`"
    if settings.mode == "production":
        raise SettingsError(f"{message}; production mode refuses to start with it")
    return [message]
