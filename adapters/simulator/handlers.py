"""Endpoint bodies. Each takes the parsed call and returns the JSON body Binance would send."""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from . import feeds, settings
from .decimals import ZERO, fixed, parse_decimal, parse_int
from .errors import INVALID_SYMBOL, BinanceError, err, mandatory
from .market import INTERVAL_MS
from .symbols import exchange_info as build_exchange_info
from .symbols import leverage_brackets, max_notional_for
from .validation import check_symbol

if TYPE_CHECKING:
    from .rest import Call

SEVEN_DAYS_MS = 7 * 86_400_000


def _limit(params: Mapping[str, str], default: int, maximum: int) -> int:
    limit = parse_int("limit", params.get("limit")) or default
    return max(1, min(limit, maximum))


def _optional_symbol(call: Call) -> str | None:
    return check_symbol(call.params, call.server.config.symbol, required=False)


# ---------------------------------------------------------------------- market data


async def ping(call: Call) -> object:
    return {}


async def server_time(call: Call) -> object:
    return {"serverTime": call.server_ms}


async def exchange_info(call: Call) -> object:
    return build_exchange_info(call.server.config, call.server_ms)


async def depth(call: Call) -> object:
    check_symbol(call.params, call.server.config.symbol)
    limit = parse_int("limit", call.params.get("limit")) or 500
    if limit not in (5, 10, 20, 50, 100, 500, 1000):
        raise BinanceError(-1130, "Invalid data sent for a parameter 'limit'.")
    market = call.server.market
    bids, asks = feeds.depth_levels(market, limit)
    return {
        "lastUpdateId": market.trade_id,
        "E": call.now_ms,
        "T": call.now_ms,
        "bids": bids,
        "asks": asks,
    }


async def klines(call: Call) -> object:
    params = call.params
    symbol = call.server.config.symbol
    if call.request.path.endswith("continuousKlines"):
        pair = params.get("pair")
        if not pair:
            raise mandatory("pair")
        if pair.upper() != symbol:
            raise err(INVALID_SYMBOL)
    else:
        check_symbol(params, symbol)
    interval = params.get("interval")
    if not interval:
        raise mandatory("interval")
    if interval not in INTERVAL_MS:
        raise BinanceError(-1120, "Invalid interval.")
    start = parse_int("startTime", params.get("startTime"))
    end = parse_int("endTime", params.get("endTime"))
    limit = _limit(params, 500, 1500)
    market = call.server.market
    bars = market.klines(interval, start, end, limit)
    return [feeds.kline_row(bar, interval, market) for bar in bars]


async def ticker_price(call: Call) -> object:
    server = call.server
    row = {
        "symbol": server.config.symbol,
        "price": fixed(server.market.last, server.config.rules.price_precision),
        "time": call.now_ms,
    }
    return row if _optional_symbol(call) else [row]


async def book_ticker(call: Call) -> object:
    market = call.server.market
    event = feeds.book_ticker_event(market, call.server.config.symbol, market.trade_id, call.now_ms)
    row = {
        "symbol": event["s"],
        "bidPrice": event["b"],
        "bidQty": event["B"],
        "askPrice": event["a"],
        "askQty": event["A"],
        "time": call.now_ms,
    }
    return row if _optional_symbol(call) else [row]


async def ticker_24hr(call: Call) -> object:
    server = call.server
    market = server.market
    bars = market.klines("1m", None, None, 1440)
    pp = server.config.rules.price_precision
    first, last = bars[0], market.last
    change = last - first.open
    row = {
        "symbol": server.config.symbol,
        "priceChange": fixed(change, pp),
        "priceChangePercent": fixed(change / first.open * 100, 3),
        "weightedAvgPrice": fixed(
            sum((b.quote_volume for b in bars), ZERO) / (sum((b.volume for b in bars), ZERO) or 1),
            pp,
        ),
        "lastPrice": fixed(last, pp),
        "lastQty": "0.001",
        "openPrice": fixed(first.open, pp),
        "highPrice": fixed(max(b.high for b in bars), pp),
        "lowPrice": fixed(min(b.low for b in bars), pp),
        "volume": fixed(sum((b.volume for b in bars), ZERO), 3),
        "quoteVolume": fixed(sum((b.quote_volume for b in bars), ZERO), 2),
        "openTime": first.open_time,
        "closeTime": call.now_ms,
        "firstId": first.first_trade_id,
        "lastId": market.trade_id,
        "count": sum(b.trades for b in bars),
    }
    return row if _optional_symbol(call) else [row]


