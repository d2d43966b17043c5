"""POST /api/commands files a Command in the event store, idempotent by Idempotency-Key."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from aggregates.command import CommandKind
from alphaengine.bootstrap import open_trading
from tests.web.conftest import Web
from tests.web.seed import seed_command


def post(web: Web, auth: dict[str, str], body: dict[str, Any], key: str | None) -> Any:
    headers = dict(auth)
    if key is not None:
        headers["Idempotency-Key"] = key
    return web.client.post("/api/commands", json=body, headers=headers)


def test_post_files_a_command_and_answers_202_with_its_status_url(
    web: Web, auth: dict[str, str]
) -> None:
    response = post(web, auth, {"kind": "SET_LEVERAGE", "payload": {"leverage": 7}}, "lev-7")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "NEW" and body["created"] is True
    assert response.headers["Location"] == body["status_url"] == f"/api/commands/{body['id']}"

    # In the event store, as the web's user, from the WEB source.
    trading = open_trading(web.settings)
    try:
        command = trading.get_command(uuid.UUID(body["id"]))
    finally:
        trading.close()
    assert (command.kind, command.payload) == ("SET_LEVERAGE", {"leverage": 7})
    assert (command.actor_type, command.actor_id) == ("USER", "admin")

    # Not projected yet: the status URL still answers from the event store.
    status = web.client.get(body["status_url"], headers=auth)
    assert status.status_code == 200
    assert status.json()["status"] == "NEW"


def test_same_key_twice_returns_the_same_command(web: Web, auth: dict[str, str]) -> None:
    body = {"kind": "PAUSE_ENGINE", "payload": {"reason": "lunch"}}
    first = post(web, auth, body, "pause-1").json()
    second = post(web, auth, body, "pause-1")
    assert second.status_code == 202
    assert second.json()["id"] == first["id"]
    assert second.json()["created"] is False
    other = post(web, auth, body, "pause-2").json()
    assert other["id"] != first["id"]


def test_same_key_for_a_different_request_is_409(web: Web, auth: dict[str, str]) -> None:
    post(web, auth, {"kind": "CANCEL_ALL"}, "k-1")
    response = post(web, auth, {"kind": "FLATTEN"}, "k-1")
    assert response.status_code == 409
    assert "Idempotency-Key" in response.json()["detail"]


def test_every_kind_with_a_valid_payload_is_accepted(web: Web, auth: dict[str, str]) -> None:
    payloads: dict[CommandKind, dict[str, Any]] = {
        CommandKind.PLACE_ORDER: {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.002",
            "price": "59000.1",
            "time_in_force": "GTC",
        },
        CommandKind.CANCEL_ORDER: {"client_order_id": "ae-0123456789abcdef"},
        CommandKind.CANCEL_ALL: {},
        CommandKind.CLOSE_POSITION: {},
        CommandKind.SET_LEVERAGE: {"leverage": 125},
        CommandKind.TRANSFER_TO_FUTURES: {"amount": "100.5"},
        CommandKind.PAUSE_ENGINE: {},
        CommandKind.RESUME_ENGINE: {},
        CommandKind.FLATTEN: {},
    }
    assert set(payloads) == set(CommandKind)
    for kind, payload in payloads.items():
        response = post(web, auth, {"kind": kind.value, "payload": payload}, f"all-{kind}")
        assert response.status_code == 202, (kind, response.text)
    listed = web.client.get("/api/commands", headers=auth).json()["items"]
    assert listed == []  # nothing projected: the projector, not the web, fills rm_commands


def test_place_order_payloads_in_the_executors_terms(web: Web, auth: dict[str, str]) -> None:
    # An entry sized by the risk guard from its stop, with a take-profit.
    entry = {"side": "BUY", "stop_price": "59000", "take_profit_price": "61000.5"}
    # A protective stop that closes the whole position.
    stop = {"side": "SELL", "type": "STOP_MARKET", "stop_price": "58000", "close_position": True}
    for key, payload in (("entry", entry), ("stop", stop)):
        response = post(web, auth, {"kind": "PLACE_ORDER", "payload": payload}, key)
        assert response.status_code == 202, response.text
        command = web.client.get(response.json()["status_url"], headers=auth).json()
        assert command["payload"]["side"] == payload["side"]
        assert command["payload"]["stop_price"] == payload["stop_price"]
    no_size = post(web, auth, {"kind": "PLACE_ORDER", "payload": {"side": "BUY"}}, "no-size")
    assert no_size.status_code == 422
    assert "quantity is required" in no_size.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "LAUNCH_ROCKET"}, "body.kind"),
        ({"payload": {}}, "body.kind"),
        ({"kind": "SET_LEVERAGE", "payload": {"leverage": 126}}, "body.payload.leverage"),
        ({"kind": "SET_LEVERAGE", "payload": {"leverage": "5"}}, "body.payload.leverage"),
        ({"kind": "SET_LEVERAGE", "payload": {}}, "body.payload.leverage"),
        ({"kind": "CANCEL_ORDER", "payload": {}}, "body.payload.client_order_id"),
        (
            {"kind": "CANCEL_ORDER", "payload": {"client_order_id": "ae-" + "x" * 40}},
            "body.payload.client_order_id",
        ),
        ({"kind": "TRANSFER_TO_FUTURES", "payload": {"amount": "-1"}}, "body.payload.amount"),
        ({"kind": "TRANSFER_TO_FUTURES", "payload": {"amount": "NaN"}}, "body.payload.amount"),
        (
            {"kind": "PLACE_ORDER", "payload": {"side": "HOLD", "type": "MARKET", "quantity": "1"}},
            "body.payload.side",
        ),
        (
            {"kind": "PLACE_ORDER", "payload": {"side": "BUY", "type": "MARKET", "quantity": "0"}},
            "body.payload.quantity",
        ),
        (
            {"kind": "PLACE_ORDER", "payload": {"side": "BUY", "type": "LIMIT", "quantity": "1"}},
            "price is required",
        ),
        (
            {
                "kind": "PLACE_ORDER",
                "payload": {"side": "SELL", "type": "STOP_MARKET", "quantity": "1"},
            },
            "stop_price (the trigger) is required",
        ),
        ({"kind": "CANCEL_ALL", "payload": {"everything": True}}, "body.payload.everything"),
        ({"kind": "CANCEL_ALL", "extra": 1}, "body.extra"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(
    web: Web, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = post(web, auth, body, "bad-body")
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]


def test_missing_or_malformed_idempotency_key_is_422(web: Web, auth: dict[str, str]) -> None:
    missing = post(web, auth, {"kind": "CANCEL_ALL"}, None)
    assert missing.status_code == 422
    assert "header.idempotency-key" in missing.json()["message"]
    too_long = post(web, auth, {"kind": "CANCEL_ALL"}, "k" * 129)
    assert too_long.status_code == 422


def test_get_command_from_the_read_model_404_and_bad_id(web: Web, auth: dict[str, str]) -> None:
    command_id = str(uuid.uuid4())
    seed_command(web.client.app.state.context.database.engine, command_id)  # type: ignore[attr-defined]
    found = web.client.get(f"/api/commands/{command_id}", headers=auth)
    assert found.json()["status"] == "SUCCEEDED"
    listed = web.client.get("/api/commands", params={"status": "SUCCEEDED"}, headers=auth)
    assert [c["id"] for c in listed.json()["items"]] == [command_id]
    missing = web.client.get(f"/api/commands/{uuid.uuid4()}", headers=auth)
    assert missing.status_code == 404
    bad = web.client.get("/api/commands/42", headers=auth)
    assert bad.status_code == 422
    bad_status = web.client.get("/api/commands", params={"status": "DONE"}, headers=auth)
    assert bad_status.status_code == 422


def test_a_full_disk_is_a_503_that_says_so_and_records_nothing(
    web: Web, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventsourcing.persistence import OperationalError

    from alphaengine.trading import Trading
    from tests.storage_errors import full_sqlite_error

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError(full_sqlite_error())

    monkeypatch.setattr(Trading, "submit_command", full)
    response = post(web, auth, {"kind": "PAUSE_ENGINE", "payload": {"reason": "x"}}, "full-1")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "storage is full" in response.json()["detail"]
    monkeypatch.undo()
    # Nothing half-filed: the same key later files a new Command.
    again = post(web, auth, {"kind": "PAUSE_ENGINE", "payload": {"reason": "x"}}, "full-1")
    assert again.status_code == 202 and again.json()["created"] is True
