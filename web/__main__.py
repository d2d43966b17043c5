"""`python -m web [--mode M] [--data-dir DIR] [--host H] [--port P]`: the web process alone.

Runs against the same database as the bot (the mode picks the file under the data dir), whose
schema `python -m alphaengine init-db` created; the web only checks it is there.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

import structlog
import uvicorn
from fastapi import FastAPI

from alphaengine.bootstrap import SchemaMissing, check_schema
from alphaengine.settings import (
    MODES,
    Settings,
    SettingsError,
    check_secrets_permissions,
    load_settings,
)
from web.app import create_app
from web.auth import ADMIN_USERNAME, ensure_admin_password

log = structlog.get_logger(__name__)

# Files this process creates (generated secrets, SQLite side files) are its owner's only.
UMASK = 0o077


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m web", description=__doc__)
    parser.add_argument("--mode", choices=MODES, help="paper | testnet | production")
    parser.add_argument("--data-dir", help="where the database and generated secrets live")
    parser.add_argument("--host", help="bind address (default 127.0.0.1, from secrets.yaml)")
    parser.add_argument("--port", type=int, help="port (default 8080, from secrets.yaml)")
    return parser.parse_args(argv)


def server_config(app: FastAPI, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """How uvicorn serves the web, here and in the tests.

    Forwarded headers (X-Forwarded-For/-Proto) are believed only from `web.trusted_proxies`:
    uvicorn otherwise trusts them from 127.0.0.1, and any local client could then choose the
    address the login rate limit counts against.
    """
    trusted = settings.web.trusted_proxies
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=list(trusted),
        server_header=False,
        timeout_graceful_shutdown=5,  # open live streams must not hold a shutdown forever
    )


def quiet_garbage_collector() -> None:
    """Keep the cyclic garbage collector from pausing every request for 100+ ms.

    Everything alive at start-up (modules, the app, its schemas, SQLAlchemy's caches) is moved
    out of the collector's view: a full collection otherwise walks all of it again and again,
    with the GIL held, while requests wait (measured: pauses of 200-400 ms every few seconds
    at 200 req/s). Requests make little cyclic garbage, so collections can also be rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def main(argv: list[str] | None = None) -> int:
    os.umask(UMASK)
    args = parse_args(argv)
    try:
        settings = load_settings(mode=args.mode, data_dir=args.data_dir)
        for warning in check_secrets_permissions(settings):
            log.warning("secrets file permissions", problem=warning)
            print(f"web: warning: {warning}", file=sys.stderr)
        check_schema(settings)
        password = ensure_admin_password(settings)
        app = create_app(settings)
    except (SettingsError, SchemaMissing) as exc:
        print(f"web: {exc}", file=sys.stderr)
        return 2
    host = args.host or settings.web.host
    port = settings.web.port if args.port is None else args.port
    if password is not None:
        # Printed once, to the operator's terminal only; just its hash is kept.
        print(f"login: {ADMIN_USERNAME} / {password}  (generated; shown only this once)")
    print(f"dashboard: http://{host}:{port}", flush=True)
    log.info("web listening", host=host, port=port, mode=settings.mode)
    server = uvicorn.Server(server_config(app, settings, host, port))
    quiet_garbage_collector()
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
