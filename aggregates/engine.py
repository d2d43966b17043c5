"""The engine's own state: RUNNING or PAUSED, open alarms, and the strategy's persisted state.

Changed only by Commands (pause, resume) and by the risk guard; every change is an event.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from aggregates import ids
from aggregates.envelope import Envelope, Scope


class EngineMode(StrEnum):
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"


class Engine(Aggregate):
    # Version 2 added `bot` (whether a bot process runs, who holds the lease, why it stopped).
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["bot"] = {"state": "STOPPED", "holder": "", "reason": ""}

    @staticmethod
    def create_id(scope: Scope) -> UUID:
        return ids.engine_id(scope)

    @event("Started")
    def __init__(self, scope: Scope, envelope: Envelope) -> None:
        self.scope = scope
        self.mode = EngineMode.RUNNING.value
        self.reason = ""
        self.alarms: dict[str, dict[str, Any]] = {}
        self.strategy_state: dict[str, Any] = {}
        self.strategy_disabled = False
        self.bot: dict[str, Any] = {"state": "STOPPED", "holder": "", "reason": ""}

    def pause(self, reason: str, envelope: Envelope) -> bool:
        if self.mode == EngineMode.PAUSED:
            return False
        self._paused(reason=reason, envelope=envelope)
        return True

    @event("Paused")
    def _paused(self, reason: str, envelope: Envelope) -> None:
        self.mode = EngineMode.PAUSED.value
        self.reason = reason

    def resume(self, envelope: Envelope) -> bool:
        if self.mode == EngineMode.RUNNING:
            return False
        self._resumed(envelope=envelope)
        return True

    @event("Resumed")
    def _resumed(self, envelope: Envelope) -> None:
        self.mode = EngineMode.RUNNING.value
        self.reason = ""

    def raise_alarm(self, code: str, message: str, at: datetime, envelope: Envelope) -> bool:
        existing = self.alarms.get(code)
        if existing is not None and existing["message"] == message:
            return False
        self._alarm_raised(code=code, message=message, at=at, envelope=envelope)
        return True

    @event("AlarmRaised")
    def _alarm_raised(self, code: str, message: str, at: datetime, envelope: Envelope) -> None:
        self.alarms[code] = {"message": message, "at": at}

    def clear_alarm(self, code: str, envelope: Envelope) -> bool:
        if code not in self.alarms:
            return False
        self._alarm_cleared(code=code, envelope=envelope)
        return True

    @event("AlarmCleared")
    def _alarm_cleared(self, code: str, envelope: Envelope) -> None:
        self.alarms.pop(code, None)

    def save_strategy_state(self, state: dict[str, Any], envelope: Envelope) -> bool:
        if state == self.strategy_state:
            return False
        self._strategy_state_saved(state=state, envelope=envelope)
        return True

    @event("StrategyStateSaved")
    def _strategy_state_saved(self, state: dict[str, Any], envelope: Envelope) -> None:
        self.strategy_state = dict(state)

    def disable_strategy(self, reason: str, envelope: Envelope) -> bool:
        if self.strategy_disabled:
            return False
        self._strategy_disabled(reason=reason, envelope=envelope)
        return True

    @event("StrategyDisabled")
    def _strategy_disabled(self, reason: str, envelope: Envelope) -> None:
        self.strategy_disabled = True

    def enable_strategy(self, envelope: Envelope) -> bool:
        if not self.strategy_disabled:
            return False
        self._strategy_enabled(envelope=envelope)
        return True

    @event("StrategyEnabled")
    def _strategy_enabled(self, envelope: Envelope) -> None:
        self.strategy_disabled = False

    def record_bot_started(self, holder: str, envelope: Envelope) -> None:
        self._bot_started(holder=holder, envelope=envelope)

    @event("BotStarted")
    def _bot_started(self, holder: str, envelope: Envelope) -> None:
        self.bot = {"state": "RUNNING", "holder": holder, "reason": ""}

    def record_bot_stopped(self, reason: str, exit_code: int, envelope: Envelope) -> None:
        self._bot_stopped(reason=reason, exit_code=exit_code, envelope=envelope)

    @event("Stopped")
    def _bot_stopped(self, reason: str, exit_code: int, envelope: Envelope) -> None:
        self.bot = {**self.bot, "state": "STOPPED", "reason": reason, "exit_code": exit_code}
