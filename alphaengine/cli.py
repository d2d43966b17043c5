"""`python -m alphaengine`: operator commands (init-db, replay, state, hash-password).

On SQLite, `state` and `replay` create the schema themselves when the mode's database file does
not exist yet (init-db is idempotent), so they work on a fresh data dir; on another database
(ALPHAENGINE_DATABASE_URL) a missing schema is an error that says to run init-db.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from eventsourcing.persistence import PersistenceError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from alphaengine.bootstrap import init_schema, open_trading
from alphaengine.runtime_config import ConfigError, load_config_file
from alphaengine.settings import Settings, SettingsError, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

ModeOption = Annotated[
    str | None, typer.Option("--mode", help="paper | testnet | production (default: paper)")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="where the database and generated files live")
]


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _settings(mode: str | None, data_dir: Path | None) -> Settings:
    try:
        return load_settings(mode=mode, data_dir=data_dir)
    except SettingsError as exc:
        _fail(str(exc))


def _ensure_schema(settings: Settings) -> None:
    # Creating the schema is idempotent; an operator tool on a fresh data dir just works.
    if settings.database_url.startswith("sqlite") and not settings.db_path.exists():
        init_schema(settings)


@contextmanager
def _database(settings: Settings) -> Iterator[None]:
    """Turn a database failure (unreadable file, no server, missing driver) into one line."""
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        yield
    except (SQLAlchemyError, PersistenceError, ModuleNotFoundError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "no such table" in first_line or "does not exist" in first_line:
            first_line += " (run `python -m alphaengine init-db` first)"
        _fail(f"database {where}: {first_line}")


@app.command("init-db")
def init_db(
    mode: ModeOption = None,
    data_dir: DataDirOption = None,
    runtime_config: Annotated[
        Path | None, typer.Option("--runtime-config", help="YAML that seeds the runtime config")
    ] = None,
) -> None:
    """Create the database schema (safe to run again)."""
    settings = _settings(mode, data_dir)
    try:
        seed = load_config_file(runtime_config) if runtime_config else None
    except ConfigError as exc:
        _fail(str(exc))
    with _database(settings):
        init_schema(settings, seed)
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    typer.echo(f"schema ready: {where}")


@app.command()
def replay(
    mode: ModeOption = None,
    data_dir: DataDirOption = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000)] = 500,
) -> None:
    """Drop every read model and rebuild it from the event store."""
    from projections.replay import rebuild

    settings = _settings(mode, data_dir)
    columns = (
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with _database(settings):
        _ensure_schema(settings)
        trading = open_trading(settings)
        total = int(trading.recorder.max_notification_id() or 0)
        with Progress(*columns, transient=False) as progress:
            task = progress.add_task("replay", total=total)
            count = rebuild(
                trading, batch_size=batch_size, progress=lambda n: progress.advance(task, n)
            )
        trading.close()
    typer.echo(f"rebuilt read models from {count} notifications")


def _parse_at(value: str | None) -> int | datetime | None:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--at {value!r}: give a notification id or a UTC time like 2026-01-01T12:00:00Z")
    if parsed.tzinfo is None:
        _fail(f"--at {value!r}: the time needs a timezone (add Z for UTC)")
    return parsed


@app.command()
def state(
    mode: ModeOption = None,
    data_dir: DataDirOption = None,
    at: Annotated[
        str | None, typer.Option("--at", help="UTC time (ISO 8601) or notification id")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Balances, position and open orders now, or as of --at (rebuilt from the event store)."""
    from projections.timetravel import TimeTravelError, state_at

    settings = _settings(mode, data_dir)
    moment = _parse_at(at)
    with _database(settings):
        _ensure_schema(settings)
        trading = open_trading(settings)
        try:
            snapshot = state_at(trading, moment)
        except TimeTravelError as exc:
            _fail(str(exc))
        finally:
            trading.close()
    if as_json:
        typer.echo(json.dumps(snapshot, indent=2))
        return
    position = snapshot["position"]
    typer.echo(f"as of notification {snapshot['notification_id']} ({snapshot['as_of']})")
    for row in snapshot["balances"]:
        typer.echo(f"  {row['asset']}: wallet {row['walletBalance']}")
    typer.echo(
        f"  position {position['symbol']}: {position['positionAmt']} @ {position['entryPrice']}"
    )
    for order in snapshot["open_orders"]:
        typer.echo(
            f"  open {order['type']} {order['side']} {order['origQty']} ({order['clientOrderId']})"
        )


@app.command("paper-reset")
def paper_reset(
    mode: ModeOption = None,
    data_dir: DataDirOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Start paper trading over: delete the paper exchange's state and the paper database.

    Refused while a simulator holds the state file or a bot or web has the database open.
    """
    import fcntl
    import os

    from adapters.simulator import StateFileError, StateLock, state_file_for
    from adapters.simulator.statefile import temp_file_for

    settings = _settings(mode, data_dir)
    if settings.mode != "paper":
        _fail(f"paper-reset works only in paper mode (this is {settings.mode})")
    if not settings.database_url.startswith("sqlite"):
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        _fail(f"paper-reset deletes the SQLite database file; {where} is not one")
    state = state_file_for(settings.data_dir)
    db = settings.db_path
    files = [state, temp_file_for(state), db, Path(f"{db}-wal"), Path(f"{db}-shm")]
    try:
        # Held while deleting, so no simulator starts on a half-reset data dir.
        lock = StateLock(state).acquire()
    except StateFileError as exc:
        _fail(f"{exc}; stop it (and the bot) first")
    try:
        shm = Path(f"{db}-shm")
        if shm.exists():
            # Every SQLite connection in WAL mode holds a shared lock on this byte of the
            # -shm file (SQLite's own "dead man switch"); an exclusive one fails while any
            # process has the database open.
            fd = os.open(shm, os.O_RDWR)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
            except OSError:
                _fail(f"{db} is open in another process (a bot or the web); stop it first")
            finally:
                os.close(fd)
        present = [f for f in files if f.exists()]
        if not present:
            typer.echo(f"nothing to reset in {settings.data_dir}")
            return
        listing = "\n".join(f"  {f}" for f in present)
        if not yes and not typer.confirm(
            f"Start paper trading over? This deletes:\n{listing}\n", default=False
        ):
            typer.echo("nothing deleted")
            raise typer.Exit(code=1)
        for f in present:
            f.unlink(missing_ok=True)
    finally:
        lock.release()
    typer.echo(f"paper exchange and database start over ({len(present)} files deleted)")


@app.command("hash-password")
def hash_password() -> None:
    """Print an argon2 hash of a password, for web.admin_password_hash in config/secrets.yaml."""
    from argon2 import PasswordHasher

    # Prompts go to stderr: stdout carries only the hash, ready to redirect or paste.
    password = typer.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < 8:
        _fail("use at least 8 characters")
    typer.echo(PasswordHasher().hash(password))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
