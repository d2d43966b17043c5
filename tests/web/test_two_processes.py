"""Two processes: Commands POSTed to the web are carried out by the bot against the simulator."""

from __future__ import annotations

import importlib.util
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from aggregates.ids import client_order_id_for
from tests.web.processes import login, paper_system, wait_until

FINISHED = {"REJECTED", "SUCCEEDED", "FAILED", "RESOLVED"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("projections.projector") is None,
        reason="the bot is not runnable yet: projections.projector is missing",
    ),
]


def carry_out(
    client: httpx.Client, auth: dict[str, str], key: str, kind: str, payload: dict[str, Any]
) -> dict[str, Any]:
    filed = client.post(
        "/api/commands",
        json={"kind": kind, "payload": payload},
        headers={**auth, "Idempotency-Key": key},
    )
    assert filed.status_code == 202, filed.text
    url = filed.json()["status_url"]

    def finished() -> dict[str, Any] | None:
        command: dict[str, Any] = client.get(url, headers=auth).json()
        return command if command["status"] in FINISHED else None

    result: dict[str, Any] = wait_until(finished, timeout=30, what=f"{kind} to finish")
    return result


def engine_mode(client: httpx.Client, auth: dict[str, str]) -> str:
    mode: str = client.get("/api/dashboard", headers=auth).json()["engine"]["mode"]
    return mode


def test_commands_from_the_web_are_carried_out_by_the_bot(tmp_path: Path) -> None:
    with (
        paper_system(tmp_path) as system,
        httpx.Client(base_url=system.web_url, timeout=10) as client,
        httpx.Client(base_url=system.simulator_url, timeout=10) as simulator,
    ):
        auth = login(client)

        # Pause: the strategy stops; user commands still run.
        paused = carry_out(client, auth, "e2e-pause", "PAUSE_ENGINE", {"reason": "e2e"})
        assert paused["status"] == "SUCCEEDED", paused
        wait_until(lambda: engine_mode(client, auth) == "PAUSED", timeout=15, what="PAUSED")

        # A market order from the web reaches the exchange exactly once, even if POSTed twice.
        order = {"side": "BUY", "type": "MARKET", "quantity": "0.002"}
        filed = client.post(
            "/api/commands",
            json={"kind": "PLACE_ORDER", "payload": order},
            headers={**auth, "Idempotency-Key": "e2e-buy"},
        ).json()
        client_order_id = client_order_id_for(uuid.UUID(filed["id"]))
        wait_until(
            lambda: (
                simulator.get("/_sim/state").json()["client_order_id_counts"].get(client_order_id)
            ),
            timeout=10,
            what="the order at the simulator",
        )
        placed = carry_out(client, auth, "e2e-buy", "PLACE_ORDER", order)
        assert placed["id"] == filed["id"]
        assert placed["status"] == "SUCCEEDED", placed
        assert placed["client_order_ids"] == [client_order_id]
        again = client.post(
            "/api/commands",
            json={"kind": "PLACE_ORDER", "payload": order},
            headers={**auth, "Idempotency-Key": "e2e-buy"},
        ).json()
        assert again["id"] == placed["id"] and again["created"] is False
        counts = simulator.get("/_sim/state").json()["client_order_id_counts"]
        assert counts.get(client_order_id) == 1

        # Flatten: the position at the exchange goes to zero.
        flat = carry_out(client, auth, "e2e-flatten", "FLATTEN", {})
        assert flat["status"] == "SUCCEEDED", flat
        wait_until(
            lambda: Decimal(simulator.get("/_sim/state").json()["position"]["positionAmt"]) == 0,
            timeout=15,
            what="a flat position at the simulator",
        )

        resumed = carry_out(client, auth, "e2e-resume", "RESUME_ENGINE", {})
        assert resumed["status"] == "SUCCEEDED", resumed
        wait_until(lambda: engine_mode(client, auth) == "RUNNING", timeout=15, what="RUNNING")

        # The feed shows the web's commands with their source.
        web_events = client.get("/api/events", params={"source": "WEB"}, headers=auth).json()
        assert any(e["aggregate_type"] == "Command" for e in web_events["items"])