async def premium_index(call: Call) -> object:
    server = call.server
    row = feeds.premium_index(
        server.config, server.market, server.exchange.next_funding_ms, call.now_ms
    )
    return row if _optional_symbol(call) else [row]


async def funding_info(call: Call) -> object:
    config = call.server.config
    return [
        {
            "symbol": config.symbol,
            "adjustedFundingRateCap": "0.02000000",
            "adjustedFundingRateFloor": "-0.02000000",
            "fundingIntervalHours": config.funding_interval_hours,
            "disclaimer": False,
        }
    ]


# ---------------------------------------------------------------------- orders


async def new_order(call: Call) -> object:
    exchange = call.server.exchange
    order, accepted, resp_type = exchange.new_order(call.params, call.now_ms, call.received_at)
    return order.to_binance(exchange.rules) if resp_type == "RESULT" else accepted


async def query_order(call: Call) -> object:
    exchange = call.server.exchange
    return exchange.query_order(call.params).to_binance(exchange.rules)


async def open_order(call: Call) -> object:
    exchange = call.server.exchange
    return exchange.query_order(call.params, open_only=True).to_binance(exchange.rules)


async def cancel_order(call: Call) -> object:
    exchange = call.server.exchange
    return exchange.cancel_order(call.params, call.now_ms).to_binance(exchange.rules)


async def cancel_all(call: Call) -> object:
    call.server.exchange.cancel_all(call.params, call.now_ms)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


async def open_orders(call: Call) -> object:
    _optional_symbol(call)
    exchange = call.server.exchange
    return [o.to_binance(exchange.rules) for o in exchange.open_orders()]


def _time_window(params: Mapping[str, str], now_ms: int) -> tuple[int, int]:
    start = parse_int("startTime", params.get("startTime"))
    end = parse_int("endTime", params.get("endTime"))
    if start is not None and end is not None and end - start > SEVEN_DAYS_MS:
        raise BinanceError(-4166, "Search window is restricted to recent 7 days only.")
    if start is None:
        start = (end if end is not None else now_ms) - SEVEN_DAYS_MS
    if end is None:
        end = start + SEVEN_DAYS_MS
    return start, end


async def all_orders(call: Call) -> object:
    _optional_symbol(call)
    exchange = call.server.exchange
    params = call.params
    order_id = parse_int("orderId", params.get("orderId"))
    limit = _limit(params, 500, 1000)
    orders = list(exchange.orders.values())
    if order_id is not None:
        orders = [o for o in orders if o.order_id >= order_id][:limit]
    else:
        start, end = _time_window(params, call.now_ms)
        orders = [o for o in orders if start <= o.time <= end][-limit:]
    return [o.to_binance(exchange.rules) for o in orders]


async def user_trades(call: Call) -> object:
    check_symbol(call.params, call.server.config.symbol)
    exchange = call.server.exchange
    params = call.params
    from_id = parse_int("fromId", params.get("fromId"))
    order_id = parse_int("orderId", params.get("orderId"))
    limit = _limit(params, 500, 1000)
    if from_id is not None and (params.get("startTime") or params.get("endTime")):
        raise BinanceError(-1128, "Combination of optional parameters invalid.")
    fills = exchange.fills
    if order_id is not None:
        fills = [f for f in fills if f.order_id == order_id]
    if from_id is not None:
        selected = [f for f in fills if f.trade_id >= from_id][:limit]
    else:
        start, end = _time_window(params, call.now_ms)
        selected = [f for f in fills if start <= f.time <= end][-limit:]
    return [f.to_binance(exchange.rules) for f in selected]


