"""Decimal parsing and Binance's string formats for numbers."""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import BinanceError, illegal_chars, mandatory

ZERO = Decimal(0)
_DECIMAL_RE = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$")


def parse_decimal(name: str, raw: str | None, *, required: bool = True) -> Decimal | None:
    """Parse a request parameter the way Binance does: plain digits, no exponent, no blanks."""
    if raw is None or raw == "":
        if required:
            raise mandatory(name)
        return None
    if not _DECIMAL_RE.match(raw):
        raise illegal_chars(name)
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise illegal_chars(name) from exc


def places(step: Decimal) -> int:
    """Number of decimals a tick or step size allows (0.10 -> 1, 0.001 -> 3)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def decimals_of(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def fixed(value: Decimal, digits: int) -> str:
    """Fixed-point string with exactly ``digits`` decimals (Binance pads: "0.100")."""
    return format(value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP) + 0, "f")


def plain(value: Decimal, max_digits: int = 8) -> str:
    """Shortest string up to ``max_digits`` decimals, with at least one ("84146.5", "0.0")."""
    q = value.quantize(Decimal(1).scaleb(-max_digits), rounding=ROUND_HALF_UP).normalize()
    text = format(q + 0, "f")
    return text if "." in text else text + ".0"


def round8(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP)


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def round_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_HALF_UP) * step


def parse_bool(name: str, raw: str | None) -> bool:
    if raw is None or raw == "":
        return False
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise BinanceError(-1130, f"Invalid data sent for a parameter '{name}'.")


def parse_int(name: str, raw: str | None, *, required: bool = False) -> int | None:
    if raw is None or raw == "":
        if required:
            raise mandatory(name)
        return None
    if not re.fullmatch(r"-?[0-9]{1,20}", raw):
        raise illegal_chars(name)
    return int(raw)
