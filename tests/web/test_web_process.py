"""`python -m web` as a real process: prints a generated password once, serves /docs, logs in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.web.processes import (
    REPO_ROOT,
    clean_env,
    free_port,
    raw_request,
    running,
    wait_until,
)

pytestmark = pytest.mark.slow


def start_args(data_dir: Path, port: int) -> list[str]:
    return ["-m", "web", "--mode", "paper", "--data-dir", str(data_dir), "--port", str(port)]


def init_db(data_dir: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "alphaengine", "init-db", "--data-dir", str(data_dir)],
        env=env,
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_web_without_a_schema_says_to_run_init_db(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, *start_args(data_dir, free_port())],
        env=clean_env(data_dir),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "init-db" in done.stderr and "Traceback" not in done.stderr


def test_web_alone_generates_a_password_once_and_serves_the_api(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(data_dir)
    init_db(data_dir, env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(start_args(data_dir, port), env=env, log=tmp_path / "first.log") as proc:
        wait_until(
            lambda: httpx.get(f"{url}/health").status_code == 200,
            timeout=30,
            what="/health",
            proc=proc,
        )
        shown = proc.line_starting("login: admin / ")
        assert shown is not None, proc.output()
        password = shown.split()[0]
        assert httpx.get(f"{url}/docs").status_code == 200
        paths = httpx.get(f"{url}/openapi.json").json()["paths"]
        assert {"/api/events", "/api/commands", "/api/state", "/api/stream"} <= set(paths)
        token = httpx.post(
            f"{url}/api/auth/login", json={"username": "admin", "password": password}
        ).json()["access_token"]
        board = httpx.get(f"{url}/api/dashboard", headers={"Authorization": f"Bearer {token}"})
        assert board.status_code == 200
        assert board.json()["engine"]["mode"] == "RUNNING"
    output = proc.output()
    assert token not in output  # tokens are never logged

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(start_args(data_dir, port), env=env, log=tmp_path / "second.log") as again:
        wait_until(
            lambda: httpx.get(f"{url}/health").status_code == 200,
            timeout=30,
            what="/health",
            proc=again,
        )
        assert again.line_starting("login: admin / ") is None  # shown only the first time
        login = httpx.post(
            f"{url}/api/auth/login", json={"username": "admin", "password": password}
        )
        assert login.status_code == 200
    assert password not in again.output()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_200_mb_streamed_login_body_is_refused_without_buffering(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(data_dir)
    init_db(data_dir, env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(start_args(data_dir, port), env=env, log=tmp_path / "web.log") as proc:
        wait_until(
            lambda: httpx.get(f"{url}/health").status_code == 200,
            timeout=30,
            what="/health",
            proc=proc,
        )
        before = rss_kib(proc.process.pid)
        head = (
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"x" * 65536
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        # 3,200 chunks of 64 KiB: 200 MiB offered, with no Content-Length to check up front.
        answer = raw_request(url, head, body_chunks=3200, chunk=chunk)
        after = rss_kib(proc.process.pid)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert after - before < 20 * 1024, (before, after)
