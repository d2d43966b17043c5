"""`python -m alphaengine`: operator commands (init-db, replay, state, hash-password).

Only `init-db` creates the schema; the other commands check it and, when it is missing, say
to run init-db.
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

from alphaengine.bootstrap import SchemaMissing, check_schema, init_schema, open_trading
from alphaengine.lease import lease_is_held
from alphaengine.runtime_config import ConfigError, load_config_file
from alphaengine.settings import Settings, SettingsError, load_settings
from projections.replay import REBUILD_PAGE

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


def _require_schema(settings: Settings) -> None:
    try:
        check_schema(settings)
    except SchemaMissing as exc:
        _fail(str(exc))


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
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000)] = REBUILD_PAGE,
) -> None:
    """Drop every read model and rebuild it from the event store (not while a bot runs)."""
    from projections.replay import rebuild

    settings = _settings(mode, data_dir)
    holder = lease_is_held(settings.data_dir, settings.mode)
    if holder is not None:
        # The bot reads some read models while it trades (open orders): emptying them under it
        # would show it an account with no orders.
        _fail(f"a bot is running on this database ({holder}): stop it before a replay")
    columns = (
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with _database(settings):
        _require_schema(settings)
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
        _require_schema(settings)
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


@app.command()
def backup(
    to: Annotated[
        Path, typer.Option("--to", help="file to write (mode 0600; replaced atomically)")
    ],
    mode: ModeOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Copy the SQLite database while the bot runs: a consistent snapshot, checked, mode 0600."""
    import os
    import sqlite3

    # SQLite's online backup API copies every page inside one read transaction: the copy is the
    # database as of one commit while the bot keeps writing. A plain file copy of a WAL database
    # is no backup: it can miss or tear the latest transactions.

    settings = _settings(mode, data_dir)
    url = make_url(settings.database_url)
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() != "sqlite":
        _fail(
            f"backup copies a SQLite database; {where} is {url.get_backend_name()}: "
            "use pg_dump (e.g. pg_dump --format=custom --file=FILE DATABASE) instead"
        )
    source = Path(url.database or "")
    if not url.database or not source.is_file():
        _fail(f"no database at {source}: nothing to back up (check --mode and --data-dir)")
    target = to.absolute()
    if target.exists() and target.resolve() == source.resolve():
        _fail(f"--to {to}: that is the live database itself")
    if not target.parent.is_dir():
        _fail(f"--to {to}: the folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    # Created 0600 before any byte is written: the copy holds the whole trading history.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        live = sqlite3.connect(source, timeout=30)
        copy = sqlite3.connect(partial)
        try:
            live.backup(copy)  # all pages in one step: one read transaction, one consistent state
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside
            check = copy.execute("PRAGMA quick_check").fetchone()[0]
            last = copy.execute("SELECT max(id) FROM trading_events").fetchone()[0] or 0
        finally:
            copy.close()
            live.close()
        if check != "ok":
            raise sqlite3.DatabaseError(f"the copy failed its integrity check: {check}")
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a power cut
        finally:
            os.close(folder)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        _fail(f"backup of {source} failed: {exc}")
    size = target.stat().st_size
    typer.echo(f"backup written: {target} ({size} bytes, up to notification {last})")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
