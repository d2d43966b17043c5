"""`python -m adapters.simulator` as a real child process, for tests of the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.waiting import eventually

REPO = Path(__file__).resolve().parents[2]


@dataclass
class SimProcess:
    process: subprocess.Popen[bytes]
    log: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 10) -> int:
        """SIGTERM and wait; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the simulator ignored SIGTERM for {timeout}s") from None

    def kill(self) -> None:
        """SIGKILL: no chance to save anything on the way out."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def run_simulator(tmp: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    """Start the simulator with `args`; its output goes to a new log file under `tmp`."""
    log = tmp / f"simulator-{len(list(tmp.glob('simulator-*.log')))}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "adapters.simulator", "--port", "0", *args],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return process, log


async def start_simulator(tmp: Path, *args: str) -> SimProcess:
    """Start the simulator and wait until it has written its port file."""
    port_file = tmp / "simulator.port"
    port_file.unlink(missing_ok=True)
    process, log = run_simulator(tmp, "--port-file", str(port_file), *args)

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the simulator exited: {log.read_text(errors='replace')}")
        text = port_file.read_text().strip() if port_file.exists() else ""
        return text.isdigit()

    try:
        await eventually(listening, timeout=20)
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        raise
    return SimProcess(process, log, int(port_file.read_text().strip()))
