"""HMAC-SHA256 request signing, verified over the raw query string and raw body as sent."""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse

from .errors import BinanceError, mandatory


def split_signature(raw: str) -> tuple[str, str | None]:
    """Remove a trailing ``signature=...`` pair; returns (remaining bytes, signature or None)."""
    if raw.startswith("signature="):
        head, tail = "", raw[len("signature=") :]
    else:
        at = raw.rfind("&signature=")
        if at < 0:
            return raw, None
        head, tail = raw[:at], raw[at + len("&signature=") :]
    if "&" in tail:
        # The signature must be the last parameter of the part that carries it.
        raise BinanceError(-1022, "Signature for this request is not valid.")
    return head, tail


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, raw_query: str, raw_body: str) -> None:
    """totalParams = raw query + raw body (no '&' between), minus the signature pair."""
    query, query_sig = split_signature(raw_query)
    body, body_sig = split_signature(raw_body)
    signature = body_sig if body_sig is not None else query_sig
    if not signature:
        raise mandatory("signature")
    signature = signature.lower()
    raw = query + body
    if hmac.compare_digest(sign(secret, raw), signature):
        return
    # python-binance signs values before aiohttp form-encodes them (only `symbol` is quoted
    # first), so ids with spaces or "/:" arrive encoded; Binance accepts those, and so do we.
    decoded = urllib.parse.unquote_plus(raw)
    if decoded != raw and hmac.compare_digest(sign(secret, decoded), signature):
        return
    raise BinanceError(-1022, "Signature for this request is not valid.")
