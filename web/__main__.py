"""`python -m web [--mode M] [--data-dir DIR] [--host H] [--port P]`: the web process alone.

Runs against the same database as the bot (the mode picks the file under the data dir), whose
schema `python -m alphaengine init-db` created; the web only checks it is there.
"""

from __future__ import annotations

import argparse
import sys

import structlog
import uvicorn

from alphaengine.bootstrap import SchemaMissing, check_schema
from alphaengine.settings import MODES, SettingsError, load_settings
from web.app import create_app
from web.auth import ADMIN_USERNAME, ensure_admin_password

log = structlog.get_logger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m web", description=__doc__)
    parser.add_argument("--mode", choices=MODES, help="paper | testnet | production")
    parser.add_argument("--data-dir", help="where the database and generated secrets live")
    parser.add_argument("--host", help="bind address (default 127.0.0.1, from secrets.yaml)")
    parser.add_argument("--port", type=int, help="port (default 8080, from secrets.yaml)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(mode=args.mode, data_dir=args.data_dir)
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
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,  # open live streams must not hold a shutdown forever
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