# ---------------------------------------------------------------------- algo orders


async def new_algo(call: Call) -> object:
    exchange = call.server.exchange
    algo, _resp_type = exchange.new_algo(call.params, call.now_ms, call.received_at)
    return algo.to_binance(exchange.rules)


async def query_algo(call: Call) -> object:
    exchange = call.server.exchange
    return exchange.find_algo(call.params, (-2013, "Order does not exist.")).to_binance(
        exchange.rules, query=True
    )


async def cancel_algo(call: Call) -> object:
    algo = call.server.exchange.cancel_algo(call.params, call.now_ms)
    return {
        "algoId": algo.algo_id,
        "clientAlgoId": algo.client_algo_id,
        "code": "200",
        "msg": "success",
    }


async def cancel_all_algos(call: Call) -> object:
    call.server.exchange.cancel_all_algos(call.params, call.now_ms)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


async def open_algos(call: Call) -> object:
    _optional_symbol(call)
    exchange = call.server.exchange
    return [a.to_binance(exchange.rules, query=True) for a in exchange.open_algos()]


async def all_algos(call: Call) -> object:
    check_symbol(call.params, call.server.config.symbol)
    exchange = call.server.exchange
    params = call.params
    algo_id = parse_int("algoId", params.get("algoId"))
    limit = _limit(params, 500, 1000)
    algos = list(exchange.algos.values())
    if algo_id is not None:
        algos = [a for a in algos if a.algo_id >= algo_id][:limit]
    else:
        start, end = _time_window(params, call.now_ms)
        algos = [a for a in algos if start <= a.create_time <= end][-limit:]
    return [a.to_binance(exchange.rules, query=True) for a in algos]


# ---------------------------------------------------------------------- settings


async def leverage(call: Call) -> object:
    return settings.set_leverage(call.server.exchange, call.params, call.now_ms)


async def margin_type(call: Call) -> object:
    settings.set_margin_type(call.server.exchange, call.params)
    return {"code": 200, "msg": "success"}


async def get_dual(call: Call) -> object:
    return {"dualSidePosition": call.server.exchange.account.dual_side}


async def set_dual(call: Call) -> object:
    settings.set_dual_side(call.server.exchange, call.params)
    return {"code": 200, "msg": "success"}


async def multi_assets(call: Call) -> object:
    return {"multiAssetsMargin": False}


async def symbol_config(call: Call) -> object:
    _optional_symbol(call)
    account = call.server.exchange.account
    return [
        {
            "symbol": call.server.config.symbol,
            "marginType": account.margin_type,
            "isAutoAddMargin": False,
            "leverage": account.leverage,
            "maxNotionalValue": max_notional_for(account.leverage),
        }
    ]


async def account_config(call: Call) -> object:
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "dualSidePosition": call.server.exchange.account.dual_side,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
    }


async def commission_rate(call: Call) -> object:
    config = call.server.config
    check_symbol(call.params, config.symbol)
    return {
        "symbol": config.symbol,
        "makerCommissionRate": str(config.maker_fee),
        "takerCommissionRate": str(config.taker_fee),
        "rpiCommissionRate": "0",
    }


async def leverage_bracket(call: Call) -> object:
    row = leverage_brackets(call.server.config.symbol)
    return row if _optional_symbol(call) else [row]


# ---------------------------------------------------------------------- account


async def balance(call: Call) -> object:
    exchange = call.server.exchange
    return [exchange.account.balance_row(exchange.mark, exchange.open_orders(), call.now_ms)]


async def account_v2(call: Call) -> object:
    exchange = call.server.exchange
    return exchange.account.account_v2(exchange.symbol, exchange.mark, exchange.open_orders())


