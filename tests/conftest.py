"""Session fixtures that start throwaway services, only when a selected test asks for them.

`postgres_url`: a PostgreSQL cluster from the machine's own binaries (Debian's `postgresql`
package; `make test` installs it when run as root): initdb into a temporary directory, then
`postgres` on a free loopback port with its unix socket in that directory, run as the `postgres`
user when the tests run as root (PostgreSQL refuses to run as root). ALPHAENGINE_TEST_POSTGRES_URL
names a server to use instead; it is set to the throwaway cluster's URL for the rest of the run.
Without binaries or a URL the tests that need PostgreSQL skip and say why.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

import pytest

POSTGRES_URL_ENV = "ALPHAENGINE_TEST_POSTGRES_URL"
# Where Debian's packages put the server binaries (one folder per major version).
DEBIAN_POSTGRES_ROOT = Path("/usr/lib/postgresql")
ROLE = "alphaengine"
START_SECONDS = 30.0
STOP_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries: Debian's folders first, then the PATH."""
    versions = [p.parent for p in DEBIAN_POSTGRES_ROOT.glob("*/bin/initdb")]
    numbered = [p for p in versions if p.parent.name.isdigit()]
    if numbered:
        return max(numbered, key=lambda p: int(p.parent.name))
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _owner() -> dict[str, Any]:
    """subprocess arguments that run the server as `postgres` when we are root."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root: PostgreSQL needs the `postgres` user (Debian's package)")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@dataclass
class Cluster:
    process: subprocess.Popen[bytes]
    directory: Path
    port: int

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: no waiting for clients
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_SECONDS)


def _admin_execute(url: str, statement: LiteralString, database: str) -> None:
    """Run `statement` with `database` quoted as the identifier in its `{}`."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    with psycopg.connect(
        host=parts.host,
        port=parts.port,
        user=parts.username,
        password=parts.password,
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    ) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(database)))


def start_cluster(bin_dir: Path) -> Cluster:
    owner = _owner()
    directory = Path(tempfile.mkdtemp(prefix="alphaengine-pg-"))
    if owner:
        os.chown(directory, owner["user"], owner["group"])
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "TZ": "UTC"}
    initdb = subprocess.run(
        [
            str(bin_dir / "initdb"),
            *("-D", str(directory / "data"), "-U", ROLE, "--auth=trust", "--no-sync"),
            *("--encoding=UTF8", "--locale=C"),
        ],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **owner,
    )
    if initdb.returncode != 0:
        raise RuntimeError(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
    port = free_port()
    # Durability settings off: a throwaway cluster trades crash safety for speed.
    settings = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(directory),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    args = [str(bin_dir / "postgres"), "-D", str(directory / "data"), "-p", str(port)]
    for key, value in settings.items():
        args += ["-c", f"{key}={value}"]
    log_path = directory / "postgres.log"
    with open(log_path, "wb") as log:
        if owner:
            os.chown(log_path, owner["user"], owner["group"])
        process = subprocess.Popen(
            args, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT, **owner
        )
    cluster = Cluster(process, directory, port)
    try:
        _wait_ready(cluster)
    except BaseException:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return cluster


def _wait_ready(cluster: Cluster) -> None:
    import psycopg

    deadline = time.monotonic() + START_SECONDS
    while True:
        if cluster.process.poll() is not None:
            raise RuntimeError(f"postgres exited:\n{cluster.log.read_text(errors='replace')}")
        try:
            psycopg.connect(
                host="127.0.0.1", port=cluster.port, user=ROLE, dbname="postgres", connect_timeout=2
            ).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database URL for the run (its `alphaengine` database; tests may empty it)."""
    configured = os.environ.get(POSTGRES_URL_ENV)
    if configured:
        yield configured
        return
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries not found: install Debian's `postgresql` package "
            f"(`make test` does as root) or set {POSTGRES_URL_ENV}"
        )
    cluster = start_cluster(bin_dir)
    url = cluster.url("alphaengine")
    try:
        _admin_execute(url, "CREATE DATABASE {}", "alphaengine")
        os.environ[POSTGRES_URL_ENV] = url
        yield url
    finally:
        os.environ.pop(POSTGRES_URL_ENV, None)
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database of its own on the run's PostgreSQL server, dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = f"test_{uuid.uuid4().hex[:12]}"
    _admin_execute(postgres_url, "CREATE DATABASE {}", name)
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin_execute(postgres_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
