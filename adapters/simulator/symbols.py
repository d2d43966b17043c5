"""exchangeInfo and leverage brackets for the simulated symbol."""

from __future__ import annotations

from .config import SimulatorConfig
from .decimals import plain

# BTCUSDT-style brackets: (bracket, initialLeverage, notionalCap, notionalFloor, mmr, cum).
BRACKETS: list[tuple[int, int, int, int, float, float]] = [
    (1, 125, 50_000, 0, 0.004, 0.0),
    (2, 100, 600_000, 50_000, 0.005, 50.0),
    (3, 75, 3_000_000, 600_000, 0.0065, 950.0),
    (4, 50, 12_000_000, 3_000_000, 0.01, 11_450.0),
    (5, 25, 70_000_000, 12_000_000, 0.02, 131_450.0),
    (6, 20, 100_000_000, 70_000_000, 0.025, 481_450.0),
    (7, 10, 230_000_000, 100_000_000, 0.05, 2_981_450.0),
    (8, 5, 480_000_000, 230_000_000, 0.1, 14_481_450.0),
    (9, 4, 600_000_000, 480_000_000, 0.125, 26_481_450.0),
    (10, 3, 800_000_000, 600_000_000, 0.15, 41_481_450.0),
    (11, 2, 1_200_000_000, 800_000_000, 0.25, 121_481_450.0),
    (12, 1, 1_800_000_000, 1_200_000_000, 0.5, 421_481_450.0),
]


def max_notional_for(leverage: int) -> str:
    cap = max(b[2] for b in BRACKETS if b[1] >= leverage)
    return str(cap)


def leverage_brackets(symbol: str) -> dict[str, object]:
    return {
        "symbol": symbol,
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": b,
                "initialLeverage": lev,
                "notionalCap": cap,
                "notionalFloor": floor,
                "maintMarginRatio": mmr,
                "cum": cum,
            }
            for b, lev, cap, floor, mmr, cum in BRACKETS
        ],
    }


RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
]


def symbol_info(config: SimulatorConfig) -> dict[str, object]:
    r = config.rules
    symbol = config.symbol
    base = symbol.removesuffix("USDT") or symbol
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": r.price_precision,
        "quantityPrecision": r.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": plain(r.min_price, 8).removesuffix(".0"),
                "maxPrice": plain(r.max_price, 8).removesuffix(".0"),
                "tickSize": str(r.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": str(r.min_qty),
                "maxQty": plain(r.max_qty).removesuffix(".0"),
                "stepSize": str(r.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": str(r.min_qty),
                "maxQty": plain(r.market_max_qty).removesuffix(".0"),
                "stepSize": str(r.step_size),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": r.max_num_orders},
            {"filterType": "MIN_NOTIONAL", "notional": plain(r.min_notional).removesuffix(".0")},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": str(r.multiplier_up),
                "multiplierDown": str(r.multiplier_down),
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }


def exchange_info(config: SimulatorConfig, server_time: int) -> dict[str, object]:
    return {
        "timezone": "UTC",
        "serverTime": server_time,
        "futuresType": "U_MARGINED",
        "rateLimits": RATE_LIMITS,
        "exchangeFilters": [],
        "assets": [
            {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"},
        ],
        "symbols": [symbol_info(config)],
    }
