"""Signing and timestamp rules, checked byte by byte with raw HTTP.

See docs/exchange-rules.md, "Signing and timestamps".
"""

from __future__ import annotations

import urllib.parse

import pytest
from binance import AsyncClient

from adapters.simulator import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer

from .conftest import SYMBOL, D, RawApi, expect_api_error, make_client, now_ms, sign, sim_order

DOC_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
DOC_PAYLOAD = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
    "&recvWindow=5000&timestamp=1591702613943"
)
DOC_SIGNATURE = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"

ORDER = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.010&price=59000"


def test_doc_vector_matches_our_signer() -> None:
    assert sign(DOC_SECRET, DOC_PAYLOAD) == DOC_SIGNATURE


@pytest.mark.sim_config(api_secret=DOC_SECRET)
async def test_doc_secret_accepted_by_simulator(raw: RawApi) -> None:
    """Sign the doc's parameter set (fresh timestamp, sane price) with the doc secret."""
    raw.secret = DOC_SECRET
    payload = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.010&price=59000&timeInForce=GTC"
        f"&recvWindow=5000&timestamp={raw.server_now()}"
    )
    resp = await raw.send(
        "POST", "/fapi/v1/order", body=f"{payload}&signature={sign(DOC_SECRET, payload)}"
    )
    assert resp.status == 200, resp.text
    assert resp.body["status"] == "NEW"


async def test_query_plus_body_concatenated_without_ampersand(
    raw: RawApi, sim: SimulatorServer
) -> None:
    """Doc example 3: totalParams = queryString + body, no '&' between them."""
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = f"quantity=0.010&price=59000&recvWindow=5000&timestamp={raw.server_now()}"
    signature = sign(raw.secret, query + body)
    resp = await raw.send(
        "POST", "/fapi/v1/order", query=query, body=f"{body}&signature={signature}"
    )
    assert resp.status == 200, resp.text
    assert D(resp.body["origQty"]) == D("0.010")
    # Signing with an '&' inserted is a different payload → -1022.
    wrong = sign(raw.secret, query + "&" + body)
    resp = await raw.send("POST", "/fapi/v1/order", query=query, body=f"{body}&signature={wrong}")
    assert (resp.status, resp.code) == (400, -1022)


async def test_signature_in_query_params_in_body(raw: RawApi) -> None:
    """The signature is the last parameter of whichever part carries it."""
    body = f"{ORDER}&timestamp={raw.server_now()}"
    query = f"signature={sign(raw.secret, body)}"
    resp = await raw.send("POST", "/fapi/v1/order", query=query, body=body)
    assert resp.status == 200, resp.text


async def test_query_string_value_wins_over_body(raw: RawApi, sim: SimulatorServer) -> None:
    query = "symbol=BTCUSDT&quantity=0.020&newClientOrderId=dup-param"
    body = (
        "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.050&price=59000"
        f"&timestamp={raw.server_now()}"
    )
    resp = await raw.send(
        "POST",
        "/fapi/v1/order",
        query=query,
        body=f"{body}&signature={sign(raw.secret, query + body)}",
    )
    assert resp.status == 200, resp.text
    assert D(resp.body["origQty"]) == D("0.020")
    order = sim_order(sim, "dup-param")
    assert order is not None and D(order["origQty"]) == D("0.020")


async def test_signature_is_case_insensitive(raw: RawApi) -> None:
    payload = f"{ORDER}&timestamp={raw.server_now()}"
    resp = await raw.send(
        "POST", "/fapi/v1/order", body=f"{payload}&signature={sign(raw.secret, payload).upper()}"
    )
    assert resp.status == 200, resp.text


async def test_verifies_raw_bytes_unsorted_and_percent_encoded(
    raw: RawApi, sim: SimulatorServer
) -> None:
    """ccxt style: timestamp first, everything url-encoded; bytes are verified as sent."""
    params = [
        ("timestamp", str(raw.server_now())),
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("newClientOrderId", "x-a:b/c.d"),
        ("type", "LIMIT"),
        ("quantity", "0.010"),
        ("price", "59000"),
        ("timeInForce", "GTC"),
        ("recvWindow", "10000"),
    ]
    payload = urllib.parse.urlencode(params, safe="")
    assert "x-a%3Ab%2Fc.d" in payload
    resp = await raw.send(
        "POST", "/fapi/v1/order", body=f"{payload}&signature={sign(raw.secret, payload)}"
    )
    assert resp.status == 200, resp.text
    assert resp.body["clientOrderId"] == "x-a:b/c.d"
    # Re-sorting the same params would be a different byte string: the server must not do it.
    assert sim_order(sim, "x-a:b/c.d") is not None


async def test_delete_with_params_in_query(raw: RawApi, client: AsyncClient) -> None:
    placed = await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price="59000",
    )
    resp = await raw.signed(
        "DELETE", "/fapi/v1/order", {"symbol": SYMBOL, "orderId": placed["orderId"]}, in_body=False
    )
    assert resp.status == 200, resp.text
    assert resp.body["status"] == "CANCELED"


async def test_post_with_everything_in_query_and_empty_body(raw: RawApi) -> None:
    payload = f"{ORDER}&timestamp={raw.server_now()}"
    resp = await raw.send(
        "POST", "/fapi/v1/order", query=f"{payload}&signature={sign(raw.secret, payload)}"
    )
    assert resp.status == 200, resp.text


