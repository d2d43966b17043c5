"""Per-IP request weight and per-account order counts in fixed windows; 429 → 418."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import BinanceError


@dataclass
class _Window:
    size_ms: int
    index: int = -1
    used: int = 0

    def add(self, now_ms: int, amount: int) -> int:
        index = now_ms // self.size_ms
        if index != self.index:
            self.index, self.used = index, 0
        self.used += amount
        return self.used

    def current(self, now_ms: int) -> int:
        return self.used if now_ms // self.size_ms == self.index else 0


@dataclass
class RateLimiter:
    weight_limit: int = 2400
    orders_10s_limit: int = 300
    orders_1m_limit: int = 1200
    _weights: dict[str, _Window] = field(default_factory=dict)
    _orders_10s: _Window = field(default_factory=lambda: _Window(10_000))
    _orders_1m: _Window = field(default_factory=lambda: _Window(60_000))
    # After a 429 the client must wait Retry-After; sending earlier earns a ban (418).
    _retry_until: dict[str, tuple[int, int]] = field(default_factory=dict)
    _banned_until: dict[str, int] = field(default_factory=dict)

    def used_weight(self, ip: str, now_ms: int) -> int:
        window = self._weights.get(ip)
        return window.current(now_ms) if window else 0

    def order_counts(self, now_ms: int) -> tuple[int, int]:
        return self._orders_10s.current(now_ms), self._orders_1m.current(now_ms)

    def check_ban(self, ip: str, now_ms: int) -> None:
        """418 while banned; 418 and a new ban for a request that ignores a pending Retry-After."""
        banned = self._banned_until.get(ip, 0)
        if now_ms < banned:
            raise self._ban_error(banned, now_ms)
        pending = self._retry_until.get(ip)
        if pending and now_ms < pending[0]:
            del self._retry_until[ip]
            banned = now_ms + pending[1] * 1000
            self._banned_until[ip] = banned
            raise self._ban_error(banned, now_ms)

    def _ban_error(self, banned_until: int, now_ms: int) -> BinanceError:
        return BinanceError(
            -1003,
            f"Way too many requests; IP banned until {banned_until}. "
            "Please use the websocket for live updates to avoid bans.",
            418,
            retry_after=max(1, -(-(banned_until - now_ms) // 1000)),
        )

    def too_many(self, ip: str, now_ms: int, retry_after: int, ban_seconds: int) -> BinanceError:
        self._retry_until[ip] = (now_ms + retry_after * 1000, ban_seconds)
        return BinanceError(
            -1003,
            f"Too many requests; current limit is {self.weight_limit} requests per minute. "
            "Please use the websocket for live updates to avoid polling the API.",
            429,
            retry_after=retry_after,
        )

    def add_weight(self, ip: str, weight: int, now_ms: int) -> None:
        window = self._weights.setdefault(ip, _Window(60_000))
        used = window.add(now_ms, weight)
        if used > self.weight_limit:
            retry_after = max(1, (60_000 - now_ms % 60_000 + 999) // 1000)
            raise self.too_many(ip, now_ms, retry_after, 120)

    def add_order(self, now_ms: int) -> None:
        count_10s = self._orders_10s.add(now_ms, 1)
        count_1m = self._orders_1m.add(now_ms, 1)
        if count_10s > self.orders_10s_limit:
            raise BinanceError(
                -1015,
                f"Too many new orders; current limit is {self.orders_10s_limit} orders "
                "per TEN_SECONDS.",
                429,
            )
        if count_1m > self.orders_1m_limit:
            raise BinanceError(
                -1015,
                f"Too many new orders; current limit is {self.orders_1m_limit} orders per MINUTE.",
                429,
            )
