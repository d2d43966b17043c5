"""REST endpoints (Binance paths, security, weights) and the request pipeline around them."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from . import handlers
from .decimals import parse_int
from .errors import UNKNOWN_ERROR_503, BinanceError, err, mandatory
from .signing import verify
from .statefile import StateFileError

if TYPE_CHECKING:
    from .server import SimulatorServer

log = logging.getLogger(__name__)
SERVER_KEY: web.AppKey[SimulatorServer] = web.AppKey("server")
_API_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]{1,256}$")


@dataclass
class Call:
    server: SimulatorServer
    request: web.Request
    params: dict[str, str]
    # Request-protocol clock (wall time plus clock skew): serverTime and the timestamp check.
    server_ms: int
    # Data clock (simulated time): every time the exchange reports in its data.
    now_ms: int
    # Wall-clock ms when the request arrived (simReceivedAt, for latency measurements).
    received_at: float


Handler = Callable[[Call], Awaitable[object]]
Weight = Callable[[Mapping[str, str]], int]


@dataclass(frozen=True)
class Route:
    handler: Handler
    security: str  # NONE | USER_STREAM | SIGNED
    weight: Weight
    order: bool = False
    # Changes the account: saved to the state file before the answer goes out.
    writes: bool = False


def fixed_weight(n: int) -> Weight:
    return lambda _params: n


def with_symbol(with_: int, without: int) -> Weight:
    return lambda params: with_ if params.get("symbol") else without


def depth_weight(params: Mapping[str, str]) -> int:
    limit = int(params["limit"]) if params.get("limit", "").isdigit() else 500
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def klines_weight(params: Mapping[str, str]) -> int:
    limit = int(params["limit"]) if params.get("limit", "").isdigit() else 500
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


h = handlers
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/fapi/v1/ping"): Route(h.ping, "NONE", fixed_weight(1)),
    ("GET", "/fapi/v1/time"): Route(h.server_time, "NONE", fixed_weight(1)),
    ("GET", "/fapi/v1/exchangeInfo"): Route(h.exchange_info, "NONE", fixed_weight(1)),
    ("GET", "/fapi/v1/depth"): Route(h.depth, "NONE", depth_weight),
    ("GET", "/fapi/v1/klines"): Route(h.klines, "NONE", klines_weight),
    ("GET", "/fapi/v1/continuousKlines"): Route(h.klines, "NONE", klines_weight),
    ("GET", "/fapi/v1/markPriceKlines"): Route(h.klines, "NONE", klines_weight),
    ("GET", "/fapi/v1/ticker/price"): Route(h.ticker_price, "NONE", with_symbol(1, 2)),
    ("GET", "/fapi/v2/ticker/price"): Route(h.ticker_price, "NONE", with_symbol(1, 2)),
    ("GET", "/fapi/v1/ticker/bookTicker"): Route(h.book_ticker, "NONE", with_symbol(2, 5)),
    ("GET", "/fapi/v1/ticker/24hr"): Route(h.ticker_24hr, "NONE", with_symbol(1, 40)),
    ("GET", "/fapi/v1/premiumIndex"): Route(h.premium_index, "NONE", with_symbol(1, 10)),
    ("GET", "/fapi/v1/fundingInfo"): Route(h.funding_info, "NONE", fixed_weight(1)),
    ("POST", "/fapi/v1/order"): Route(
        h.new_order, "SIGNED", fixed_weight(0), order=True, writes=True
    ),
    ("GET", "/fapi/v1/order"): Route(h.query_order, "SIGNED", fixed_weight(1)),
    ("DELETE", "/fapi/v1/order"): Route(h.cancel_order, "SIGNED", fixed_weight(1), writes=True),
    ("DELETE", "/fapi/v1/allOpenOrders"): Route(
        h.cancel_all, "SIGNED", fixed_weight(1), writes=True
    ),
    ("GET", "/fapi/v1/openOrders"): Route(h.open_orders, "SIGNED", with_symbol(1, 40)),
    ("GET", "/fapi/v1/openOrder"): Route(h.open_order, "SIGNED", fixed_weight(1)),
    ("GET", "/fapi/v1/allOrders"): Route(h.all_orders, "SIGNED", fixed_weight(5)),
    ("GET", "/fapi/v1/userTrades"): Route(h.user_trades, "SIGNED", fixed_weight(5)),
    ("POST", "/fapi/v1/algoOrder"): Route(
        h.new_algo, "SIGNED", fixed_weight(0), order=True, writes=True
    ),
    ("GET", "/fapi/v1/algoOrder"): Route(h.query_algo, "SIGNED", fixed_weight(1)),
    ("DELETE", "/fapi/v1/algoOrder"): Route(h.cancel_algo, "SIGNED", fixed_weight(1), writes=True),
    ("DELETE", "/fapi/v1/algoOpenOrders"): Route(
        h.cancel_all_algos, "SIGNED", fixed_weight(1), writes=True
    ),
    ("GET", "/fapi/v1/openAlgoOrders"): Route(h.open_algos, "SIGNED", with_symbol(1, 40)),
    ("GET", "/fapi/v1/allAlgoOrders"): Route(h.all_algos, "SIGNED", fixed_weight(5)),
    ("POST", "/fapi/v1/leverage"): Route(h.leverage, "SIGNED", fixed_weight(1), writes=True),
    ("POST", "/fapi/v1/marginType"): Route(h.margin_type, "SIGNED", fixed_weight(1), writes=True),
    ("GET", "/fapi/v1/positionSide/dual"): Route(h.get_dual, "SIGNED", fixed_weight(30)),
    ("POST", "/fapi/v1/positionSide/dual"): Route(
        h.set_dual, "SIGNED", fixed_weight(1), writes=True
    ),
    ("GET", "/fapi/v1/multiAssetsMargin"): Route(h.multi_assets, "SIGNED", fixed_weight(30)),
    ("GET", "/fapi/v1/symbolConfig"): Route(h.symbol_config, "SIGNED", fixed_weight(5)),
    ("GET", "/fapi/v1/accountConfig"): Route(h.account_config, "SIGNED", fixed_weight(5)),
    ("GET", "/fapi/v1/commissionRate"): Route(h.commission_rate, "SIGNED", fixed_weight(20)),
    ("GET", "/fapi/v1/leverageBracket"): Route(h.leverage_bracket, "SIGNED", fixed_weight(1)),
    ("GET", "/fapi/v2/balance"): Route(h.balance, "SIGNED", fixed_weight(5)),
    ("GET", "/fapi/v3/balance"): Route(h.balance, "SIGNED", fixed_weight(5)),
    ("GET", "/fapi/v2/account"): Route(h.account_v2, "SIGNED", fixed_weight(5)),
    ("GET", "/fapi/v3/account"): Route(h.account_v3, "SIGNED", fixed_weight(5)),
    ("GET", "/fapi/v2/positionRisk"): Route(h.position_risk_v2, "SIGNED", fixed_weight(5)),
    ("GET", "/fapi/v3/positionRisk"): Route(h.position_risk_v3, "SIGNED", fixed_weight(5)),
    ("GET", "/fapi/v1/income"): Route(h.income, "SIGNED", fixed_weight(30)),
    ("POST", "/fapi/v1/listenKey"): Route(h.listen_key_new, "USER_STREAM", fixed_weight(1)),
    ("PUT", "/fapi/v1/listenKey"): Route(h.listen_key_keepalive, "USER_STREAM", fixed_weight(1)),
    ("DELETE", "/fapi/v1/listenKey"): Route(h.listen_key_close, "USER_STREAM", fixed_weight(1)),
    ("GET", "/api/v3/ping"): Route(h.ping, "NONE", fixed_weight(1)),
    ("GET", "/api/v3/time"): Route(h.server_time, "NONE", fixed_weight(1)),
    ("GET", "/api/v3/account"): Route(h.spot_account, "SIGNED", fixed_weight(20)),
    ("POST", "/sapi/v1/futures/transfer"): Route(
        h.futures_transfer, "SIGNED", fixed_weight(1), writes=True
    ),
    ("POST", "/sapi/v1/asset/transfer"): Route(
        h.universal_transfer, "SIGNED", fixed_weight(1), writes=True
    ),
    ("GET", "/sapi/v1/capital/config/getall"): Route(h.capital_config, "SIGNED", fixed_weight(10)),
    ("GET", "/sapi/v1/margin/allPairs"): Route(h.margin_pairs, "SIGNED", fixed_weight(1)),
}
_KNOWN_PATHS = {path for _, path in ROUTES}


def parse_params(raw_query: str, raw_body: str) -> dict[str, str]:
    """Query and form body both carry parameters; the query wins on a clash
    (docs/exchange-rules.md, "Signing and timestamps")."""
    params = dict(urllib.parse.parse_qsl(raw_body, keep_blank_values=True))
    params.update(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
    return params


def check_api_key(server: SimulatorServer, request: web.Request) -> None:
    key = request.headers.get("X-MBX-APIKEY", "")
    if key == server.config.api_key:
        return
    if not _API_KEY_RE.match(key):
        raise BinanceError(-2014, "API-key format invalid.", 401)
    raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def check_timestamp(params: Mapping[str, str], server_ms: int, default_window: int) -> None:
    timestamp = parse_int("timestamp", params.get("timestamp"), required=True)
    window = parse_int("recvWindow", params.get("recvWindow")) or default_window
    assert timestamp is not None
    if timestamp >= server_ms + 1000:
        raise BinanceError(
            -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if server_ms - timestamp > window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def json_response(status: int, body: object, headers: dict[str, str]) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )


async def dispatch(request: web.Request) -> web.StreamResponse:
    server = request.app[SERVER_KEY]
    method, path = request.method, request.path
    wall = time.time()
    wall_ms = int(wall * 1000)
    ip = request.remote or "127.0.0.1"
    route = ROUTES.get((method, path))
    limiter = server.limiter
    faults = server.faults
    headers: dict[str, str] = {}

    def finish(status: int, body: object) -> web.Response:
        headers["X-MBX-USED-WEIGHT-1M"] = str(limiter.used_weight(ip, wall_ms))
        if route is not None and route.order:
            count_10s, count_1m = limiter.order_counts(wall_ms)
            headers["X-MBX-ORDER-COUNT-10S"] = str(count_10s)
            headers["X-MBX-ORDER-COUNT-1M"] = str(count_1m)
        return json_response(status, body, headers)

    if route is None:
        if path in _KNOWN_PATHS:
            return finish(
                405, {"code": -1000, "msg": f"Method {method} is not allowed for {path}."}
            )
        return finish(404, {"code": -1000, "msg": f"{method} {path} is invalid."})
    skew_rule = None if faults.global_skew_ms() else faults.take("clock_skew", method, path)
    skew = faults.global_skew_ms() or (skew_rule.skew_ms if skew_rule else 0)
    try:
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.read()).decode("utf-8", errors="replace")
        params = parse_params(raw_query, raw_body)
        limiter.check_ban(ip, wall_ms)
        forced = faults.take("rate_limit", method, path)
        if forced:
            raise limiter.too_many(ip, wall_ms, forced.retry_after, forced.ban_seconds)
        limiter.add_weight(ip, route.weight(params), wall_ms)
        if faults.take("fail_503", method, path):
            return finish(503, err(UNKNOWN_ERROR_503).body())
        server_ms = wall_ms + skew
        if route.security != "NONE":
            check_api_key(server, request)
        if route.security == "SIGNED":
            if not params.get("timestamp"):
                raise mandatory("timestamp")
            verify(server.config.api_secret, raw_query, raw_body)
            check_timestamp(params, server_ms, server.config.recv_window_default)
        if route.order:
            limiter.add_order(wall_ms)
        timeout_rule = faults.take("apply_then_timeout", method, path)
        fail_after = faults.take("apply_then_503", method, path)
        delay_rule = faults.take("delay", method, path)
        server.catch_up()
        call = Call(server, request, params, server_ms, server.data_ms(), wall * 1000.0)
        # An account change is saved before anyone hears of it (the user-stream events only
        # leave once this request yields); a failed save makes the outcome unknown (503).
        saved = False
        try:
            body = await route.handler(call)
        finally:
            if server.flush():
                server.save_state()
                saved = True
        if route.writes and not saved:
            server.save_state()
        if timeout_rule:
            await asyncio.sleep(timeout_rule.delay_seconds or 30.0)
            if request.transport is not None:
                request.transport.close()
            return finish(
                504,
                {
                    "code": -1007,
                    "msg": "Timeout waiting for response from backend server. "
                    "Send status unknown; execution status unknown.",
                },
            )
        if fail_after:
            return finish(503, err(UNKNOWN_ERROR_503).body())
        if delay_rule:
            await asyncio.sleep(delay_rule.delay_seconds or 1.0)
        return finish(200, body)
    except BinanceError as error:
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        return finish(error.status, error.body())
    except StateFileError:
        log.exception("simulator request applied but not saved: %s %s", method, path)
        return finish(503, err(UNKNOWN_ERROR_503).body())
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("simulator request failed: %s %s", method, path)
        return finish(
            400, {"code": -1000, "msg": "An unknown error occured while processing the request."}
        )
