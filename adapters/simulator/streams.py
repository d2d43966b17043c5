"""WebSocket fan-out: market streams and the user data stream, one queue and writer per socket.

Publishing only enqueues, so a slow or stalled client can never block the matching engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from .errors import LISTEN_KEY_UNKNOWN, err
from .faults import FaultBook

Event = dict[str, object]


class ListenKeys:
    """The account's one listenKey: POST returns the active key; 60 idle minutes end it."""

    def __init__(self, seed: int, ttl_seconds: float) -> None:
        self.rng = random.Random(f"{seed}:listenkey")
        self.ttl = ttl_seconds
        self.key: str | None = None
        self.expires_at = 0.0

    def active(self, now: float) -> str | None:
        return self.key if self.key and now < self.expires_at else None

    def create(self, now: float) -> str:
        if not self.active(now):
            alphabet = string.ascii_letters + string.digits
            self.key = "".join(self.rng.choice(alphabet) for _ in range(64))
        self.expires_at = now + self.ttl
        assert self.key is not None
        return self.key

    def keepalive(self, now: float) -> str:
        key = self.active(now)
        if not key:
            raise err(LISTEN_KEY_UNKNOWN)
        self.expires_at = now + self.ttl
        return key

    def close(self) -> str | None:
        key, self.key = self.key, None
        return key

    def due_expiry(self, now: float) -> str | None:
        """The key that has just run out (once), so listenKeyExpired can be pushed."""
        if self.key and now >= self.expires_at:
            return self.close()
        return None


@dataclass(eq=False)
class Subscriber:
    ws: web.WebSocketResponse
    combined: bool
    streams: set[str] = field(default_factory=set)
    listen_key: str | None = None
    # Optional user-stream filter from `?events=A/B` (listenKeyExpired always passes).
    events: frozenset[str] | None = None
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    stalled_until: float = 0.0

    @property
    def stalled(self) -> bool:
        return time.time() < self.stalled_until

    def send(self, text: str) -> None:
        if not self.stalled:
            self.queue.put_nowait(text)


