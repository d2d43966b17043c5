"""`python -m alphaengine.system` in paper mode: starts its own simulator, runs, and shuts down
gracefully on SIGINT (children included)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import QUIET_STRATEGY, ROOT, bot_env, wait_until, write_runtime_config

pytestmark = pytest.mark.slow


def test_help_lists_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "alphaengine.system", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for option in (
        "--mode",
        "--data-dir",
        "--runtime-config",
        "--exchange-url",
        "--no-web",
        "--web-port",
        "--web-host",
    ):
        assert option in result.stdout


def test_paper_mode_starts_the_simulator_and_stops_on_sigint(tmp_path: Path) -> None:
    log_path = tmp_path / "system.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "alphaengine.system",
                "--data-dir",
                str(tmp_path / "data"),
                "--runtime-config",
                str(write_runtime_config(tmp_path, QUIET_STRATEGY)),
                "--no-web",
            ],
            cwd=ROOT,
            env=bot_env(tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: b"bot running" in log_path.read_bytes(), 60, "the bot")
            assert b"simulator: http://127.0.0.1:" in log_path.read_bytes()
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    output = log_path.read_bytes()
    assert b"bot stopped" in output
    port = (tmp_path / "data" / "simulator.port").read_text().strip()
    # The simulator child is gone with it
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import socket; socket.create_connection(('127.0.0.1', {port}), 1)",
        ],
        capture_output=True,
        timeout=30,
    )
    assert probe.returncode != 0