async def account_v3(call: Call) -> object:
    exchange = call.server.exchange
    return exchange.account.account_v3(exchange.symbol, exchange.mark, exchange.open_orders())


async def position_risk_v2(call: Call) -> object:
    _optional_symbol(call)
    exchange = call.server.exchange
    return [exchange.account.position_v2(exchange.symbol, exchange.mark)]


async def position_risk_v3(call: Call) -> object:
    _optional_symbol(call)
    exchange = call.server.exchange
    orders = exchange.open_orders()
    if not exchange.account.position.amount and not orders:
        return []
    return [exchange.account.position_v3(exchange.symbol, exchange.mark, orders)]


async def income(call: Call) -> object:
    params = call.params
    symbol = _optional_symbol(call)
    kind = params.get("incomeType")
    start = parse_int("startTime", params.get("startTime"))
    end = parse_int("endTime", params.get("endTime"))
    limit = _limit(params, 100, 1000)
    page = parse_int("page", params.get("page")) or 1
    rows = call.server.exchange.account.income
    if start is None and end is None:
        start = call.now_ms - SEVEN_DAYS_MS
    selected = [
        r
        for r in rows
        if (not symbol or r["symbol"] == symbol)
        and (not kind or r["incomeType"] == kind)
        and (start is None or int(str(r["time"])) >= start)
        and (end is None or int(str(r["time"])) <= end)
    ]
    return selected[(page - 1) * limit : page * limit]


# ---------------------------------------------------------------------- user stream


async def listen_key_new(call: Call) -> object:
    return {"listenKey": call.server.listen_keys.create(time.time())}


async def listen_key_keepalive(call: Call) -> object:
    return {"listenKey": call.server.listen_keys.keepalive(time.time())}


async def listen_key_close(call: Call) -> object:
    server = call.server
    key = server.listen_keys.close()
    if key:
        server.hub.drop_users(key)
    return {}


# ---------------------------------------------------------------------- spot side


async def spot_account(call: Call) -> object:
    account = call.server.exchange.account
    return {
        "makerCommission": 15,
        "takerCommission": 15,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": "0.00150000",
            "taker": "0.00150000",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": account.update_time,
        "accountType": "SPOT",
        "balances": [
            {"asset": "USDT", "free": fixed(account.spot_free, 8), "locked": "0.00000000"}
        ],
        "permissions": ["SPOT"],
        "uid": 354937868,
    }


def _amount(call: Call) -> Decimal:
    asset = call.params.get("asset")
    if not asset:
        raise mandatory("asset")
    if asset != "USDT":
        raise BinanceError(-5002, "You have insufficient balance.")
    amount = parse_decimal("amount", call.params.get("amount"))
    assert amount is not None
    return amount


async def futures_transfer(call: Call) -> object:
    amount = _amount(call)
    kind = call.params.get("type")
    if kind not in ("1", "2"):
        raise BinanceError(-1130, "Invalid data sent for a parameter 'type'.")
    return {"tranId": settings.transfer(call.server.exchange, kind == "1", amount, call.now_ms)}


async def universal_transfer(call: Call) -> object:
    amount = _amount(call)
    kind = call.params.get("type")
    if kind not in ("MAIN_UMFUTURE", "UMFUTURE_MAIN"):
        raise BinanceError(-1130, "Invalid data sent for a parameter 'type'.")
    return {
        "tranId": settings.transfer(
            call.server.exchange, kind == "MAIN_UMFUTURE", amount, call.now_ms
        )
    }


async def capital_config(call: Call) -> object:
    account = call.server.exchange.account
    return [
        {
            "coin": "USDT",
            "name": "TetherUS",
            "free": fixed(account.spot_free, 8),
            "locked": "0",
            "depositAllEnable": True,
            "withdrawAllEnable": True,
            "trading": True,
            "networkList": [],
        }
    ]


async def margin_pairs(call: Call) -> object:
    return []
