"""`python -m alphaengine.system`: the whole engine in one command.

Takes the bot lease (one bot per data dir and mode) → init-db → in paper mode the simulator (its
account kept in the data dir) unless --exchange-url names a running one → the web unless
--no-web → the bot. The launcher keeps its children running: one that dies is started again
(the simulator on the same port and account).

Stopping: SIGTERM or SIGINT — at any moment, start-up included — stops everything within about
five seconds with exit code 0. A bot task that dies ends the process with code 1 (after an
alarm), so a service manager restarts it; refusals at start (bad settings, a port in use, a bot
already running) end it with code 2.

Test-only: ALPHAENGINE_CRASH_AT=after_intent|after_send|after_fill makes the bot kill itself
(SIGKILL) at that step of order placement; the crash-matrix tests use it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import IO, Any

import structlog

from alphaengine.bootstrap import configured_symbol, init_schema
from alphaengine.lease import BotLease, LeaseHeld
from alphaengine.runtime_config import ConfigError, RuntimeConfig, load_config_file
from alphaengine.settings import (
    MODES,
    Settings,
    SettingsError,
    check_secrets_permissions,
    load_settings,
)
from alphaengine.storage_full import wait_for_storage

log = structlog.get_logger(__name__)

PORT_FILE_WAIT_SECONDS = 30.0
CHILD_STOP_SECONDS = 3.0
CHILD_WATCH_SECONDS = 1.0
CHILD_RESTART_MAX_SECONDS = 30.0
EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The bot's own stop takes under 5 s; this is the backstop if something in it hangs.
STOP_DEADLINE_SECONDS = 8.0
DEADLINE_THREAD = "stop-deadline"


class StopRequested(BaseException):
    """A stop signal arrived before the event loop ran (during start-up)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m alphaengine.system",
        description="Run AlphaEngine: bot, and in paper mode the simulator and the web.",
    )
    parser.add_argument("--mode", choices=MODES, help="paper (default) | testnet | production")
    parser.add_argument("--data-dir", help="database and generated files (default data/)")
    parser.add_argument(
        "--runtime-config", type=Path, help="YAML seeding the runtime config (first start)"
    )
    parser.add_argument(
        "--exchange-url", help="use a running simulator at this base URL (paper mode)"
    )
    parser.add_argument("--no-web", action="store_true", help="do not start the web process")
    parser.add_argument("--web-port", type=int, default=None, help="web port (default 8080)")
    parser.add_argument("--web-host", default=None, help="web bind address (default 127.0.0.1)")
    parser.add_argument("--sim-seed", type=int, default=42, help="simulator seed (paper mode)")
    parser.add_argument(
        "--sim-speed", type=float, default=60.0, help="simulator clock speed (paper mode)"
    )
    return parser.parse_args(argv)


# ---- children -----------------------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def start_simulator(
    port_file: Path,
    symbol: str,
    seed: int,
    speed: float,
    *,
    port: int = 0,
    state_file: Path | None = None,
    stdout: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = None,
    cwd: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `python -m adapters.simulator` and return it with its base URL, once it listens."""
    port_file.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "adapters.simulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--symbol",
        symbol,
        "--speed",
        str(speed),
        "--port-file",
        str(port_file),
    ]
    if state_file is not None:
        command += ["--state-file", str(state_file)]
    process = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=cwd)
    try:
        deadline = time.monotonic() + PORT_FILE_WAIT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the simulator exited with {process.returncode}")
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text:
                return process, f"http://127.0.0.1:{int(text)}"
            time.sleep(0.05)
        raise RuntimeError(
            f"the simulator did not report its port within {PORT_FILE_WAIT_SECONDS}s"
        )
    except BaseException:
        stop_child(process)
        raise


def start_web(settings: Settings, host: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "web",
            "--mode",
            settings.mode,
            "--data-dir",
            str(settings.data_dir),
            "--host",
            host,
            "--port",
            str(port),
        ]
    )


def stop_child(process: subprocess.Popen[bytes], seconds: float = CHILD_STOP_SECONDS) -> None:
    stop_children([process], seconds)


def stop_children(processes: list[subprocess.Popen[bytes]], seconds: float) -> None:
    """SIGTERM to all at once, then wait for each within one shared deadline; SIGKILL after."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + seconds
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=seconds)