async def test_1022_bad_signature(raw: RawApi, sim: SimulatorServer) -> None:
    payload = f"{ORDER}&timestamp={raw.server_now()}"
    bad = sign(raw.secret, payload + "x")
    resp = await raw.send("POST", "/fapi/v1/order", body=f"{payload}&signature={bad}")
    assert (resp.status, resp.code) == (400, -1022)
    assert resp.body["msg"] == "Signature for this request is not valid."
    # Tampering with one byte after signing.
    good = sign(raw.secret, payload)
    tampered = payload.replace("0.010", "0.020")
    resp = await raw.send("POST", "/fapi/v1/order", body=f"{tampered}&signature={good}")
    assert (resp.status, resp.code) == (400, -1022)
    assert sim.state()["orders"] == []


async def test_1022_with_python_binance_wrong_secret(sim: SimulatorServer) -> None:
    c = await make_client(sim, api_secret="wrong-secret")
    try:
        await expect_api_error(c.futures_account_balance(), -1022)
    finally:
        await c.close_connection()


async def test_missing_signature_or_timestamp(raw: RawApi) -> None:
    resp = await raw.send("GET", "/fapi/v3/balance", query=f"timestamp={raw.server_now()}")
    assert resp.status == 400 and resp.code in (-1102, -1022), resp.text
    payload = "recvWindow=5000"
    resp = await raw.send(
        "GET", "/fapi/v3/balance", query=f"{payload}&signature={sign(raw.secret, payload)}"
    )
    assert (resp.status, resp.code) == (400, -1102), resp.text


async def test_2014_missing_or_malformed_key(raw: RawApi) -> None:
    resp = await raw.signed("GET", "/fapi/v3/balance", api_key=None)
    assert (resp.status, resp.code) == (401, -2014)
    assert resp.body["msg"] == "API-key format invalid."
    resp = await raw.signed("GET", "/fapi/v3/balance", api_key="bad key!")
    assert (resp.status, resp.code) == (401, -2014)


async def test_2015_unknown_key(raw: RawApi, sim: SimulatorServer) -> None:
    unknown = "A" * len(DEFAULT_API_KEY)
    resp = await raw.signed("GET", "/fapi/v3/balance", api_key=unknown)
    assert (resp.status, resp.code) == (401, -2015)
    assert resp.body["msg"] == "Invalid API-key, IP, or permissions for action."
    c = await make_client(sim, api_key=unknown, api_secret=DEFAULT_API_SECRET)
    try:
        await expect_api_error(c.futures_account_balance(), -2015, status=401)
    finally:
        await c.close_connection()


# --- timestamps -------------------------------------------------------------------------------


async def test_1021_timestamp_ahead(raw: RawApi) -> None:
    resp = await raw.signed("GET", "/fapi/v3/balance", timestamp=raw.server_now() + 3000)
    assert (resp.status, resp.code) == (400, -1021)
    assert "ahead" in resp.body["msg"]
    ok = await raw.signed("GET", "/fapi/v3/balance", timestamp=raw.server_now() + 500)
    assert ok.status == 200, "timestamp < serverTime + 1000 is accepted"


async def test_1021_outside_default_recv_window(raw: RawApi) -> None:
    resp = await raw.signed("GET", "/fapi/v3/balance", timestamp=raw.server_now() - 6000)
    assert (resp.status, resp.code) == (400, -1021)
    assert resp.body["msg"] == "Timestamp for this request is outside of the recvWindow."
    ok = await raw.signed("GET", "/fapi/v3/balance", timestamp=raw.server_now() - 4000)
    assert ok.status == 200, "default recvWindow is 5000"


async def test_recv_window_is_honoured_and_not_capped(raw: RawApi) -> None:
    old = raw.server_now() - 6000
    resp = await raw.signed("GET", "/fapi/v3/balance", {"recvWindow": 10000}, timestamp=old)
    assert resp.status == 200, resp.text
    hour_old = raw.server_now() - 3_600_000
    resp = await raw.signed("GET", "/fapi/v3/balance", {"recvWindow": 9999999}, timestamp=hour_old)
    assert resp.status == 200, "recvWindow is not capped at 60000 on futures"
    resp = await raw.signed("GET", "/fapi/v3/balance", {"recvWindow": 1000}, timestamp=old)
    assert (resp.status, resp.code) == (400, -1021)


async def test_1021_python_binance_with_bad_offset(sim: SimulatorServer) -> None:
    c = await make_client(sim)
    try:
        c.timestamp_offset += 5000  # our clock 5 s ahead
        await expect_api_error(c.futures_account_balance(), -1021)
        c.timestamp_offset -= 25_000  # 20 s behind with python-binance's recvWindow 10000
        await expect_api_error(c.futures_account_balance(), -1021)
        c.timestamp_offset = (await c.futures_time())["serverTime"] - now_ms()
        balances = await c.futures_account_balance()
        assert balances
    finally:
        await c.close_connection()


async def test_public_endpoints_need_no_key(raw: RawApi) -> None:
    resp = await raw.send("GET", "/fapi/v1/time", api_key=None)
    assert resp.status == 200
    resp = await raw.send("GET", "/fapi/v1/exchangeInfo", api_key=None)
    assert resp.status == 200


async def test_default_credentials_are_exported() -> None:
    assert DEFAULT_API_KEY and DEFAULT_API_SECRET
    assert DEFAULT_API_KEY != DEFAULT_API_SECRET
