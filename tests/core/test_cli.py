"""The operator CLI, run as a real process: state, replay, init-db, hash-password."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aggregates.envelope import Source
from aggregates.facts import AlgoOrderFact
from alphaengine.lease import BotLease
from alphaengine.settings import Settings
from alphaengine.trading import Trading
from projections.projector import Projector
from tests.core.story import T0, drive_history
from tests.core.tables import snapshot

REPO = Path(__file__).resolve().parents[2]


def _run(
    *args: str, tmp: Path, stdin: str = "", extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAENGINE_")}
    env["ALPHAENGINE_SECRETS_FILE"] = str(tmp / "absent-secrets.yaml")
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _state(tmp: Path, data_dir: Path, *extra: str) -> dict[str, Any]:
    done = _run("alphaengine", "state", "--json", "--data-dir", str(data_dir), *extra, tmp=tmp)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_state_on_a_fresh_data_dir_says_to_run_init_db(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    done = _run("alphaengine", "state", "--json", "--data-dir", str(data_dir), tmp=tmp_path)
    assert done.returncode == 2
    assert "init-db" in done.stderr and "Traceback" not in done.stderr
    assert not (data_dir / "alphaengine-paper.db").exists()  # checking creates nothing


def test_state_after_init_db_is_empty(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    init = _run("alphaengine", "init-db", "--data-dir", str(data_dir), tmp=tmp_path)
    assert init.returncode == 0, init.stderr
    state = _state(tmp_path, data_dir)

    assert state["notification_id"] == 1  # the runtime config's first version, nothing else
    assert state["balances"] == [] and state["open_orders"] == []
    assert state["position"]["positionAmt"] == "0" and state["position"]["entryPrice"] == "0"
    assert (data_dir / "alphaengine-paper.db").exists()


def test_state_on_a_populated_database(
    trading: Trading, settings: Settings, tmp_path: Path
) -> None:
    drive_history(trading)
    # A stop left working on the algo API
    trading.record_algo_order(
        AlgoOrderFact(
            symbol="BTCUSDT",
            client_algo_id="manual-stop",
            algo_id=4242,
            algo_status="NEW",
            side="SELL",
            order_type="STOP_MARKET",
            quantity=Decimal("0.010"),
            trigger_price=Decimal("58000"),
            price=Decimal(0),
            reduce_only=True,
            close_position=False,
            working_type="MARK_PRICE",
            transaction_time=T0,
        ),
        trading.envelope(Source.RECONCILER),
    )
    last = trading.recorder.max_notification_id()

    state = _state(tmp_path, settings.data_dir)

    assert state["notification_id"] == last
    assert state["position"]["positionAmt"] == "0.010"
    assert state["position"]["entryPrice"] == "59050"
    assert state["balances"][0]["walletBalance"] == "9988.00"
    opened = {(o["clientOrderId"], o["isAlgo"]) for o in state["open_orders"]}
    assert ("manual-stop", True) in opened and ("manual-1", False) in opened
    stop = next(o for o in state["open_orders"] if o["isAlgo"])
    assert stop["stopPrice"] == "58000" and stop["orderId"] == 4242

    # Back in time: by notification id, and by a UTC time before anything happened
    early = _state(tmp_path, settings.data_dir, "--at", "3")
    assert early["notification_id"] == 3 and early["position"]["positionAmt"] == "0"
    before = _state(tmp_path, settings.data_dir, "--at", "2000-01-01T00:00:00Z")
    assert before["notification_id"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--at", "yesterday"), "--at 'yesterday'"),
        (("--at", "2026-01-01T00:00:00"), "needs a timezone"),
        (("--mode", "live"), "--mode: must be one of"),
    ],
)
def test_bad_arguments_are_one_clear_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = _run("alphaengine", "state", "--json", "--data-dir", str(tmp_path), *args, tmp=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_unreadable_database_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "alphaengine-paper.db").write_text("this is not a database, just text " * 10)
    done = _run("alphaengine", "state", "--data-dir", str(tmp_path), tmp=tmp_path)
    assert done.returncode == 2
    assert "file is not a database" in done.stderr and "Traceback" not in done.stderr


def test_replay_rebuilds_the_read_models(
    trading: Trading, settings: Settings, tmp_path: Path
) -> None:
    drive_history(trading)
    Projector.for_trading(trading).catch_up(batch_size=3)
    live = snapshot(trading)

    done = _run(
        "alphaengine",
        "replay",
        "--data-dir",
        str(settings.data_dir),
        "--batch-size",
        "16",
        tmp=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert (
        f"rebuilt read models from {trading.recorder.max_notification_id()} notifications"
        in done.stdout
    )
    assert snapshot(trading) == live


def test_help_texts(tmp_path: Path) -> None:
    done = _run("alphaengine", "replay", "--help", tmp=tmp_path)
    assert done.returncode == 0
    assert "--batch-size" in done.stdout and "--data-dir" in done.stdout and "--mode" in done.stdout


def test_the_system_entry_point_has_help(tmp_path: Path) -> None:
    if importlib.util.find_spec("alphaengine.system") is None:
        pytest.skip("alphaengine.system is not there yet")
    done = _run("alphaengine.system", "--help", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "--mode" in done.stdout and "--data-dir" in done.stdout


def test_init_db_seeds_the_runtime_config_and_names_a_bad_field(tmp_path: Path) -> None:
    config = tmp_path / "runtime.yaml"
    config.write_text("trading:\n  symbol: ETHUSDT\n  leverage: 3\n")
    done = _run(
        "alphaengine",
        "init-db",
        "--data-dir",
        str(tmp_path / "d"),
        "--runtime-config",
        str(config),
        tmp=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert _state(tmp_path, tmp_path / "d")["position"]["symbol"] == "ETHUSDT"

    config.write_text("trading:\n  leverage: 500\n")
    done = _run(
        "alphaengine",
        "init-db",
        "--data-dir",
        str(tmp_path / "e"),
        "--runtime-config",
        str(config),
        tmp=tmp_path,
    )
    assert done.returncode == 2
    assert f"{config}: trading.leverage" in done.stderr and "Traceback" not in done.stderr


def test_hash_password_prints_an_argon2_hash_of_the_typed_password(tmp_path: Path) -> None:
    from argon2 import PasswordHasher

    done = _run(
        "alphaengine", "hash-password", tmp=tmp_path, stdin="correct horse\ncorrect horse\n"
    )
    assert done.returncode == 0, done.stderr
    hashed = done.stdout.strip()
    assert hashed.startswith("$argon2")
    assert PasswordHasher().verify(hashed, "correct horse")
    assert "correct horse" not in done.stdout


def test_hash_password_refuses_a_short_password(tmp_path: Path) -> None:
    done = _run("alphaengine", "hash-password", tmp=tmp_path, stdin="short\nshort\n")
    assert done.returncode == 2
    assert "at least 8 characters" in done.stderr and "$argon2" not in done.stdout


def test_replay_refuses_while_a_bot_holds_the_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert _run("alphaengine", "init-db", "--data-dir", str(data_dir), tmp=tmp_path).returncode == 0
    with BotLease(data_dir, "paper"):
        refused = _run("alphaengine", "replay", "--data-dir", str(data_dir), tmp=tmp_path)
    assert refused.returncode == 2
    assert "a bot is running" in refused.stderr and f"pid {os.getpid()}" in refused.stderr
    done = _run("alphaengine", "replay", "--data-dir", str(data_dir), tmp=tmp_path)
    assert done.returncode == 0, done.stderr