class Child:
    """A child process the launcher keeps running: started again (with a growing pause) when
    it dies on its own."""

    def __init__(self, name: str, start: Callable[[], subprocess.Popen[bytes]]) -> None:
        self.name = name
        self._start = start
        self.process = start()
        self.restarts = 0
        self._pause = 1.0
        self._next_try = 0.0

    def check(self) -> None:
        code = self.process.poll()
        if code is None or time.monotonic() < self._next_try:
            return
        log.error(f"{self.name} exited: starting it again", exit_code=code, restarts=self.restarts)
        self._next_try = time.monotonic() + self._pause
        self._pause = min(self._pause * 2, CHILD_RESTART_MAX_SECONDS)
        try:
            self.process = self._start()
            self.restarts += 1
        except (OSError, RuntimeError) as exc:
            log.error(f"{self.name} did not start", error=str(exc))


async def watch_children(children: list[Child]) -> None:
    while True:
        await asyncio.sleep(CHILD_WATCH_SECONDS)
        for child in children:
            await asyncio.to_thread(child.check)


# ---- signals ------------------------------------------------------------------------------------
class _StopDeadline:
    """Once a stop is asked for, the process ends within STOP_DEADLINE_SECONDS whatever hangs:
    past it, every thread's stack goes to stderr and the process exits non-zero. (A raise from a
    signal handler can land in a garbage-collector callback and be swallowed, and a coroutine
    can ignore its cancel; the promise to a service manager must not rest on either.)"""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._timer: threading.Timer | None = None

    def arm(self, reason: str) -> None:
        self.requested = self.requested or reason
        if self._timer is None:
            self._timer = threading.Timer(STOP_DEADLINE_SECONDS, self._expire)
            self._timer.name = DEADLINE_THREAD
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        """The stop finished (or, in a test, the request is forgotten)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join(1.0)
        self._timer = None
        self.requested = None

    def _expire(self) -> None:
        print(
            f"alphaengine: the stop ({self.requested}) did not finish in "
            f"{STOP_DEADLINE_SECONDS:g} s; where each thread was:",
            file=sys.stderr,
            flush=True,
        )
        faulthandler.dump_traceback(all_threads=True)
        sys.stderr.flush()
        os._exit(EXIT_FAILED)


STOP_DEADLINE = _StopDeadline()


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    # Remembered first: if the raise is swallowed (it can land in a GC callback), the loop
    # still sees the request when it starts.
    STOP_DEADLINE.arm(name)
    raise StopRequested(name)


def install_startup_signals() -> None:
    """Until the event loop runs, a stop signal unwinds start-up (children are cleaned up)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_stop)


def install_loop_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    def requested(name: str) -> None:
        STOP_DEADLINE.arm(name)
        stop.set()

    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, requested, sig.name)
        except (NotImplementedError, RuntimeError):
            # Windows: no loop signal handlers; a plain handler hands the stop to the loop.
            signal.signal(sig, lambda signum, _: loop.call_soon_threadsafe(requested, str(signum)))
    if STOP_DEADLINE.requested is not None:
        stop.set()  # asked for during start-up, where the raise was swallowed


