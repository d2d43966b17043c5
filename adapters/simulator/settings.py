"""Account settings (leverage, margin type, position mode) and spot↔futures transfers."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from .decimals import parse_int
from .errors import BinanceError, mandatory
from .exchange import Exchange
from .symbols import max_notional_for
from .validation import check_symbol


def set_leverage(ex: Exchange, params: Mapping[str, str], now_ms: int) -> dict[str, object]:
    check_symbol(params, ex.symbol)
    leverage = parse_int("leverage", params.get("leverage"), required=True)
    assert leverage is not None
    if not 1 <= leverage <= ex.rules.max_leverage:
        raise BinanceError(-4028, f"Leverage {leverage} is not valid")
    ex.account.leverage = leverage
    ex.outbox.append(
        [
            {
                "e": "ACCOUNT_CONFIG_UPDATE",
                "E": now_ms,
                "T": now_ms,
                "ac": {"s": ex.symbol, "l": leverage},
            }
        ]
    )
    return {
        "leverage": leverage,
        "maxNotionalValue": max_notional_for(leverage),
        "symbol": ex.symbol,
    }


def set_margin_type(ex: Exchange, params: Mapping[str, str]) -> None:
    check_symbol(params, ex.symbol)
    margin_type = (params.get("marginType") or "").upper()
    if not margin_type:
        raise mandatory("marginType")
    if margin_type == "CROSS":
        margin_type = "CROSSED"
    if margin_type not in ("CROSSED", "ISOLATED"):
        raise BinanceError(-1130, "Invalid data sent for a parameter 'marginType'.")
    if margin_type == ex.account.margin_type:
        raise BinanceError(-4046, "No need to change margin type.")
    if ex.open_orders():
        raise BinanceError(-4047, "Margin type cannot be changed if there exists open orders.")
    if ex.account.position.amount:
        raise BinanceError(-4048, "Margin type cannot be changed if there exists position.")
    ex.account.margin_type = margin_type


def set_dual_side(ex: Exchange, params: Mapping[str, str]) -> None:
    raw = (params.get("dualSidePosition") or "").lower()
    if raw not in ("true", "false"):
        raise mandatory("dualSidePosition")
    dual = raw == "true"
    if dual == ex.account.dual_side:
        raise BinanceError(-4059, "No need to change position side.")
    if ex.open_orders():
        raise BinanceError(-4067, "Position side cannot be changed if there exists open orders.")
    if ex.account.position.amount:
        raise BinanceError(-4068, "Position side cannot be changed if there exists position.")
    ex.account.dual_side = dual


def transfer(ex: Exchange, to_futures: bool, amount: Decimal, now_ms: int) -> int:
    """Move USDT between the spot wallet and the futures wallet atomically."""
    if amount <= 0:
        raise BinanceError(-1130, "Invalid data sent for a parameter 'amount'.")
    account = ex.account
    if to_futures:
        if amount > account.spot_free:
            raise BinanceError(-5002, "You have insufficient balance.")
        account.spot_free -= amount
        account.wallet += amount
    else:
        withdrawable = min(account.wallet, account.available(ex.mark, ex.open_orders()))
        if amount > withdrawable:
            raise BinanceError(-5002, "You have insufficient balance.")
        account.wallet -= amount
        account.spot_free += amount
    account.update_time = now_ms
    change = amount if to_futures else -amount
    tran_id = account.next_tran_id
    account.book_income("TRANSFER", change, now_ms)
    ex.outbox.append(
        [
            ex.account_update(
                "DEPOSIT" if to_futures else "WITHDRAW", now_ms, change, with_position=False
            )
        ]
    )
    return tran_id
