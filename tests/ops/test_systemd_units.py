"""deploy/*.service and the backup timer: `systemd-analyze verify` finds nothing to say, the
hardening stays in place, and every command line is one the programs accept."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alphaengine import system
from alphaengine.cli import app as operator_cli
from web import __main__ as web_main

pytestmark = pytest.mark.systemd

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNITS = sorted([*DEPLOY.glob("alphaengine-*.service"), *DEPLOY.glob("alphaengine-*.timer")])
INSTALL_DIR = "/opt/alphaengine"
PYTHON = f"{INSTALL_DIR}/.venv/bin/python"
DATA_DIR = "/var/lib/alphaengine"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
# `systemd-analyze security` scores exposure from 0 (locked down) to 10; the units score 1.0-1.4.
MAX_EXPOSURE = 2.0

needs_systemd = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze not installed: `make test` installs Debian's systemd when run as root",
)


def directives(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def service(name: str) -> dict[str, list[str]]:
    return directives(DEPLOY / f"alphaengine-{name}.service")


def rendered(tmp: Path) -> list[Path]:
    """The units with this checkout standing in for the install directory (verify checks that
    every ExecStart program exists)."""
    copies = []
    for unit in UNITS:
        text = unit.read_text().replace(PYTHON, sys.executable).replace(INSTALL_DIR, str(REPO))
        copy = tmp / unit.name
        copy.write_text(text)
        copies.append(copy)
    return copies


def test_the_one_set_of_units() -> None:
    assert [u.name for u in UNITS] == [
        "alphaengine-backup.service",
        "alphaengine-backup.timer",
        "alphaengine-bot.service",
        "alphaengine-init.service",
        "alphaengine-web.service",
    ]
    assert sorted(p.name for p in DEPLOY.glob("*.service")) == [
        u.name for u in UNITS if u.suffix == ".service"
    ]


@needs_systemd
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *map(str, rendered(tmp_path))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


@needs_systemd
def test_every_service_stays_hardened(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    services = [u for u in rendered(tmp_path) if u.suffix == ".service"]
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", f"--threshold={int(MAX_EXPOSURE * 10)}"]
        + [str(s) for s in services],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    scores = [line for line in result.stdout.splitlines() if "Overall exposure" in line]
    assert result.returncode == 0, "\n".join(scores) or result.stderr
    assert len(scores) == len(services)


@pytest.mark.parametrize("name", ["init", "bot", "web", "backup"])
def test_each_service_runs_unprivileged_on_the_state_directory(name: str) -> None:
    unit = service(name)
    assert unit["User"] == ["alphaengine"]
    assert unit["StateDirectory"][0].split()[0] == "alphaengine"
    assert DATA_DIR in unit["ExecStart"][0]
    assert "--mode" not in unit["ExecStart"][0]  # the mode comes from the secrets file
    assert unit["Environment"][0] == "ALPHAENGINE_SECRETS_FILE=/etc/alphaengine/secrets.yaml"
    for setting in ("ProtectHome", "PrivateDevices", "PrivateTmp", "NoNewPrivileges"):
        assert unit[setting] == ["yes"], setting
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["CapabilityBoundingSet"] == [""]


def test_init_runs_first_and_the_bot_and_web_restart_on_failure() -> None:
    assert service("init")["Type"] == ["oneshot"]
    for name in ("bot", "web"):
        unit = service(name)
        assert unit["Requires"] == ["alphaengine-init.service"]
        assert "alphaengine-init.service" in unit["After"][0].split()
        assert unit["Restart"] == ["on-failure"]
        # Above the processes' own 5 s stop bound, so SIGKILL is only for a hung stop.
        assert 5 < int(unit["TimeoutStopSec"][0]) <= 15
    assert directives(DEPLOY / "alphaengine-backup.timer")["Persistent"] == ["true"]


def _python_args(unit: str) -> list[str]:
    command = shlex.split(service(unit)["ExecStart"][0])
    if command[0] == "/bin/sh":  # the backup names its file by date in a shell
        command = shlex.split(command[-1].removeprefix("exec "))
    assert command[:2] == [PYTHON, "-m"], command
    return command[2:]


def test_the_command_lines_are_ones_the_programs_accept() -> None:
    bot = _python_args("bot")
    assert bot[0] == "alphaengine.system"
    parsed = system.parse_args(bot[1:])
    assert parsed.no_web and parsed.data_dir == DATA_DIR and parsed.mode is None

    web = _python_args("web")
    assert web[0] == "web"
    served = web_main.parse_args(web[1:])
    assert (served.host, served.port, served.data_dir) == ("127.0.0.1", 8080, DATA_DIR)

    runner = CliRunner()
    for unit, command in (("init", "init-db"), ("backup", "backup")):
        args = _python_args(unit)
        assert args[:2] == ["alphaengine", command]
        # Click refuses an unknown option while parsing, before --help answers.
        result = runner.invoke(operator_cli, [*args[1:], "--help"])
        assert result.exit_code == 0, result.output
