"""The simulator and the bot as local processes: what the end-to-end tests, the chaos soak and
the benchmarks drive. Everything runs on loopback; nothing here is used by the engine itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alphaengine import system

SYMBOL = "BTCUSDT"
ROOT = Path(__file__).resolve().parents[1]  # the repository: `python -m` imports from here
QUIET_STRATEGY = {"name": "sma_cross", "timeframe": "1m", "params": {"fast": 500, "slow": 501}}
STOP_WAIT_SECONDS = 20.0


def wait_until(check: Callable[[], bool], timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


def stop_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = STOP_WAIT_SECONDS
) -> int:
    """Send `sig` and wait; SIGKILL after `timeout`. Returns the exit code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGABRT first: the engine's faulthandler writes every thread's stack to its log,
            # which says where it hung.
            process.send_signal(signal.SIGABRT)
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    return int(process.returncode)


@dataclass
class SimulatorProcess:
    """`python -m adapters.simulator` with its control endpoints (`/_sim/...`)."""

    work_dir: Path
    speed: float
    seed: int
    port: int = 0
    state_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    log_name: str = "sim.log"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SimulatorProcess:
        if not self.port:
            self.port = system.free_port()
        with open(self.work_dir / self.log_name, "ab") as log:
            self.process, _ = system.start_simulator(
                self.work_dir / "sim.port",
                SYMBOL,
                self.seed,
                self.speed,
                port=self.port,
                state_file=self.state_file,
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=ROOT,
            )
        return self

    def restart(self) -> None:
        """Kill it and start it again on the same port (its account kept when it has a state
        file)."""
        self.stop(signal.SIGKILL)
        self.restarts += 1
        self.start()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_process(self.process, sig)

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/_sim/{path}",
            data=data,
            headers={"Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
        return json.loads(text) if text else None

    def state(self) -> dict[str, Any]:
        body: dict[str, Any] = self._call("GET", "state")
        return body

    def control(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, body)

    def add_fault(self, body: dict[str, Any]) -> None:
        self._call("POST", "faults", body)

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def count(self, client_order_id: str) -> int:
        return int(self.state()["client_order_id_counts"].get(client_order_id, 0))

    def alive(self) -> bool:
        try:
            self._call("GET", "faults", timeout=2)
        except (OSError, urllib.error.URLError):
            return False
        return True


def write_runtime_config(
    work_dir: Path,
    strategy: dict[str, Any],
    *,
    risk: dict[str, Any] | None = None,
    trading: dict[str, Any] | None = None,
    **engine: Any,
) -> Path:
    path = work_dir / "runtime.yaml"
    body: dict[str, Any] = {
        "trading": {"symbol": SYMBOL, **(trading or {})},
        "strategy": strategy,
        "engine": {"warmup_candles": 30, "reconcile_interval": 2, **engine},
    }
    if risk:
        body["risk"] = risk
    path.write_text(yaml.safe_dump(body))
    return path


def bot_env(work_dir: Path, crash_at: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAENGINE_")}
    env["ALPHAENGINE_SECRETS_FILE"] = str(work_dir / "no-secrets.yaml")
    env["PYTHONUNBUFFERED"] = "1"
    if crash_at:
        env["ALPHAENGINE_CRASH_AT"] = crash_at
    return env


def start_bot(
    work_dir: Path,
    exchange_url: str,
    runtime_config: Path,
    *,
    crash_at: str | None = None,
    log_name: str = "bot.log",
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`python -m alphaengine.system --no-web` against a running simulator."""
    env = {**bot_env(work_dir, crash_at), **(extra_env or {})}
    with open(work_dir / log_name, "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "alphaengine.system",
                "--data-dir",
                str(work_dir / "data"),
                "--runtime-config",
                str(runtime_config),
                "--exchange-url",
                exchange_url,
                "--no-web",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def log_contains(work_dir: Path, text: bytes, log_name: str = "bot.log", since: int = 0) -> bool:
    path = work_dir / log_name
    return path.exists() and text in path.read_bytes()[since:]


def log_size(work_dir: Path, log_name: str = "bot.log") -> int:
    path = work_dir / log_name
    return path.stat().st_size if path.exists() else 0


def serving(url: str) -> bool:
    """Whether `url` answers at all (any HTTP status)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
