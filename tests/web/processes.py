"""Real processes for the end-to-end web tests: start, wait until serving, stop by a deadline."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from web.auth import hash_password

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_PASSWORD = "correct-horse-battery-staple"
STOP_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment without the developer's ALPHAENGINE_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAENGINE_")}
    env.update(
        ALPHAENGINE_SECRETS_FILE=str(data_dir / "absent-secrets.yaml"),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def line_starting(self, prefix: str) -> str | None:
        for line in self.output().splitlines():
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        return None


@contextmanager
def running(args: list[str], *, env: dict[str, str], log: Path) -> Iterator[Running]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield Running(process, log)
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL if it does not end within the deadline."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_SECONDS)


def wait_until(
    check: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    proc: Running | None = None,
    step: float = 0.2,
) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.process.poll() is not None:
            raise AssertionError(f"process exited while waiting for {what}:\n{proc.output()}")
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(step)  # the poll interval of a bounded wait on `check`
    details = proc.output()[-4000:] if proc is not None else ""
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error})\n{details}")


def login(client: httpx.Client, password: str = TEST_PASSWORD) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": "admin", "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class System:
    proc: Running
    web_url: str
    simulator_url: str


@contextmanager
def paper_system(tmp: Path, *, timeout: float = 90.0) -> Iterator[System]:
    """`python -m alphaengine.system --mode paper` with its simulator and web, fully started."""
    data_dir = tmp / "data"
    port = free_port()
    env = clean_env(data_dir, ALPHAENGINE_ADMIN_PASSWORD_HASH=hash_password(TEST_PASSWORD))
    args = ["-m", "alphaengine.system", "--mode", "paper", "--data-dir", str(data_dir)]
    args += ["--web-port", str(port), "--web-host", "127.0.0.1"]
    with running(args, env=env, log=tmp / "system.log") as proc:
        web_url = f"http://127.0.0.1:{port}"

        def bot_alive() -> bool:
            health = httpx.get(f"{web_url}/health", timeout=2).json()
            return bool(health.get("bot_alive"))

        wait_until(bot_alive, timeout=timeout, what="the bot's heartbeat via /health", proc=proc)
        simulator_url = proc.line_starting("simulator:") or ""
        yield System(proc=proc, web_url=web_url, simulator_url=simulator_url)


def raw_request(url: str, head: bytes, body_chunks: int = 0, chunk: bytes = b"") -> bytes:
    """Send a request by hand (headers, then up to `body_chunks` chunks) and read the answer."""
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for _ in range(body_chunks):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: the rest is never read
        received = b""
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    return received