class StreamHub:
    def __init__(self, faults: FaultBook, ping_interval: float) -> None:
        self.faults = faults
        self.ping_interval = ping_interval
        self.market: set[Subscriber] = set()
        self.users: set[Subscriber] = set()
        self._shuffle_rng = random.Random(0)

    # ------------------------------------------------------------------ publishing

    def wanted(self) -> set[str]:
        wanted: set[str] = set()
        for sub in self.market:
            wanted |= sub.streams
        return wanted

    def publish_market(self, stream: str, data: Event) -> None:
        raw: str | None = None
        wrapped: str | None = None
        for sub in self.market:
            if stream not in sub.streams:
                continue
            if sub.combined:
                wrapped = wrapped or json.dumps({"stream": stream, "data": data})
                sub.send(wrapped)
            else:
                raw = raw or json.dumps(data)
                sub.send(raw)

    def publish_user(self, batches: Iterable[list[Event]], listen_key: str | None) -> None:
        for batch in batches:
            events = list(batch)
            if len(events) > 1 and self.faults.take("shuffle_events"):
                events = self._shuffle_across_types(events)
            copies = 2 if self.faults.take("duplicate_events") else 1
            for event in events:
                for _ in range(copies):
                    self.send_user(event, listen_key)

    def send_user(self, event: Event, listen_key: str | None) -> None:
        if listen_key is None:
            return
        kind = str(event.get("e"))
        raw: str | None = None
        wrapped: str | None = None
        for sub in self.users:
            if sub.listen_key != listen_key:
                continue
            if sub.events is not None and kind not in sub.events and kind != "listenKeyExpired":
                continue
            if sub.combined:
                wrapped = wrapped or json.dumps({"stream": listen_key, "data": event})
                sub.send(wrapped)
            else:
                raw = raw or json.dumps(event)
                sub.send(raw)

    def send_raw(self, user: bool, frames: Iterable[object]) -> None:
        """Each frame once, as a text frame, to every socket of one group (user or market): a
        string goes verbatim (so it need not be JSON), anything else as JSON."""
        texts = [f if isinstance(f, str) else json.dumps(f) for f in frames]
        for sub in list(self.users if user else self.market):
            for text in texts:
                sub.send(text)

    def _shuffle_across_types(self, events: list[Event]) -> list[Event]:
        """Shuffle which event type comes first while keeping each type's own order."""
        kinds = [str(e.get("e")) for e in events]
        order = kinds[:]
        self._shuffle_rng.shuffle(order)
        queues: dict[str, list[Event]] = {}
        for event in events:
            queues.setdefault(str(event.get("e")), []).append(event)
        return [queues[kind].pop(0) for kind in order]

    # ------------------------------------------------------------------ faults

    def drop_all(self) -> None:
        for sub in list(self.market | self.users):
            sub.queue.put_nowait(None)

    async def close_all(self) -> None:
        subs = list(self.market | self.users)
        for sub in subs:
            sub.queue.put_nowait(None)
        if subs:
            await asyncio.wait([asyncio.create_task(sub.ws.close()) for sub in subs], timeout=1.0)

    def drop_users(self, listen_key: str | None = None) -> None:
        for sub in list(self.users):
            if listen_key is None or sub.listen_key == listen_key:
                sub.queue.put_nowait(None)

    def stall_all(self, until: float) -> None:
        for sub in self.market | self.users:
            sub.stalled_until = until

    def unstall_all(self) -> None:
        for sub in self.market | self.users:
            sub.stalled_until = 0.0

    # ------------------------------------------------------------------ connections

    async def serve(
        self, request: web.Request, sub: Subscriber, user: bool
    ) -> web.WebSocketResponse:
        await sub.ws.prepare(request)
        group = self.users if user else self.market
        group.add(sub)
        writer = asyncio.create_task(self._writer(sub))
        pinger = asyncio.create_task(self._pinger(sub))
        try:
            async for msg in sub.ws:
                if msg.type == WSMsgType.TEXT and not user:
                    reply = self._control(sub, msg.data)
                    if reply is not None:
                        sub.queue.put_nowait(json.dumps(reply))
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            group.discard(sub)
            writer.cancel()
            pinger.cancel()
            for task in (writer, pinger):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await sub.ws.close()
        return sub.ws

    async def _writer(self, sub: Subscriber) -> None:
        while True:
            text = await sub.queue.get()
            if text is None:
                await sub.ws.close()
                return
            if sub.stalled:
                continue
            try:
                await sub.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def _pinger(self, sub: Subscriber) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            if not sub.stalled:
                try:
                    await sub.ws.ping()
                except (ConnectionError, RuntimeError):
                    return

    def _control(self, sub: Subscriber, data: str) -> Event | None:
        """SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY frames."""
        try:
            frame = json.loads(data)
        except ValueError:
            return {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}
        if not isinstance(frame, dict):
            return {"code": 3, "msg": "Invalid JSON: expected an object"}
        req_id = frame.get("id")
        if not isinstance(req_id, int) or isinstance(req_id, bool) or req_id < 0:
            return {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}
        method = frame.get("method")
        params = frame.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return {
                    "code": 2,
                    "msg": "Invalid request: params must be a list of streams",
                    "id": req_id,
                }
            names = {normalize_stream(p) for p in params}
            if method == "SUBSCRIBE":
                sub.streams |= names
            else:
                sub.streams -= names
            return {"result": None, "id": req_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(sub.streams), "id": req_id}
        if method == "SET_PROPERTY":
            if (
                params
                and params[0] == "combined"
                and len(params) == 2
                and isinstance(params[1], bool)
            ):
                sub.combined = params[1]
                return {"result": None, "id": req_id}
            if params and params[0] != "combined":
                return {"code": 0, "msg": "Unknown property", "id": req_id}
            return {"code": 1, "msg": "Invalid value type: expected Boolean", "id": req_id}
        if method == "GET_PROPERTY":
            if params == ["combined"]:
                return {"result": sub.combined, "id": req_id}
            return {"code": 0, "msg": "Unknown property", "id": req_id}
        return {"code": 2, "msg": f"Invalid request: unknown method {method!r}", "id": req_id}


def normalize_stream(name: str) -> str:
    """Stream names are case-insensitive except the camelCase event words."""
    symbol, _, rest = name.partition("@")
    return f"{symbol.lower()}@{rest}"
