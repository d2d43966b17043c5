"""ASGI middleware around the whole web: load shedding and the security headers.

The request-body limit is FastAPI's own (`FastAPI(max_body_size=...)`, Starlette's
RequestBodyLimitMiddleware): it refuses a declared Content-Length above the limit before reading
a byte and counts a streamed body as it arrives, so an oversized body is never buffered.
"""

from __future__ import annotations

import json

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The dashboard loads only its own scripts and styles and calls only this origin; the API docs
# (Swagger UI, ReDoc, served from this origin too) need inline styles, data: icons and a worker.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Account data must not linger in a browser's or a proxy's cache. Clients revalidate with the
# ETag they kept (If-None-Match), which costs the server one indexed lookup.
CACHE_CONTROL = "no-store"


class SecurityHeaders:
    """Adds the security headers (unless a route set its own) and Cache-Control: no-store."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                headers["Cache-Control"] = CACHE_CONTROL
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LoadShedding:
    """At most `limit` requests in flight; the next one is answered 503 with Retry-After at
    once, instead of waiting in a queue that grows faster than it drains.

    Not counted: /health (a probe must get an answer while the API is busy) and the live
    stream (a long-lived connection, not a request in flight).
    """

    EXEMPT = ("/health", "/api/stream")

    def __init__(self, app: ASGIApp, limit: int, retry_after: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = retry_after
        self.in_flight = 0
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.shed += 1
            await self._busy(send)
            return
        # One event loop: the check and the increment cannot interleave with another request.
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _busy(self, send: Send) -> None:
        body = json.dumps({"detail": "busy; retry shortly"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(self.retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
