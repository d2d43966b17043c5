"""SimulatorServer (in a running asyncio loop) and SimulatorThread (own loop, for sync code)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from . import feeds
from .clock import SimClock
from .config import SimulatorConfig
from .decimals import fixed
from .exchange import Exchange
from .faults import FaultBook, FaultRule
from .market import MINUTE_MS, Market, Tick, bucket_end, bucket_start
from .ratelimit import RateLimiter
from .rest import SERVER_KEY, dispatch
from .snapshot import Restored, SnapshotError, StateEncoder, decode
from .statefile import StateFileError, StateLock, read_state, write_state
from .streams import ListenKeys, StreamHub, Subscriber, normalize_stream

log = logging.getLogger(__name__)
T = TypeVar("T")
_KLINE_RE = re.compile(
    r"^(?P<sym>[a-z0-9]+?)(?P<perp>_perpetual)?@(?P<kind>kline|continuousKline)_(?P<i>\w+)$"
)
_DEPTH_RE = re.compile(r"^[a-z0-9]+@depth(?P<n>5|10|20)?(@\d+ms)?$")


class StateWriteError(StateFileError):
    """An account change could not be saved: its outcome is unknown to the client."""


class SimulatorServer:
    """The exchange on one loopback port.

    Two clocks: the data clock (``data_ms``, simulated time) stamps everything the exchange
    reports (trades, orders, events, income, klines, marks, funding); the request-protocol clock
    (wall time plus any clock_skew fault) serves ``/time``, checks timestamps and drives rate
    limits, bans and listenKey expiry, so real clients sign correctly at any speed.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.faults = FaultBook(self.config.seed)
        self.hub = StreamHub(self.faults, self.config.ws_ping_interval)
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._driver: asyncio.Task[None] | None = None
        self._lock: StateLock | None = None
        self._build_world(paused=False)

    def _build_world(self, paused: bool, start_ms: int | None = None) -> None:
        config = self.config
        self.clock = SimClock(config.speed, start_ms=start_ms)
        if paused:
            self.clock.pause()
        self.market = Market(config, self.clock.start_ms)
        self.exchange = Exchange(config, self.market)
        self.listen_keys = ListenKeys(config.seed, config.listen_key_ttl_seconds)
        self._fresh_runtime()

    def _fresh_runtime(self) -> None:
        config = self.config
        self.limiter = RateLimiter(
            config.weight_limit_per_minute,
            config.orders_limit_per_10s,
            config.orders_limit_per_minute,
        )
        self.kline_closes: deque[dict[str, float | int]] = deque(maxlen=2000)
        self._update_id = 1
        self._last_mark_1s = 0.0
        self._last_mark_3s = 0.0
        self._last_data_ms = self.clock.now_ms()
        self._encoder = StateEncoder()
        self._saved_tick = -1
        self._saved_at = 0.0

    def _adopt(self, restored: Restored) -> None:
        self.clock = SimClock(self.config.speed, start_ms=restored.sim_ms)
        self.market = restored.market
        self.exchange = restored.exchange
        self.listen_keys = restored.listen_keys
        self._fresh_runtime()

    def data_ms(self, at: int | None = None) -> int:
        """Data-clock time for what happens now (or at ``at``, a tick's time); never goes back."""
        candidate = self.clock.now_ms() if at is None else at
        if candidate > self._last_data_ms:
            self._last_data_ms = candidate
        return self._last_data_ms

    # ------------------------------------------------------------------ state file

    @property
    def state_file(self) -> Path | None:
        return Path(self.config.state_file) if self.config.state_file else None

    def _open_state(self, path: Path) -> None:
        """Lock the state file, continue from it if it exists, and save at once."""
        lock = StateLock(path).acquire()
        try:
            text = read_state(path)
            if text is not None:
                try:
                    self._adopt(decode(text, self.config))
                except SnapshotError as exc:
                    raise StateFileError(
                        f"{path}: cannot continue from this state file: {exc}. "
                        "Fix or remove it (python -m alphaengine paper-reset starts over)."
                    ) from exc
            self._lock = lock
            self.save_state()
        except BaseException:
            self._lock = None
            lock.release()
            raise

    def save_state(self) -> None:
        """Write the whole exchange to the state file (no-op without one)."""
        path = self.state_file
        if path is None or self._lock is None:
            return
        text = self._encoder.encode(self.config, self.data_ms(), self.exchange, self.listen_keys)
        try:
            write_state(path, text)
        except OSError as exc:
            raise StateWriteError(f"{path}: cannot save the simulator state: {exc}") from exc
        self._saved_tick = self.market.tick_index
        self._saved_at = time.monotonic()

    def _save_after_tick(self) -> None:
        try:
            self.save_state()
        except StateWriteError:
            log.exception("simulator state not saved")

    def _save_on_timer(self) -> None:
        if self._lock is None or self.market.tick_index == self._saved_tick:
            return
        if time.monotonic() - self._saved_at >= self.config.state_save_interval:
            self._save_after_tick()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        path = self.state_file
        if path is not None and self._lock is None:
            self._open_state(path)
        # Simulated time starts when serving starts, not when the object was built.
        if not self.clock.paused:
            self.clock.resume()
        app = web.Application()
        app[SERVER_KEY] = self
        for root in ("", "/market", "/public", "/private"):
            app.router.add_get(root + "/ws", self._ws_handler)
            app.router.add_get(root + "/ws/{tail:.*}", self._ws_handler)
            app.router.add_get(root + "/stream", self._ws_handler)
        app.router.add_get("/_sim/state", self._sim_state)
        app.router.add_post("/_sim/reset", self._sim_reset)
        app.router.add_post("/_sim/clock", self._sim_clock)
        app.router.add_post("/_sim/price", self._sim_price)
        app.router.add_post("/_sim/faults", self._sim_add_fault)
        app.router.add_delete("/_sim/faults", self._sim_clear_faults)
        app.router.add_get("/_sim/faults", self._sim_list_faults)
        app.router.add_route("*", "/{tail:.*}", dispatch)
        # A short shutdown timeout: stop() must not wait on clients that never answer a close.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        try:
            await self._runner.setup()
            site = web.TCPSite(self._runner, host, port)
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            self._close_state()
            raise
        server = site._server
        assert server is not None and hasattr(server, "sockets")
        self.host = host
        self.port = int(server.sockets[0].getsockname()[1])
        self._driver = asyncio.create_task(self._drive())

    async def stop(self) -> None:
        if self._driver:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
            self._driver = None
        await self.hub.close_all()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
        self._close_state()

    def _close_state(self) -> None:
        if self._lock is None:
            return
        try:
            self.save_state()
        except StateWriteError:
            log.exception("simulator state not saved at shutdown")
        finally:
            self._lock.release()
            self._lock = None

    # ------------------------------------------------------------------ market driver

    async def _drive(self) -> None:
        while True:
            try:
                self.catch_up()
                self._wall_timers()
                self._save_on_timer()
            except Exception:
                log.exception("simulator market step failed")
            wait = self.clock.wall_seconds_until(self.market.next_tick_ms)
            await asyncio.sleep(0.25 if wait is None else min(0.25, max(0.005, wait)))

    def catch_up(self) -> None:
        """Run every tick that is due by the data clock (a request sees the market of now)."""
        sim_now = self.clock.now_ms()
        closed = False
        while self.market.due(sim_now):
            tick = self.market.advance()
            self._on_tick(tick)
            closed = closed or tick.closed is not None
        if closed:
            # Before the closing klines go out (they leave once this returns and the loop
            # yields): a restart never has to regenerate a candle a client saw closed.
            self._save_after_tick()

    def _on_tick(self, tick: Tick) -> None:
        stamp = self.data_ms(tick.time_ms)
        self.exchange.on_tick(stamp, time.time() * 1000.0)
        # Saved before the user-stream events go out: no client sees an unsaved change.
        if self.flush():
            self._save_after_tick()
        self._publish_market(tick, stamp)

    def flush(self) -> bool:
        """Hand the exchange's pending user-stream batches to the sockets; True if there were."""
        batches = self.exchange.drain()
        if batches:
            self.hub.publish_user(batches, self.listen_keys.active(time.time()))
        return bool(batches)

    def _publish_market(self, tick: Tick, now_ms: int) -> None:
        symbol = self.config.symbol.lower()
        market = self.market
        self._update_id += 1
        for stream in self.hub.wanted():
            if stream == f"{symbol}@aggTrade":
                self.hub.publish_market(
                    stream, feeds.agg_trade_event(tick, market, self.config.symbol, now_ms)
                )
            elif stream == f"{symbol}@bookTicker":
                self.hub.publish_market(
                    stream,
                    feeds.book_ticker_event(market, self.config.symbol, self._update_id, now_ms),
                )
            elif (depth := _DEPTH_RE.match(stream)) and stream.startswith(symbol + "@"):
                levels = int(depth.group("n") or 20)
                self.hub.publish_market(
                    stream,
                    feeds.depth_event(market, self.config.symbol, levels, self._update_id, now_ms),
                )
            elif (kline := _KLINE_RE.match(stream)) and kline.group("sym") == symbol:
                self._publish_kline(stream, kline.group("kind"), kline.group("i"), tick, now_ms)
        if tick.closed is not None:
            # sentAt is wall-clock: latency measurements compare it with simReceivedAt.
            self.kline_closes.append(
                {"openTime": tick.closed.open_time, "sentAt": time.time() * 1000.0}
            )

    def _publish_kline(
        self, stream: str, kind: str, interval: str, tick: Tick, now_ms: int
    ) -> None:
        from .market import INTERVAL_MS

        if interval not in INTERVAL_MS:
            return
        closed = tick.closed
        if closed is not None and closed.open_time + MINUTE_MS == bucket_end(
            bucket_start(closed.open_time, interval), interval
        ):
            bar = self.market.klines(interval, None, closed.open_time, 1)[-1]
        else:
            bar = self.market.bar(interval)
        if kind == "kline":
            event = feeds.kline_event(bar, interval, self.market, self.config.symbol, now_ms)
        else:
            event = feeds.continuous_kline_event(
                bar, interval, self.market, self.config.symbol, now_ms
            )
        self.hub.publish_market(stream, event)

    def _wall_timers(self) -> None:
        now = time.time()
        expired = self.listen_keys.due_expiry(now)
        if expired:
            self._push_listen_key_expired(expired)
        if self.faults.peek("stall_websockets") is None:
            self.hub.unstall_all()
        symbol = self.config.symbol.lower()
        now_ms = self.data_ms()
        # The cadence of mark-price pushes is wall time; their contents are data-clock time.
        if now - self._last_mark_1s >= 1.0:
            self._last_mark_1s = now
            event = feeds.mark_price_event(
                self.config, self.market, self.exchange.next_funding_ms, now_ms
            )
            self.hub.publish_market(f"{symbol}@markPrice@1s", event)
            if now - self._last_mark_3s >= 3.0:
                self._last_mark_3s = now
                self.hub.publish_market(f"{symbol}@markPrice", event)

    def _push_listen_key_expired(self, key: str) -> None:
        event = {"e": "listenKeyExpired", "E": self.data_ms(), "listenKey": key}
        self.hub.send_user(event, key)

    # ------------------------------------------------------------------ WebSocket routes

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")
        root = parts[0] if parts[0] in ("market", "public", "private") else ""
        if root:
            parts = parts[1:]
        mode, tail = parts[0], "/".join(parts[1:])
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, max_msg_size=1 << 20, timeout=1.0)
        query = request.rel_url.query
        names: list[str]
        if mode == "stream":
            names = [n for n in query.get("streams", "").split("/") if n]
            combined = True
        else:
            names = [n for n in tail.split("/") if n]
            combined = False
        # ccxt.pro opens /market/ws/<n> with a bare index and SUBSCRIBEs later, so only the
        # private and legacy roots read a name without "@" as a listenKey.
        listen_key = query.get("listenKey") if root in ("", "private") else None
        if listen_key is None and root == "private":
            listen_key = next(iter(names), None)
        elif listen_key is None and not root:
            listen_key = next((n for n in names if "@" not in n and len(n) >= 20), None)
        if listen_key is not None:
            wanted = query.get("events")
            events = frozenset(e for e in wanted.split("/") if e) if wanted else None
            sub = Subscriber(ws, combined=combined, listen_key=listen_key, events=events)
            if self.listen_keys.active(time.time()) != listen_key:
                await ws.prepare(request)
                await ws.close(code=1008, message=b"This listenKey does not exist.")
                return ws
            return await self.hub.serve(request, sub, user=True)
        streams = {normalize_stream(n) for n in names if "@" in n}
        sub = Subscriber(ws, combined=combined, streams=streams)
        return await self.hub.serve(request, sub, user=False)

    # ------------------------------------------------------------------ control (Python)

    def add_fault(self, rule: FaultRule) -> None:
        if rule.kind == "drop_websockets":
            self.hub.drop_all()
            return
        if rule.kind == "raw_frames":
            self.hub.send_raw(rule.target == "user", rule.frames or [])
            return
        if rule.kind == "expire_listen_key":
            key = self.listen_keys.close()
            if key:
                self._push_listen_key_expired(key)
            return
        self.faults.add(rule)
        if rule.kind == "stall_websockets":
            until = time.time() + (rule.duration_seconds or 10 * 365 * 86_400.0)
            self.hub.stall_all(until)

    def clear_faults(self) -> None:
        self.faults.clear()
        self.hub.unstall_all()

    def pause_clock(self) -> None:
        self.clock.pause()

    def resume_clock(self) -> None:
        self.clock.resume()

    def step_clock(self, n_candles: int = 1) -> None:
        self.clock.advance(n_candles * MINUTE_MS)
        self.catch_up()

    def set_speed(self, speed: float) -> None:
        self.clock.set_speed(speed)

    def set_price(self, target: Decimal, mode: str = "jump") -> None:
        if mode == "jump":
            self._on_tick(self.market.jump(Decimal(target), self.data_ms()))
        elif mode == "drift":
            self.market.drift_to(Decimal(target))
        else:
            raise ValueError("mode must be 'jump' or 'drift'")
        # The path changed outside its generator: a restart must see it.
        self.save_state()

    def reset(self) -> None:
        """A fresh account and path (same seed). Ids and the data clock go on from where they
        were, so nothing before the reset can be mistaken for something after it."""
        self.hub.drop_users()
        self.clear_faults()
        previous = self.exchange
        now = self.data_ms()
        self._build_world(paused=self.clock.paused, start_ms=-(-now // MINUTE_MS) * MINUTE_MS)
        self.exchange.continue_ids_of(previous)
        self.save_state()

    def state(self) -> dict[str, Any]:
        exchange = self.exchange
        rules = exchange.rules
        account = exchange.account
        now_ms = self.data_ms()
        orders = []
        for order in exchange.orders.values():
            row = order.to_binance(rules)
            row["simReceivedAt"] = order.received_at
            orders.append(row)
        algo_orders = []
        for algo in exchange.algos.values():
            row = algo.to_binance(rules, query=True)
            row["simReceivedAt"] = algo.received_at
            algo_orders.append(row)
        return {
            "balances": [account.balance_row(exchange.mark, exchange.open_orders(), now_ms)],
            "spot": {"asset": "USDT", "free": fixed(account.spot_free, 8), "locked": "0.00000000"},
            "position": account.position_v2(exchange.symbol, exchange.mark),
            "orders": orders,
            "algo_orders": algo_orders,
            "trades": [f.to_binance(rules) for f in exchange.fills],
            "income": list(account.income),
            "client_order_id_counts": dict(exchange.client_id_counts),
            "mark_price": fixed(self.market.mark, 8),
            "last_price": fixed(self.market.last, rules.price_precision),
            "server_time": int(time.time() * 1000) + self.faults.global_skew_ms(),
            "sim_time": now_ms,
            "listen_key": self.listen_keys.active(time.time()),
            "kline_closes": list(self.kline_closes),
            "clock": {"paused": self.clock.paused, "speed": self.clock.speed},
            "faults": [r.to_json() for r in self.faults.rules],
        }

    # ------------------------------------------------------------------ control (HTTP)

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        text = await request.text()
        if not text.strip():
            return {}
        body = json.loads(text)
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        return body

    @staticmethod
    def _bad(message: str) -> web.Response:
        return web.json_response({"code": -1130, "msg": message}, status=400)

    async def _sim_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _sim_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _sim_clock(self, request: web.Request) -> web.Response:
        try:
            body = await self._json_body(request)
            action = body.get("action")
            if body.get("speed") is not None:
                self.set_speed(float(body["speed"]))
            if action == "pause" or body.get("pause") is True:
                self.pause_clock()
            elif action == "resume" or body.get("pause") is False:
                self.resume_clock()
            elif action == "step" or body.get("step") is not None:
                self.step_clock(int(body.get("candles", body.get("step", 1))))
            elif action not in (None, "speed"):
                return self._bad("action must be pause, resume, step or speed")
        except (ValueError, TypeError) as exc:
            return self._bad(str(exc))
        return web.json_response(self.state()["clock"] | {"sim_time": self.data_ms()})

    async def _sim_price(self, request: web.Request) -> web.Response:
        try:
            body = await self._json_body(request)
            target = Decimal(str(body.get("price", body.get("target"))))
            if not target.is_finite() or target <= 0:
                raise ValueError("price must be a positive number")
            self.set_price(target, str(body.get("mode", "jump")))
        except (ValueError, TypeError, ArithmeticError) as exc:
            return self._bad(str(exc))
        return web.json_response(
            {"last_price": fixed(self.market.last, self.config.rules.price_precision)}
        )

    async def _sim_add_fault(self, request: web.Request) -> web.Response:
        try:
            rule = FaultRule.from_json(await self._json_body(request))
            self.add_fault(rule)
        except (ValueError, TypeError) as exc:
            return self._bad(str(exc))
        return web.json_response({"ok": True, "rule": rule.to_json()})

    async def _sim_clear_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({"ok": True})

    async def _sim_list_faults(self, request: web.Request) -> web.Response:
        return web.json_response([r.to_json() for r in self.faults.rules])


class SimulatorThread:
    """Runs a SimulatorServer on its own event loop in a daemon thread; methods are thread-safe."""

    def __init__(
        self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.server = SimulatorServer(config)
        self._host, self._port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SimulatorThread:
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="binance-simulator", daemon=True)
        self._thread.start()
        ready.wait()
        try:
            asyncio.run_coroutine_threadsafe(
                self.server.start(self._host, self._port), loop
            ).result(10)
        except BaseException:
            self._close_loop()
            raise
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), loop).result(10)
        self._close_loop()

    def _close_loop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(5)
        loop.close()
        self._loop = None

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, fn: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None:
            raise RuntimeError("simulator thread is not running")

        async def invoke() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(invoke(), loop).result(30)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    @property
    def port(self) -> int:
        return self.server.port

    def add_fault(self, rule: FaultRule) -> None:
        self._call(lambda: self.server.add_fault(rule))

    def clear_faults(self) -> None:
        self._call(self.server.clear_faults)

    def state(self) -> dict[str, Any]:
        return self._call(self.server.state)

    def pause_clock(self) -> None:
        self._call(self.server.pause_clock)

    def resume_clock(self) -> None:
        self._call(self.server.resume_clock)

    def step_clock(self, n_candles: int = 1) -> None:
        self._call(lambda: self.server.step_clock(n_candles))

    def set_speed(self, speed: float) -> None:
        self._call(lambda: self.server.set_speed(speed))

    def set_price(self, target: Decimal, mode: str = "jump") -> None:
        self._call(lambda: self.server.set_price(target, mode))

    def reset(self) -> None:
        self._call(self.server.reset)
