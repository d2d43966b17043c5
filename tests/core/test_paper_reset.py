"""`python -m alphaengine paper-reset`: the paper exchange and the paper database start over.

Run as real processes: the command, a real simulator holding its state file, a real SQLite
connection holding the database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.simulator import STATE_FILE_NAME, lock_file_for, state_file_for
from tests.simulator.process import start_simulator

REPO = Path(__file__).resolve().parents[2]


def _run(
    tmp: Path, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAENGINE_")}
    env["ALPHAENGINE_SECRETS_FILE"] = str(tmp / "absent-secrets.yaml")
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "alphaengine", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def reset(
    tmp: Path, data_dir: Path, *extra: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return _run(tmp, "paper-reset", "--data-dir", str(data_dir), *extra, stdin=stdin)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A paper data dir with a real database and a real exchange state file."""
    tmp = tmp_path_factory.mktemp("template")
    directory = tmp / "data"
    done = _run(tmp, "init-db", "--data-dir", str(directory))
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import asyncio, sys\n"
            "from adapters.simulator import SimulatorConfig, SimulatorServer\n"
            "async def main():\n"
            "    server = SimulatorServer(SimulatorConfig(state_file=sys.argv[1]))\n"
            "    await server.start()\n"
            "    await server.stop()\n"
            "asyncio.run(main())\n",
            str(state_file_for(directory)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return directory


@pytest.fixture
def data_dir(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "data"))


def paper_files(directory: Path) -> list[str]:
    names = (p.name for p in directory.iterdir())
    return sorted(n for n in names if n.startswith(("alphaengine", "paper")))


def test_the_state_file_name_is_fixed(tmp_path: Path) -> None:
    assert STATE_FILE_NAME == "paper-exchange.json"
    assert state_file_for(tmp_path) == tmp_path / "paper-exchange.json"


def test_nothing_is_deleted_without_confirmation(tmp_path: Path, data_dir: Path) -> None:
    before = paper_files(data_dir)
    assert {"alphaengine-paper.db", "paper-exchange.json"} <= set(before)

    declined = reset(tmp_path, data_dir, stdin="n\n")
    assert declined.returncode != 0
    assert "paper-exchange.json" in declined.stdout and "alphaengine-paper.db" in declined.stdout
    no_answer = reset(tmp_path, data_dir)
    assert no_answer.returncode != 0

    assert paper_files(data_dir) == before


@pytest.mark.parametrize(("flags", "stdin"), [(["--yes"], ""), ([], "y\n")])
def test_the_exchange_and_the_database_start_over(
    tmp_path: Path, data_dir: Path, flags: list[str], stdin: str
) -> None:
    # A WAL pair left behind by a bot that stopped
    (data_dir / "alphaengine-paper.db-wal").write_bytes(b"")
    (data_dir / "alphaengine-paper.db-shm").write_bytes(b"")
    done = reset(tmp_path, data_dir, *flags, stdin=stdin)
    assert done.returncode == 0, done.stderr

    # Only the lock file stays (it holds no state)
    assert paper_files(data_dir) == ["paper-exchange.json.lock"]
    # The next start creates a fresh database
    assert _run(tmp_path, "init-db", "--data-dir", str(data_dir)).returncode == 0
    assert (data_dir / "alphaengine-paper.db").exists()


async def test_refused_while_a_simulator_holds_the_state(tmp_path: Path, data_dir: Path) -> None:
    state = state_file_for(data_dir)
    sim = await start_simulator(tmp_path, "--state-file", str(state))
    try:
        refused = reset(tmp_path, data_dir, "--yes")
        assert refused.returncode == 2
        assert "running simulator" in refused.stderr
        assert f"pid {sim.process.pid}" in refused.stderr
        assert state.exists() and (data_dir / "alphaengine-paper.db").exists()
    finally:
        assert sim.terminate() == 0
    assert reset(tmp_path, data_dir, "--yes").returncode == 0
    assert not state.exists()


@pytest.fixture
def database_in_use(data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with the paper database open, as a bot or the web keeps it."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            "db = sqlite3.connect(sys.argv[1])\n"
            "db.execute('PRAGMA journal_mode=WAL')\n"
            "db.execute('SELECT 1').fetchall()\n"
            "print('open', flush=True)\n"
            "sys.stdin.read()\n",
            str(data_dir / "alphaengine-paper.db"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    yield holder
    if holder.poll() is None:
        holder.communicate(timeout=10)


def test_refused_while_the_database_is_open(
    tmp_path: Path, data_dir: Path, database_in_use: subprocess.Popen[str]
) -> None:
    refused = reset(tmp_path, data_dir, "--yes")
    assert refused.returncode == 2
    assert "open in another process" in refused.stderr
    assert (data_dir / "alphaengine-paper.db").exists() and state_file_for(data_dir).exists()
    # The refusal left the simulator's lock free
    assert lock_file_for(state_file_for(data_dir)).exists()

    database_in_use.communicate(timeout=10)
    assert reset(tmp_path, data_dir, "--yes").returncode == 0


def test_only_in_paper_mode(tmp_path: Path, data_dir: Path) -> None:
    keys = {"ALPHAENGINE_BINANCE_API_KEY": "k", "ALPHAENGINE_BINANCE_API_SECRET": "s"}
    done = _run(
        tmp_path,
        "paper-reset",
        "--mode",
        "testnet",
        "--data-dir",
        str(data_dir),
        "--yes",
        extra_env=keys,
    )
    assert done.returncode == 2
    assert "only in paper mode" in done.stderr
    assert state_file_for(data_dir).exists()
