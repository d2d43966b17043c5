"""Opening the database: the schema-init step, and the objects every process needs.

The schema is created in one place, `init_schema` (the `init-db` command, run by the system
launcher before it starts anything, or by a oneshot service unit). Every other process only
checks it with `check_schema`: concurrent "create if missing" from two processes races.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from aggregates.envelope import Scope
from alphaengine.runtime_config import ConfigStore, RuntimeConfig, seed_config
from alphaengine.settings import Settings
from alphaengine.store import make_engine
from alphaengine.trading import Trading
from projections.projector import Projector
from projections.schema import drop_replaced, ensure_indexes, metadata, projection_metadata
from projections.tracking import TRACKING_TABLE, ReadModelRecorder


def scope_for(settings: Settings, symbol: str) -> Scope:
    return Scope(symbol=symbol, mode=settings.mode)


class SchemaMissing(Exception):
    """The database has no (or an incomplete) schema; the message says what to run."""


def _init_db_command(settings: Settings) -> str:
    return f"python -m alphaengine init-db --mode {settings.mode} --data-dir {settings.data_dir}"


def required_tables() -> set[str]:
    return (
        set(metadata.tables)
        | set(projection_metadata.tables)
        | {"trading_events", "trading_snapshots", TRACKING_TABLE}
    )


def check_schema(settings: Settings) -> None:
    """Raise SchemaMissing, naming the command to run, unless every table exists."""
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    if settings.database_url.startswith("sqlite") and not settings.db_path.exists():
        raise SchemaMissing(
            f"no database at {settings.db_path}: run `{_init_db_command(settings)}` first"
        )
    engine = make_engine(settings.database_url)
    try:
        present = set(inspect(engine).get_table_names())
    except SQLAlchemyError as exc:
        raise SchemaMissing(f"cannot open the database {where}: {exc}") from exc
    finally:
        engine.dispose()
    missing = sorted(required_tables() - present)
    if missing:
        raise SchemaMissing(
            f"the database {where} lacks {', '.join(missing)}: "
            f"run `{_init_db_command(settings)}` first"
        )


def init_schema(settings: Settings, seed: RuntimeConfig | None = None) -> None:
    """Create every table once, before any process starts (run again: it changes nothing).

    Also stores `seed` as the first runtime-config version when none exists, and makes the
    SQLite file readable by its owner only (its WAL and shared-memory files inherit the mode).
    """
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    try:
        metadata.create_all(engine)
        projection_metadata.create_all(engine)
        with engine.begin() as conn:
            # What a rebuild that was killed may have left: old tables, indexes not made yet.
            drop_replaced(conn)
            ensure_indexes(conn)
        # The config's identity does not depend on the symbol (the config names it).
        trading = Trading(Scope(mode=settings.mode), settings.database_url, create_table=True)
        try:
            recorder = ReadModelRecorder.for_trading(trading, create_table=True)
            seed_config(trading, engine, seed or RuntimeConfig(), by="init")
            # Read models start current: a fresh database shows no projection lag.
            Projector(trading, recorder).catch_up()
        finally:
            trading.close()
    finally:
        engine.dispose()
    if settings.database_url.startswith("sqlite"):
        for path in (settings.db_path, *_sqlite_side_files(settings)):
            if path.exists():
                path.chmod(0o600)


def _sqlite_side_files(settings: Settings) -> list[Path]:
    return [settings.db_path.with_name(settings.db_path.name + s) for s in ("-wal", "-shm")]


def read_engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url)


def configured_symbol(settings: Settings) -> str:
    """The symbol of the latest stored config (read raw: an invalid config still names one)."""
    engine = read_engine(settings)
    try:
        body = ConfigStore(engine).stored().body
    finally:
        engine.dispose()
    trading = body.get("trading") if isinstance(body, dict) else None
    symbol = trading.get("symbol") if isinstance(trading, dict) else None
    return symbol if isinstance(symbol, str) and symbol else Scope().symbol


def open_trading(
    settings: Settings, symbol: str | None = None, *, sole_writer: bool = False
) -> Trading:
    scope = scope_for(settings, symbol or configured_symbol(settings))
    return Trading(scope, settings.database_url, sole_writer=sole_writer)
