"""Market-data payloads shared by REST and the market streams."""

from __future__ import annotations

from decimal import Decimal

from .config import SimulatorConfig
from .decimals import fixed
from .market import Candle, Market, Tick, bucket_end


def _qty(value: Decimal, market: Market) -> str:
    return fixed(value, market.rules.quantity_precision)


def _px(value: Decimal, market: Market) -> str:
    return fixed(value, market.rules.price_precision)


def kline_row(bar: Candle, interval: str, market: Market) -> list[object]:
    return [
        bar.open_time,
        _px(bar.open, market),
        _px(bar.high, market),
        _px(bar.low, market),
        _px(bar.close, market),
        _qty(bar.volume, market),
        bucket_end(bar.open_time, interval) - 1,
        fixed(bar.quote_volume, 5),
        bar.trades,
        _qty(bar.taker_buy_base, market),
        fixed(bar.taker_buy_quote, 5),
        "0",
    ]


def _kline_body(bar: Candle, interval: str, market: Market) -> dict[str, object]:
    return {
        "t": bar.open_time,
        "T": bucket_end(bar.open_time, interval) - 1,
        "i": interval,
        "f": bar.first_trade_id,
        "L": bar.last_trade_id,
        "o": _px(bar.open, market),
        "c": _px(bar.close, market),
        "h": _px(bar.high, market),
        "l": _px(bar.low, market),
        "v": _qty(bar.volume, market),
        "n": bar.trades,
        "x": bar.closed,
        "q": fixed(bar.quote_volume, 5),
        "V": _qty(bar.taker_buy_base, market),
        "Q": fixed(bar.taker_buy_quote, 5),
        "B": "0",
    }


def kline_event(
    bar: Candle, interval: str, market: Market, symbol: str, now_ms: int
) -> dict[str, object]:
    body = _kline_body(bar, interval, market)
    return {"e": "kline", "E": now_ms, "s": symbol, "k": {**body, "s": symbol}}


def continuous_kline_event(
    bar: Candle, interval: str, market: Market, symbol: str, now_ms: int
) -> dict[str, object]:
    return {
        "e": "continuous_kline",
        "E": now_ms,
        "ps": symbol,
        "ct": "PERPETUAL",
        "k": _kline_body(bar, interval, market),
    }


def mark_price_event(
    config: SimulatorConfig, market: Market, next_funding_ms: int, now_ms: int
) -> dict[str, object]:
    mark = fixed(market.mark, 8)
    return {
        "e": "markPriceUpdate",
        "E": now_ms,
        "s": config.symbol,
        "p": mark,
        "ap": mark,
        "i": mark,
        "P": mark,
        "r": fixed(config.funding_rate, 8),
        "T": next_funding_ms,
    }


def premium_index(
    config: SimulatorConfig, market: Market, next_funding_ms: int, now_ms: int
) -> dict[str, object]:
    mark = fixed(market.mark, 8)
    return {
        "symbol": config.symbol,
        "markPrice": mark,
        "indexPrice": mark,
        "estimatedSettlePrice": mark,
        "lastFundingRate": fixed(config.funding_rate, 8),
        "interestRate": "0.00010000",
        "nextFundingTime": next_funding_ms,
        "time": now_ms,
    }


def agg_trade_event(tick: Tick, market: Market, symbol: str, now_ms: int) -> dict[str, object]:
    qty = _qty(tick.qty, market)
    return {
        "e": "aggTrade",
        "E": now_ms,
        "a": tick.last_trade_id,
        "s": symbol,
        "p": _px(tick.price, market),
        "q": qty,
        "nq": qty,
        "f": tick.first_trade_id,
        "l": tick.last_trade_id,
        "T": now_ms,
        "m": tick.index % 2 == 0,
    }


def book_ticker_event(
    market: Market, symbol: str, update_id: int, now_ms: int
) -> dict[str, object]:
    bid = market.book("bid", 1)
    ask = market.book("ask", 1)
    return {
        "e": "bookTicker",
        "u": update_id,
        "s": symbol,
        "b": _px(bid[0][0], market) if bid else "0",
        "B": _qty(bid[0][1], market) if bid else "0",
        "a": _px(ask[0][0], market) if ask else "0",
        "A": _qty(ask[0][1], market) if ask else "0",
        "T": now_ms,
        "E": now_ms,
    }


def depth_levels(market: Market, limit: int) -> tuple[list[list[str]], list[list[str]]]:
    bids = [[_px(p, market), _qty(q, market)] for p, q in market.book("bid", limit)]
    asks = [[_px(p, market), _qty(q, market)] for p, q in market.book("ask", limit)]
    return bids, asks


def depth_event(
    market: Market, symbol: str, levels: int, update_id: int, now_ms: int
) -> dict[str, object]:
    bids, asks = depth_levels(market, levels)
    return {
        "e": "depthUpdate",
        "E": now_ms,
        "T": now_ms,
        "s": symbol,
        "U": update_id,
        "u": update_id,
        "pu": update_id - 1,
        "b": bids,
        "a": asks,
    }
