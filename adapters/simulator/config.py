"""Simulator settings and the traded symbol's exchange rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

# Documented paper-mode credentials: 64 characters like real Binance keys, so clients that check
# the key's shape accept them. They guard nothing; the simulator only listens on loopback.
DEFAULT_API_KEY = "paperb4a5dfe1209e09da65067bd61932c06ffb05db8b1b6391679b7cc18ebd9"
DEFAULT_API_SECRET = "paperf0d29036632924115a63e43d21913f028371d853f2273329f3debfcf74d"


@dataclass(frozen=True)
class SymbolRules:
    """Filters and precisions served by exchangeInfo and enforced by validation (BTCUSDT-like)."""

    tick_size: Decimal = Decimal("0.10")
    min_price: Decimal = Decimal("261.10")
    max_price: Decimal = Decimal("809484")
    step_size: Decimal = Decimal("0.001")
    min_qty: Decimal = Decimal("0.001")
    max_qty: Decimal = Decimal("1000")
    market_max_qty: Decimal = Decimal("120")
    min_notional: Decimal = Decimal("100")
    multiplier_up: Decimal = Decimal("1.0500")
    multiplier_down: Decimal = Decimal("0.9500")
    price_precision: int = 2
    quantity_precision: int = 3
    max_num_orders: int = 200
    max_num_algo_orders: int = 200
    maint_margin_ratio: Decimal = Decimal("0.004")
    max_leverage: int = 125


@dataclass
class SimulatorConfig:
    seed: int = 42
    symbol: str = "BTCUSDT"
    # Simulated seconds per wall second: 60 closes a 1-minute candle every wall second.
    speed: float = 60.0
    futures_balance: Decimal = Decimal("10000")
    spot_balance: Decimal = Decimal("1000")
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    start_price: Decimal = Decimal("60000")
    # Annualised GBM parameters (BTC-like volatility by default).
    volatility: float = 0.8
    drift: float = 0.0
    jump_probability: float = 0.0
    jump_volatility: float = 0.01
    kline_csv: str | Path | None = None
    # Reject reuse of a clientOrderId even after the first order is terminal.
    strict_client_ids: bool = False
    rules: SymbolRules = field(default_factory=SymbolRules)
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    default_leverage: int = 20
    funding_rate: Decimal = Decimal("0.00010000")
    funding_interval_hours: int = 8
    ticks_per_candle: int = 12
    history_candles: int = 1500
    # Order book shape around the last price: a level every few ticks with a seeded size.
    book_level_ticks: int = 5
    book_level_min_qty: Decimal = Decimal("0.5")
    book_level_max_qty: Decimal = Decimal("2.0")
    listen_key_ttl_seconds: float = 3600.0
    ws_ping_interval: float = 180.0
    recv_window_default: int = 5000
    weight_limit_per_minute: int = 2400
    orders_limit_per_10s: int = 300
    orders_limit_per_minute: int = 1200
    # Keep the whole exchange in this JSON file across restarts (see README, "State file").
    state_file: str | Path | None = None
    # Wall seconds between saves of market-only progress; account changes are saved at once.
    state_save_interval: float = 2.0
    # 1m candles kept in the state file (every interval is aggregated from them).
    state_candles: int = 1500
    # Fills, income rows and finished orders kept (in memory and in the state file).
    history_limit: int = 1000
