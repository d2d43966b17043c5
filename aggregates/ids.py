"""Deterministic identities: the same exchange fact or decision maps to the same aggregate."""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from aggregates.envelope import Scope

NAMESPACE = uuid5(NAMESPACE_URL, "https://alphaengine.dev/ids")

# Binance's newClientOrderId / clientAlgoId pattern.
CLIENT_ORDER_ID_PATTERN = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
CLIENT_ORDER_ID_PREFIX = "ae-"


def _id(*parts: str) -> UUID:
    return uuid5(NAMESPACE, "/".join(parts))


def account_id(scope: Scope) -> UUID:
    return _id("account", scope.key)


def position_id(scope: Scope) -> UUID:
    return _id("position", scope.symbol_key)


def engine_id(scope: Scope) -> UUID:
    return _id("engine", scope.key)


def order_id(scope: Scope, client_order_id: str, *, algo: bool = False) -> UUID:
    # An algo order and the child order it triggers share a client id, so the kind is in the key.
    return _id("algo-order" if algo else "order", scope.key, client_order_id)


def command_id(scope: Scope, idempotency_key: str) -> UUID:
    return _id("command", scope.key, idempotency_key)


def fact_id(scope: Scope, dedup_key: str) -> UUID:
    return _id("fact", scope.key, dedup_key)


def client_order_id_for(command: UUID, leg: str = "") -> str:
    """`ae-` + 32 hex digits of the command id; `ae<leg>-` + fewer digits for a further order.

    Derived, never random: a restart recomputes the same id and can look the order up by it.
    """
    prefix = f"ae{leg}-" if leg else CLIENT_ORDER_ID_PREFIX
    cid = prefix + command.hex[: 36 - len(prefix)]
    if not CLIENT_ORDER_ID_PATTERN.match(cid):
        raise ValueError(f"client order id {cid!r} does not match Binance's pattern")
    return cid


def is_engine_client_order_id(client_order_id: str) -> bool:
    return client_order_id.startswith("ae") and "-" in client_order_id[:6]


def config_id(scope: Scope) -> UUID:
    # Not per symbol: the config is what names the symbol.
    return _id("runtime-config", scope.key)
