"""Commands and the engine: an explicit lifecycle, illegal moves refused, one Command per key."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from aggregates.command import TRANSITIONS, Command, IllegalCommandTransition
from aggregates.engine import Engine
from aggregates.envelope import Scope, Source, envelope
from aggregates.intent import OrderIntent
from alphaengine.trading import Trading

SCOPE = Scope()
ENV = envelope(Source.WEB, SCOPE)


def _command() -> Command:
    return Command(
        scope=SCOPE,
        idempotency_key="web-42",
        kind="CLOSE_POSITION",
        payload={},
        actor_type="USER",
        actor_id="admin",
        priority=10,
        envelope=ENV,
    )


def test_a_command_from_submission_to_an_unknown_outcome_resolved() -> None:
    command = _command()
    command.accept(ENV)
    command.dispatch(["ae-1"], ENV)
    command.mark_unknown({"error": "timeout"}, ENV)
    assert not command.is_finished
    command.resolve({"outcome": "FILLED"}, ENV)

    assert command.status == "RESOLVED" and command.is_finished
    assert command.client_order_ids == ["ae-1"]
    assert command.last_error == {"error": "timeout"}
    assert [type(e).__name__ for e in command.pending_events] == [
        "Submitted",
        "Accepted",
        "Dispatched",
        "OutcomeUnknown",
        "Resolved",
    ]


MOVES = {
    "ACCEPTED": lambda c: c.accept(ENV),
    "REJECTED": lambda c: c.reject("no", ENV),
    "DISPATCHED": lambda c: c.dispatch([], ENV),
    "SUCCEEDED": lambda c: c.succeed({}, ENV),
    "FAILED": lambda c: c.fail({}, ENV),
    "UNKNOWN": lambda c: c.mark_unknown({}, ENV),
    "RESOLVED": lambda c: c.resolve({}, ENV),
    "EXPIRED": lambda c: c.expire("too old", ENV),
}
PATH_TO = {
    "NEW": [],
    "ACCEPTED": ["ACCEPTED"],
    "REJECTED": ["REJECTED"],
    "DISPATCHED": ["ACCEPTED", "DISPATCHED"],
    "SUCCEEDED": ["ACCEPTED", "DISPATCHED", "SUCCEEDED"],
    "FAILED": ["ACCEPTED", "DISPATCHED", "FAILED"],
    "UNKNOWN": ["ACCEPTED", "DISPATCHED", "UNKNOWN"],
    "RESOLVED": ["ACCEPTED", "DISPATCHED", "UNKNOWN", "RESOLVED"],
    "EXPIRED": ["EXPIRED"],
}
ILLEGAL = [(s, t) for s in TRANSITIONS for t in MOVES if t not in TRANSITIONS[s]]


@pytest.mark.parametrize(("status", "target"), ILLEGAL)
def test_every_illegal_move_is_refused_and_changes_nothing(status: str, target: str) -> None:
    command = _command()
    for step in PATH_TO[status]:
        MOVES[step](command)
    events_before = len(command.pending_events)

    with pytest.raises(IllegalCommandTransition):
        MOVES[target](command)
    assert command.status == status and len(command.pending_events) == events_before


def test_the_same_idempotency_key_is_one_command(trading: Trading) -> None:
    submit = {
        "kind": "PLACE_ORDER",
        "payload": {"side": "BUY", "quantity": "0.001"},
        "actor_type": "USER",
        "actor_id": "admin",
        "idempotency_key": "click-7",
        "source": Source.WEB,
    }
    before = trading.recorder.max_notification_id() or 0
    first, new = trading.submit_command(**submit)  # type: ignore[arg-type]
    again, new_again = trading.submit_command(**submit)  # type: ignore[arg-type]

    assert new and not new_again and first == again
    assert trading.recorder.max_notification_id() == before + 1  # one event, not two


def test_dispatch_records_the_command_and_its_orders_together(trading: Trading) -> None:
    command_id, _ = trading.submit_command(
        kind="PLACE_ORDER",
        payload={},
        actor_type="STRATEGY",
        actor_id="s",
        idempotency_key="d-1",
        source=Source.BOT,
    )
    trading.accept_command(command_id)
    intent = OrderIntent("ae-x", False, "BTCUSDT", "BUY", "MARKET", Decimal("0.002"))
    trading.dispatch_command(command_id, [intent])

    order = trading.find_order("ae-x")
    assert order is not None and order.command_id == command_id
    assert trading.get_command(command_id).status == "DISPATCHED"
    with pytest.raises(IllegalCommandTransition):
        trading.dispatch_command(command_id, [intent])


def test_the_engine_pauses_resumes_and_keeps_alarms() -> None:
    engine = Engine(scope=SCOPE, envelope=ENV)
    assert engine.mode == "RUNNING"
    assert engine.pause("daily loss limit", ENV)
    assert not engine.pause("again", ENV)
    assert engine.mode == "PAUSED" and engine.reason == "daily loss limit"
    assert engine.resume(ENV) and engine.mode == "RUNNING" and engine.reason == ""

    now = datetime.now(UTC)
    assert engine.raise_alarm("unprotected", "no stop", now, ENV)
    assert not engine.raise_alarm("unprotected", "no stop", now, ENV)
    assert engine.clear_alarm("unprotected", ENV)
    assert not engine.clear_alarm("unprotected", ENV)
    assert engine.disable_strategy("raised", ENV) and engine.strategy_disabled
    assert engine.enable_strategy(ENV) and not engine.strategy_disabled
    assert engine.save_strategy_state({"k": "1"}, ENV)
    assert not engine.save_strategy_state({"k": "1"}, ENV)
