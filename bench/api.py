"""Read-API load benchmark (not a test): a fixed request rate against a real `python -m web`.

    .venv/bin/python bench/api.py --rate 50 100 200 --seconds 30

Starts the paper system without its web (`python -m alphaengine.system --no-web`: the bot and
its simulator, writing as they trade) in a temporary data dir, then `python -m web` on the same
database, logs in, files a few market orders so there are fills and closed trades, and drives
each rate OPEN LOOP: request i is sent at start + i/rate whether or not earlier ones finished,
and its latency counts from that planned moment, so a slow server cannot slow the load down
and hide its own queueing. The endpoints are mixed round robin; `dashboard-304` revalidates
with the ETag of its previous answer, like a polling dashboard.

Prints per endpoint: requests, 2xx/304/503/other errors, p50/p95/p99 latency, mean body size;
and the web's CPU use and its peak resident memory (VmHWM). Prints figures, never fails.
`--web-root DIR` runs the web from another checkout (to compare with an older version).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from web.auth import hash_password  # noqa: E402

ENDPOINTS = {
    "dashboard": "/api/dashboard",
    "dashboard-304": "/api/dashboard",
    "orders": "/api/orders",
    "fills": "/api/fills",
    "candles": "/api/candles",
    "events": "/api/events",
    "trades": "/api/trades",
    "performance": "/api/performance",
}
SYSTEM = [sys.executable, "-m", "alphaengine.system", "--mode", "paper", "--no-web"]
WEB = [sys.executable, "-m", "web", "--mode", "paper"]
TIMEOUT_SECONDS = 10.0
START_SECONDS = 120.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Any, what: str, timeout: float = START_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            pass
        time.sleep(0.25)
    raise SystemExit(f"bench: timed out waiting for {what}")


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    samples: list[tuple[float, float, float, str]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    body_bytes: int = 0
    bodies: int = 0


@dataclass
class Processes:
    system: subprocess.Popen[bytes]
    web: subprocess.Popen[bytes]
    url: str
    logs: Path


def start(tmp: Path, password: str, web_root: Path) -> Processes:
    data_dir = tmp / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAENGINE_")}
    env.update(
        ALPHAENGINE_SECRETS_FILE=str(tmp / "absent-secrets.yaml"),
        ALPHAENGINE_ADMIN_PASSWORD_HASH=hash_password(password),
        PYTHONUNBUFFERED="1",
    )
    system_log = tmp / "system.log"
    system = subprocess.Popen(
        [*SYSTEM, "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=system_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for(lambda: "simulator:" in system_log.read_text(errors="replace"), "the simulator")
    port = free_port()
    web = subprocess.Popen(
        [*WEB, "--data-dir", str(data_dir), "--port", str(port)],
        cwd=web_root,
        env=env,
        stdout=(tmp / "web.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(f"{url}/health", timeout=2).json().get("bot_alive"), "the bot")
    return Processes(system, web, url, tmp)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def make_trades(url: str, headers: dict[str, str], count: int) -> None:
    """A few market round trips through Commands, so fills and closed trades exist."""
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for n in range(count):
            for side in ("BUY", "SELL"):
                client.post(
                    "/api/commands",
                    json={
                        "kind": "PLACE_ORDER",
                        "payload": {"side": side, "type": "MARKET", "quantity": "0.002"},
                    },
                    headers={"Idempotency-Key": f"bench-{n}-{side}-{secrets.token_hex(4)}"},
                )
                time.sleep(0.5)  # pacing the bench's own orders, not synchronisation


async def drive(url: str, token: str, rate: float, seconds: float) -> dict[str, Tally]:
    names = list(ENDPOINTS)
    tallies = {name: Tally() for name in names}
    etag: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    started = time.perf_counter()
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:

        async def one(name: str, planned: float) -> None:
            tally = tallies[name]
            lag = time.perf_counter() - planned
            sent = dict(headers)
            if name == "dashboard-304" and name in etag:
                sent["If-None-Match"] = etag[name]
            try:
                async with session.get(ENDPOINTS[name], headers=sent) as response:
                    body = await response.read()
                    status = str(response.status)
                    if name == "dashboard-304" and "ETag" in response.headers:
                        etag[name] = response.headers["ETag"]
            except TimeoutError:
                status = "timeout"
                body = b""
            except aiohttp.ClientError as exc:
                status = type(exc).__name__
                body = b""
            latency = time.perf_counter() - planned
            tally.latencies.append(latency)
            tally.samples.append((planned - started, lag, latency, status))
            tally.statuses[status] += 1
            if body:
                tally.body_bytes += len(body)
                tally.bodies += 1

        total = int(rate * seconds)
        tasks: set[asyncio.Task[None]] = set()
        for i in range(total):
            planned = started + i / rate
            delay = planned - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(names[i % len(names)], planned))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=TIMEOUT_SECONDS + 5)
    return tallies


def report(
    rate: float, seconds: float, tallies: dict[str, Tally], web_pid: int, cpu: float
) -> None:
    print(f"\n== {rate:g} req/s for {seconds:g} s (open loop) ==")
    print(
        f"{'endpoint':<14}{'n':>6}{'2xx':>6}{'304':>6}{'503':>6}{'other':>7}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'bytes':>9}"
    )
    everything: list[float] = []
    totals: dict[str, int] = defaultdict(int)
    for name, tally in tallies.items():
        ok = sum(v for k, v in tally.statuses.items() if k.startswith("2"))
        not_modified = tally.statuses.get("304", 0)
        shed = tally.statuses.get("503", 0)
        other = sum(tally.statuses.values()) - ok - not_modified - shed
        ms = [x * 1000 for x in tally.latencies]
        everything += ms
        for key, value in (("ok", ok), ("304", not_modified), ("503", shed), ("other", other)):
            totals[key] += value
        mean_bytes = tally.body_bytes // tally.bodies if tally.bodies else 0
        print(
            f"{name:<14}{len(ms):>6}{ok:>6}{not_modified:>6}{shed:>6}{other:>7}"
            f"{percentile(ms, 0.5):>9.1f}{percentile(ms, 0.95):>9.1f}{percentile(ms, 0.99):>9.1f}"
            f"{mean_bytes:>9}"
        )
    print(
        f"{'all':<14}{len(everything):>6}{totals['ok']:>6}{totals['304']:>6}{totals['503']:>6}"
        f"{totals['other']:>7}{percentile(everything, 0.5):>9.1f}"
        f"{percentile(everything, 0.95):>9.1f}{percentile(everything, 0.99):>9.1f}"
    )
    memory = proc_status(web_pid)
    print(
        f"web: {cpu / seconds * 100:.0f}% of a core, RSS {memory['VmRSS'] / 1024:.0f} MB, "
        f"peak RSS {memory['VmHWM'] / 1024:.0f} MB"
    )
    others = {k: v for t in tallies.values() for k, v in t.statuses.items()}
    unusual = {k: v for k, v in others.items() if not k.startswith(("2", "304", "503"))}
    if unusual:
        print(f"other answers: {unusual}")


def write_samples(path: Path, rate: float, tallies: dict[str, Tally]) -> None:
    """One line per request: rate, endpoint, planned offset (s), send lag (s), latency (s)."""
    with path.open("a") as out:
        for name, tally in tallies.items():
            for offset, lag, latency, status in tally.samples:
                out.write(f"{rate:g},{name},{offset:.4f},{lag:.4f},{latency:.4f},{status}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, nargs="+", default=[50, 100, 200])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--trades", type=int, default=5, help="market round trips filed first")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of bot activity first")
    parser.add_argument("--web-root", type=Path, default=ROOT, help="checkout to run the web from")
    parser.add_argument("--samples", type=Path, help="write every request (CSV) to this file")
    parser.add_argument("--logs", type=Path, help="copy the system's and the web's logs here")
    args = parser.parse_args(argv)
    password = secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as directory:
        tmp = Path(directory)
        processes = start(tmp, password, args.web_root.resolve())
        try:
            answer = httpx.post(
                f"{processes.url}/api/auth/login",
                json={"username": "admin", "password": password},
                timeout=30,
            )
            answer.raise_for_status()
            token = answer.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            make_trades(processes.url, headers, args.trades)
            time.sleep(args.warmup)  # let the bot trade and write: the load meets a live writer
            print(
                f"web pid {processes.web.pid}; RSS before load "
                f"{proc_status(processes.web.pid)['VmRSS'] / 1024:.0f} MB"
            )
            for rate in args.rate:
                cpu_before = cpu_seconds(processes.web.pid)
                tallies = asyncio.run(drive(processes.url, token, rate, args.seconds))
                cpu = cpu_seconds(processes.web.pid) - cpu_before
                report(rate, args.seconds, tallies, processes.web.pid, cpu)
                if args.samples is not None:
                    write_samples(args.samples, rate, tallies)
        finally:
            stop(processes.web)
            stop(processes.system)
            if args.logs is not None:
                args.logs.mkdir(parents=True, exist_ok=True)
                for name in ("system.log", "web.log"):
                    shutil.copy(tmp / name, args.logs / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