# ---- the bot ------------------------------------------------------------------------------------
async def run_bot(settings: Settings, exchange_url: str | None, children: list[Child]) -> int:
    from alphaengine.bot import Bot

    stop = asyncio.Event()
    install_loop_signals(asyncio.get_running_loop(), stop)
    watcher = asyncio.create_task(watch_children(children), name="children")
    try:
        return await Bot(settings, exchange_url=exchange_url).run(stop)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def run_loop(main: Coroutine[Any, Any, int], executor_grace: float = 0.5) -> int:
    """`asyncio.run`, but never waiting long for its thread pool: a thread stuck in a database
    call (up to its busy timeout) must not hold a stop that was promised in seconds."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=executor_grace))
        # Not `shutdown_default_executor`: on Python 3.11 it joins the pool's threads even when
        # cancelled. `close` shuts the pool down without waiting; a thread still busy is left to
        # `_exit_now_if_threads_linger`.
        asyncio.set_event_loop(None)
        loop.close()


def _exit_now_if_threads_linger(code: int) -> None:
    """A thread stuck in a database call (busy timeout) would hold the interpreter's exit."""
    lingering = [
        t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()
    ]
    if lingering:
        names = ", ".join(t.name for t in lingering)
        print(f"alphaengine: leaving busy threads behind ({names})", file=sys.stderr, flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _refuse(message: str) -> int:
    print(f"alphaengine: {message}", file=sys.stderr, flush=True)
    return EXIT_REFUSED


def main(argv: list[str] | None = None) -> int:
    # A fatal error or SIGABRT (what a supervisor sends a hung process first) writes every
    # thread's stack to stderr: the log then says where it hung.
    faulthandler.enable()
    install_startup_signals()
    os.umask(0o077)  # every file the engine writes in its data dir is its owner's alone
    args = parse_args(argv)
    children: list[Child] = []
    lease: BotLease | None = None
    code = EXIT_OK
    try:
        try:
            settings = load_settings(mode=args.mode, data_dir=args.data_dir)
            for warning in check_secrets_permissions(settings):
                print(f"alphaengine: warning: {warning}", file=sys.stderr, flush=True)
            seed = load_config_file(args.runtime_config) if args.runtime_config else RuntimeConfig()
        except (SettingsError, ConfigError) as exc:
            return _refuse(str(exc))
        lease = BotLease(settings.data_dir, settings.mode)
        try:
            lease.acquire()
        except LeaseHeld as exc:
            return _refuse(str(exc))
        web_host = args.web_host or settings.web.host
        web_port = settings.web.port if args.web_port is None else args.web_port
        if not args.no_web and port_in_use(web_host, web_port):
            return _refuse(
                f"port {web_port} on {web_host} is in use: stop what holds it, or choose "
                "another with --web-port"
            )
        wait_for_storage(settings, lambda: init_schema(settings, seed))
        exchange_url = args.exchange_url
        if settings.mode == "paper" and exchange_url is None:
            from adapters.simulator import state_file_for

            port = free_port()
            symbol = configured_symbol(settings)

            def simulator() -> subprocess.Popen[bytes]:
                process, _ = start_simulator(
                    settings.data_dir / "simulator.port",
                    symbol,
                    args.sim_seed,
                    args.sim_speed,
                    port=port,
                    state_file=state_file_for(settings.data_dir),
                )
                return process

            children.append(Child("simulator", simulator))
            exchange_url = f"http://127.0.0.1:{port}"
            print(f"simulator: {exchange_url}", flush=True)
        if not args.no_web:
            children.append(Child("web", lambda: start_web(settings, web_host, web_port)))
            print(f"dashboard: http://{web_host}:{web_port}", flush=True)
            print(
                "login: admin, with the password the web prints once on its first start "
                f"(kept hashed under {settings.data_dir})",
                flush=True,
            )
        code = run_loop(run_bot(settings, exchange_url, children))
    except (StopRequested, KeyboardInterrupt):
        code = EXIT_OK
    except RuntimeError as exc:
        print(f"alphaengine: {exc}", file=sys.stderr)
        code = EXIT_FAILED
    except Exception:
        # A bug: said with its traceback, and the exit below still cannot hang on a thread.
        log.exception("the launcher failed")
        code = EXIT_FAILED
    finally:
        # A second signal while stopping must not interrupt the clean-up.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        with contextlib.suppress(Exception):
            stop_children([c.process for c in children], CHILD_STOP_SECONDS)
        if lease is not None:
            lease.release()
    STOP_DEADLINE.disarm()
    _exit_now_if_threads_linger(code)
    return code


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
