"""Binance-style rejections: every failure a client sees is a code, a message and a status."""

from __future__ import annotations


class BinanceError(Exception):
    """A request the exchange refuses; rendered as ``{"code": ..., "msg": ...}``."""

    def __init__(
        self, code: int, msg: str, status: int = 400, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.retry_after = retry_after

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def illegal_chars(name: str) -> BinanceError:
    return BinanceError(
        -1100,
        f"Illegal characters found in parameter '{name}'; "
        "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
    )


def invalid_value(name: str) -> BinanceError:
    return BinanceError(-1130, f"Invalid data sent for a parameter '{name}'.")


INVALID_SYMBOL = (-1121, "Invalid symbol.")
NO_SUCH_ORDER = (-2013, "Order does not exist.")
UNKNOWN_ORDER = (-2011, "Unknown order sent.")
MARGIN_INSUFFICIENT = (-2019, "Margin is insufficient.")
WOULD_TRIGGER = (-2021, "Order would immediately trigger.")
REDUCE_ONLY_REJECT = (-2022, "ReduceOnly Order is rejected.")
REDUCE_ONLY_FAILED = (
    -4118,
    "ReduceOnly Order Failed. Please check your existing position and open orders",
)
DUPLICATE_CLIENT_ID = (-4116, "ClientOrderId is duplicated.")
INVALID_CLIENT_ID = (-4015, "Client order id is not valid.")
USE_ALGO_ENDPOINT = (
    -4120,
    "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
)
GTX_REJECT = (
    -5022,
    "Due to the order could not be executed as maker, the Post Only order will be rejected. "
    "The order will not be recorded in the order history",
)
FOK_REJECT = (
    -5021,
    "Due to the order could not be filled immediately, the FOK order has been rejected. "
    "The order will not be recorded in the order history",
)
LISTEN_KEY_UNKNOWN = (-1125, "This listenKey does not exist.")
UNKNOWN_ERROR_503 = (-1000, "Unknown error, please check your request or try again later.")


def err(pair: tuple[int, str], status: int = 400) -> BinanceError:
    return BinanceError(pair[0], pair[1], status)
