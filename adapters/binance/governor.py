"""The REST governor: every call to the exchange goes through here.

It keeps the request weight and order counts under budget by reading the exchange's own headers,
honours Retry-After on 429, stops all REST while an IP ban (418) lasts, re-syncs the server-time
offset on -1021, and turns every failure into one of the three outcomes the engine understands:
rejected (definite), unavailable (nothing applied, try later) or unknown (look it up).

After a 429 the governor is *limited*: every request waits for Retry-After, then exactly one goes
out as a probe while the others queue behind it; only when the probe is answered without a 429
do the rest follow. Releasing every waiter at once when Retry-After ends is how a 429 becomes a
418 ban (the exchange counts requests sent while it asked us to wait).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
import structlog
from binance.exceptions import BinanceAPIException, BinanceRequestException

from adapters.binance.client import (
    RECV_WINDOW_MS,
    REQUEST_TIMEOUT_SECONDS,
    GovernedAsyncClient,
    local_ms,
)
from adapters.binance.metrics import Metrics
from aggregates.ports import ExchangeRejected, ExchangeUnavailable, UnknownOutcome

log = structlog.get_logger(__name__)

Api = Literal["futures", "spot", "margin"]

WEIGHT_LIMIT_1M = 2400
ORDER_LIMIT_10S = 300
ORDER_LIMIT_1M = 1200
# Stop a little short of the published limits: other programs on the same IP share the weight.
BUDGET_SHARE = 0.9
MAX_RATE_LIMIT_RETRIES = 3
# After a 429, requests go one at a time for this long past its Retry-After, not only until
# one passes: a limit still in force answers the next 429 while no other request is in flight
# (one sent beside it would reach the exchange inside the penalty window, and earn a ban).
SERIAL_SECONDS = 5.0
# aiohttp's own timeout covers the request; this is the outer bound whatever the library does.
REQUEST_DEADLINE_SECONDS = REQUEST_TIMEOUT_SECONDS + 2.0
UNKNOWN_CODES = {-1006, -1007}
_BANNED_UNTIL = re.compile(r"banned until (\d{10,})")


class RestBanned(ExchangeUnavailable):
    """The IP is banned (HTTP 418); no REST call is sent before `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"REST paused: IP banned until {until.isoformat()}")
        self.banned_until: datetime | None = until


class RestGovernor:
    def __init__(
        self,
        client: GovernedAsyncClient,
        metrics: Metrics,
        *,
        on_ban: Callable[[datetime], None] | None = None,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.on_ban = on_ban
        self.weight_limit_1m = WEIGHT_LIMIT_1M
        self.order_limit_10s = ORDER_LIMIT_10S
        self.order_limit_1m = ORDER_LIMIT_1M
        self.used_weight = 0
        self.order_count_10s = 0
        self.order_count_1m = 0
        self._resume_at = 0.0  # monotonic: no request before this (Retry-After)
        self._limited = False  # a 429 was answered and no request has passed since
        self._serial_until = 0.0  # monotonic: requests one at a time until then
        self._probe = asyncio.Lock()  # while limited, one request at a time
        self._banned_until = 0.0  # wall clock seconds
        self._headers_at = 0.0  # wall clock of the last header reading
        client.on_response = self._read_headers

    @property
    def banned_until(self) -> datetime | None:
        if time.time() < self._banned_until:
            return datetime.fromtimestamp(self._banned_until, UTC)
        return None

    # ---- the one entry point --------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        api: Api = "futures",
        signed: bool = True,
        version: int = 1,
        idempotent: bool = True,
        order: bool = False,
    ) -> Any:
        """Send one request; retry a read after 429 and any request once after -1021."""
        resynced = False
        rate_limited = 0
        while True:
            await self._await_clearance(order=order)
            try:
                if self._limited or time.monotonic() < self._serial_until:
                    async with self._probe:
                        # Whoever holds the lock while still limited is the probe.
                        await self._await_clearance(order=order)
                        result = await self._attempt(method, path, params, api, signed, version)
                        self._limited = False
                        return result
                return await self._attempt(method, path, params, api, signed, version)
            except BinanceAPIException as exc:
                if exc.status_code == 418:
                    raise self._banned(exc) from exc
                if exc.status_code == 429:
                    self._rate_limited(exc)
                    rate_limited += 1
                    if idempotent and rate_limited <= MAX_RATE_LIMIT_RETRIES:
                        continue
                    raise ExchangeUnavailable(f"rate limited: {exc.message}") from exc
                if exc.code == -1021 and not resynced:
                    # Rejected before processing: resending the same request is safe.
                    resynced = True
                    await self.sync_time()
                    continue
                raise self._classify(exc, method, path) from exc
            except TimeoutError as exc:
                raise self._unknown(f"{method} {path}: timed out", exc) from exc
            except aiohttp.ClientConnectorError as exc:
                # The connection was never made, so the request was never sent.
                self.metrics.inc("unavailable")
                log.warning("exchange unreachable", method=method, path=path, error=str(exc))
                raise ExchangeUnavailable(f"{method} {path}: {exc}") from exc
            except (aiohttp.ClientError, BinanceRequestException) as exc:
                raise self._unknown(f"{method} {path}: {type(exc).__name__}: {exc}", exc) from exc

    async def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        api: Api,
        signed: bool,
        version: int,
    ) -> Any:
        self.metrics.inc("requests")
        async with asyncio.timeout(REQUEST_DEADLINE_SECONDS):
            return await self._send(method, path, dict(params or {}), api, signed, version)

    async def sync_time(self) -> int:
        """Set the client's timestamp offset from the futures server time; return it (ms)."""
        await self._await_clearance(order=False)
        before = local_ms()
        try:
            async with asyncio.timeout(REQUEST_DEADLINE_SECONDS):
                answer = await self._send("get", "time", {}, "futures", False, 1)
        except BinanceAPIException as exc:
            # Classified as every other call is: a ban at start-up is waited out, not a crash.
            if exc.status_code == 418:
                raise self._banned(exc) from exc
            if exc.status_code == 429:
                self._rate_limited(exc)
                raise ExchangeUnavailable(f"rate limited: {exc.message}") from exc
            raise self._classify(exc, "get", "time") from exc
        after = local_ms()
        offset = int(answer["serverTime"]) - (before + after) // 2
        self.client.timestamp_offset = offset
        self.metrics.inc("time_resyncs")
        log.info("server time synced", offset_ms=offset, round_trip_ms=after - before)
        return offset

    async def load_limits(self) -> None:
        """Take the published limits from exchangeInfo (they differ per account tier)."""
        info = await self.request("get", "exchangeInfo", signed=False)
        for limit in info.get("rateLimits", []) if isinstance(info, dict) else []:
            try:
                kind, interval = limit["rateLimitType"], limit["interval"]
                seconds = int(limit.get("intervalNum", 1)) * {"SECOND": 1, "MINUTE": 60}[interval]
                value = int(limit["limit"])
            except (KeyError, TypeError, ValueError):
                log.warning("unreadable rate limit in exchangeInfo", limit=repr(limit)[:200])
                continue
            if kind == "REQUEST_WEIGHT" and seconds == 60:
                self.weight_limit_1m = value
            elif kind == "ORDERS" and seconds == 10:
                self.order_limit_10s = value
            elif kind == "ORDERS" and seconds == 60:
                self.order_limit_1m = value
        log.info(
            "rate limits",
            weight_1m=self.weight_limit_1m,
            orders_10s=self.order_limit_10s,
            orders_1m=self.order_limit_1m,
        )

    # ---- internals ------------------------------------------------------------------------
    async def _send(
        self, method: str, path: str, params: dict[str, Any], api: Api, signed: bool, version: int
    ) -> Any:
        if signed:
            # python-binance only moves a signed GET's parameters into the query string when
            # the dict it was given is non-empty; the value is replaced by REQUEST_RECVWINDOW.
            params.setdefault("recvWindow", RECV_WINDOW_MS)
        kwargs: dict[str, Any] = {"data": params} if params else {}
        if api == "futures":
            return await self.client._request_futures_api(
                method, path, signed, version=version, **kwargs
            )
        if api == "margin":
            return await self.client._request_margin_api(
                method, path, signed, version=version, **kwargs
            )
        return await self.client._request_api(method, path, signed, f"v{version}", **kwargs)

    async def _await_clearance(self, *, order: bool) -> None:
        banned = self.banned_until
        if banned is not None:
            self.metrics.inc("unavailable")
            raise RestBanned(banned)
        wait = self._resume_at - time.monotonic()
        wait = max(wait, self._budget_wait(order=order))
        if wait > 0:
            self.metrics.inc("budget_waits")
            log.info("holding REST calls", seconds=round(wait, 3))
            await asyncio.sleep(wait)

    def _budget_wait(self, *, order: bool) -> float:
        """Seconds until the exchange's window resets, if the last headers say we are near it."""
        now = time.time()
        waits = [0.0]
        same_minute = now // 60 == self._headers_at // 60
        if self.used_weight >= self.weight_limit_1m * BUDGET_SHARE and same_minute:
            waits.append(60 - now % 60)
        if order:
            if self.order_count_10s >= self.order_limit_10s * BUDGET_SHARE and (
                now // 10 == self._headers_at // 10
            ):
                waits.append(10 - now % 10)
            if self.order_count_1m >= self.order_limit_1m * BUDGET_SHARE and same_minute:
                waits.append(60 - now % 60)
        return max(waits)

    def _read_headers(self, status: int, headers: Mapping[str, str]) -> None:
        self._headers_at = time.time()
        for name, attr in (
            ("X-MBX-USED-WEIGHT-1M", "used_weight"),
            ("X-MBX-ORDER-COUNT-10S", "order_count_10s"),
            ("X-MBX-ORDER-COUNT-1M", "order_count_1m"),
        ):
            value = headers.get(name)
            if value is not None and value.isdigit():
                setattr(self, attr, int(value))

    def _rate_limited(self, exc: BinanceAPIException) -> None:
        retry_after = _retry_after(exc, default=1.0)
        # A small margin: the exchange counts whole seconds and sending early earns a ban.
        self._resume_at = max(self._resume_at, time.monotonic() + retry_after + 0.05)
        self._serial_until = max(self._serial_until, self._resume_at + SERIAL_SECONDS)
        self._limited = True
        self.metrics.inc("rate_limited")
        log.warning("rate limited (429)", retry_after=retry_after, message=exc.message)

    def _banned(self, exc: BinanceAPIException) -> RestBanned:
        match = _BANNED_UNTIL.search(exc.message or "")
        if match:
            until = int(match.group(1)) / 1000
        else:
            until = time.time() + _retry_after(exc, default=120.0)
        self._banned_until = max(self._banned_until, until)
        self.metrics.inc("banned")
        banned = datetime.fromtimestamp(self._banned_until, UTC)
        log.error("IP banned (418): all REST calls stopped", until=banned.isoformat())
        if self.on_ban is not None:
            self.on_ban(banned)
        return RestBanned(banned)

    def _classify(self, exc: BinanceAPIException, method: str, path: str) -> Exception:
        status, code, message = exc.status_code, int(exc.code or 0), exc.message or ""
        if code in UNKNOWN_CODES or status in (408, 504):
            return self._unknown(f"{method} {path}: {status} {code} {message}", exc)
        if status >= 500:
            if "Service Unavailable" in message or "Internal error; unable to process" in message:
                self.metrics.inc("unavailable")
                log.warning("exchange unavailable", method=method, path=path, status=status)
                return ExchangeUnavailable(f"{method} {path}: {status} {message}")
            # 503 "Unknown error…", HTML or empty bodies: the request may have been executed.
            return self._unknown(f"{method} {path}: {status} {code} {message}", exc)
        self.metrics.inc("rejections")
        log.info(
            "exchange rejected", method=method, path=path, status=status, code=code, msg=message
        )
        return ExchangeRejected(code, message, status)

    def _unknown(self, description: str, exc: BaseException) -> UnknownOutcome:
        self.metrics.inc("unknown_outcomes")
        log.warning("unknown outcome", detail=description, error_type=type(exc).__name__)
        return UnknownOutcome(description)


def _retry_after(exc: BinanceAPIException, *, default: float) -> float:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default
