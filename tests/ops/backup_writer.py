"""`python -m tests.ops.backup_writer URL STOP_FILE`: record account history until told to stop.

The live writer for the backup test: fills, balances and resting orders through the Trading
application, as the bot records them, one transaction after another, until STOP_FILE exists
(or a bound on count and time is reached).
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from aggregates.envelope import Scope, Source
from alphaengine.trading import Trading
from tests.core.story import T0, balance, fill, place

MAX_ROUNDS = 5_000
MAX_SECONDS = 120.0


def main(url: str, stop_file: Path) -> int:
    trading = Trading(Scope(), url)
    deadline = time.monotonic() + MAX_SECONDS
    wallet = 10_000
    try:
        for n in range(1, MAX_ROUNDS + 1):
            if stop_file.exists() or time.monotonic() > deadline:
                break
            at = T0 + timedelta(seconds=n)
            side = "BUY" if n % 3 else "SELL"
            trading.record_fill(
                fill(n, f"writer-{n}", side, "0.001", str(60_000 + n), at=at),
                trading.envelope(Source.WEBSOCKET),
            )
            if n % 5 == 0:
                wallet -= 1
                trading.record_balance(balance(str(wallet), at), trading.envelope(Source.REST))
            if n % 10 == 0:
                place(trading, f"resting-{n}", "SELL", "0.001", order_type="LIMIT")
    finally:
        trading.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
