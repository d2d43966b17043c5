"""Debian's nginx as a foreground child with its own prefix, serving the SHIPPED site config.

`render` changes only what must differ on a test machine: listen addresses and ports, the
certificate's files, the upstream's port and the ACME webroot. Each replacement must match the
shipped file exactly once, so an edit there that the test does not know of fails loudly here.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
SITE_CONFIG = REPO / "deploy" / "nginx" / "alphaengine.conf"
STOP_SECONDS = 15.0


def nginx_binary() -> str | None:
    # Debian installs it in /usr/sbin, which is not on every user's PATH.
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed_certificate(directory: Path, host: str = "localhost") -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(directory / "cert.pem", directory / "key.pem")
    paths.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths.key.chmod(0o600)
    return paths


def _replace_once(text: str, old: str, new: str) -> str:
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{SITE_CONFIG.name}: expected {old!r} once, found it {count} times")
    return text.replace(old, new)


@dataclass(frozen=True)
class Ports:
    http: int
    https: int
    web: int


def render(site: str, ports: Ports, certificate: Certificate, webroot: Path) -> str:
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{ports.http};",
        "listen [::]:80;": f"listen [::1]:{ports.http};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{ports.https} ssl http2;",
        "listen [::]:443 ssl http2;": f"listen [::1]:{ports.https} ssl http2;",
        "/etc/letsencrypt/live/alphaengine.example.com/fullchain.pem": str(certificate.cert),
        "/etc/letsencrypt/live/alphaengine.example.com/privkey.pem": str(certificate.key),
        "server 127.0.0.1:8080;": f"server 127.0.0.1:{ports.web};",
        "root /var/www/html;": f"root {webroot};",
    }
    for old, new in replacements.items():
        site = _replace_once(site, old, new)
    return site


def main_config(prefix: Path, site: Path) -> str:
    """A minimal nginx.conf that keeps every file nginx writes inside `prefix`."""
    temp = {name: prefix / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    return f"""
daemon off;
# One process, as the user running the tests: no worker switching to an unprivileged user
# that could not read this temporary prefix.
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {site};
}}
"""


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    prefix: Path

    def errors(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""


@contextmanager
def running_nginx(binary: str, prefix: Path, site_text: str) -> Iterator[Nginx]:
    site = prefix / "alphaengine.conf"
    site.write_text(site_text)
    config = prefix / "nginx.conf"
    config.write_text(main_config(prefix, site))
    command = [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    checked = subprocess.run(
        [*command, "-t"], capture_output=True, text=True, timeout=30, check=False
    )
    if checked.returncode != 0:
        raise AssertionError(f"nginx -t refused the rendered config:\n{checked.stderr}")
    with open(prefix / "stderr.log", "wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        yield Nginx(process, prefix)
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)
