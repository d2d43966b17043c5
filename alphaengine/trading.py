"""The Trading application: the one event-sourced application that records everything.

Exchange facts (from the user stream, REST and the reconciler) and Commands (from strategies,
people and the system) all land here, so one notification log orders every change of the
account. Every method is idempotent: the same fact twice, or the same idempotency key twice,
records once. Writers in other processes are handled by optimistic concurrency: a conflicting
save raises IntegrityError, the method re-reads and runs again.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    ProjectorFunction,
    project_aggregate,
)
from eventsourcing.domain import Aggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    JSONTranscoder,
    Recording,
    Transcoder,
)
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory

from aggregates import ids
from aggregates.account import Account
from aggregates.command import Command
from aggregates.config import RuntimeConfiguration, VersionConflict
from aggregates.engine import Engine
from aggregates.envelope import Envelope, EnvelopeAsDict, Scope, ScopeAsDict, Source, envelope
from aggregates.fact import Fact
from aggregates.facts import (
    AlgoOrderFact,
    BalanceFact,
    FillFact,
    IncomeFact,
    OrderFact,
    PositionFact,
)
from aggregates.intent import OrderIntent
from aggregates.order import Order, Origin
from aggregates.position import Position
from alphaengine.event_recorder import CoreInsertRecorder
from alphaengine.latest_versions import LatestVersions
from alphaengine.store import configure_engine, eventsourcing_env
from alphaengine.transcoding import OrjsonTranscoder
from alphaengine.working_copies import WorkingCopies

P = ParamSpec("P")
R = TypeVar("R")
MAX_CONFLICT_RETRIES = 20
CONFLICT_BACKOFF_SECONDS = 0.001
CONFLICT_BACKOFF_CAP_SECONDS = 0.05


def retry_on_conflict(method: Callable[P, R]) -> Callable[P, R]:
    """Re-run a read-decide-save method when another writer saved the same aggregate first."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(MAX_CONFLICT_RETRIES):
            try:
                return method(*args, **kwargs)
            except IntegrityError:
                if attempt == MAX_CONFLICT_RETRIES - 1:
                    raise
                # Without a pause two writers of the same aggregate retry in lockstep and the
                # slower one can lose every round (seen with two processes on one Position).
                ceiling = min(CONFLICT_BACKOFF_SECONDS * 2**attempt, CONFLICT_BACKOFF_CAP_SECONDS)
                time.sleep(random.uniform(0, ceiling))
        raise AssertionError("unreachable")

    return wrapper


@dataclass(frozen=True)
class Dispatched:
    """Accepted: these orders are recorded as intents, to be sent."""

    intents: list[OrderIntent]


@dataclass(frozen=True)
class Done:
    """Accepted and finished without an order (e.g. an entry the position already holds)."""

    result: dict[str, Any]
    intents: list[OrderIntent] = field(default_factory=list)


@dataclass(frozen=True)
class Rejected:
    reason: str


@dataclass(frozen=True)
class Expired:
    reason: str


Decided = Dispatched | Done | Rejected | Expired


# A uuid5 costs about as much as the query that reads a fill's aggregates, and a fill asks for
# the same ids several times (its order's on every fill of that order).
_order_id = functools.lru_cache(maxsize=4096)(ids.order_id)
_fact_id = functools.lru_cache(maxsize=256)(ids.fact_id)


class _Collected(ProcessingEvent[UUID]):
    """The library's collection of a save's events, aggregates recognised by their class.

    The library asks each object whether it follows its runtime-checkable protocols, and on
    this Python such a check walks the protocol's attributes every time: about 15 us per
    aggregate, several per save. Anything but an Aggregate is collected the library's way."""

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        for obj in objs:
            if isinstance(obj, Aggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            elif obj is not None:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


@dataclass
class _Reading:
    """The latest versions one call read, and the aggregates it took or saved."""

    versions: dict[UUID, int]
    taken: list[Aggregate] = field(default_factory=list)
    saved: list[Aggregate] = field(default_factory=list)


class Trading(Application[UUID]):
    name = "Trading"
    snapshotting_intervals = {Position: 100, Account: 100, Engine: 100}  # noqa: RUF012

    def __init__(self, scope: Scope, url: str, *, create_table: bool = False) -> None:
        self.scope = scope
        super().__init__(env=eventsourcing_env(url, create_table=create_table))
        datastore = getattr(self.recorder, "datastore", None)
        if datastore is not None and datastore.engine is not None:
            configure_engine(datastore.engine)
        # The singletons' ids (uuid5 of the scope) are read on every fill.
        self._position_id = ids.position_id(scope)
        self._account_id = ids.account_id(scope)
        self._latest_versions = LatestVersions.for_recorder(self.recorder)
        self._working = WorkingCopies()
        # Per thread: what the method running on it read (`_reading`) or is saving (`save`).
        self._thread = threading.local()

    def construct_recorder(self) -> ApplicationRecorder:
        factory = self.factory
        if isinstance(factory, SQLAlchemyFactory):
            # One Core INSERT per save (alphaengine/event_recorder.py).
            factory.application_recorder_class = CoreInsertRecorder
        return super().construct_recorder()

    def construct_transcoder(self) -> Transcoder:
        # The library's stored format, parsed by orjson (alphaengine/transcoding.py).
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ScopeAsDict())
        transcoder.register(EnvelopeAsDict())

    def envelope(self, source: Source | str, **kwargs: Any) -> Envelope:
        return envelope(source, self.scope, **kwargs)

    # ---- reading and saving aggregates ----------------------------------------------------
    @contextmanager
    def _reading(self, *aggregate_ids: UUID) -> Iterator[_Reading]:
        """Read these aggregates' latest stored versions in one query. Inside the block, on this
        thread, loading one of them needs no query of its own: absent, or a working copy still
        current (`WorkingCopies`), or else the repository. When the block ends without an
        error, what was read or saved is kept for the next call."""
        latest = self._latest_versions
        reading = _Reading(latest.of(aggregate_ids) if latest is not None else {})
        self._thread.reading = reading
        try:
            yield reading
        finally:
            self._thread.reading = None
        if latest is not None:
            self._working.give_back([*reading.taken, *reading.saved])

    def _get_or_none(self, aggregate_id: UUID) -> Any:
        reading: _Reading | None = getattr(self._thread, "reading", None)
        if reading is None or aggregate_id not in reading.versions:
            return self._load(aggregate_id)
        version = reading.versions[aggregate_id]
        if not version:
            return None
        found = self._working.take(aggregate_id, version) or self._load(aggregate_id)
        if found is not None:
            reading.taken.append(found)
        return found

    def _load(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        # The library's `save`, with its events collected by `_Collected`.
        processing_event = _Collected()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        # Remembered for `take_snapshot`: they are recorded now.
        self._thread.saving = processing_event.aggregates
        try:
            self._take_snapshots(processing_event)
        finally:
            self._thread.saving = None
        self._notify(recordings)
        self.notify(processing_event.events)
        return recordings

    def take_snapshot(
        self,
        aggregate_id: UUID,
        version: int | None = None,
        projector_func: ProjectorFunction[Any, Any] = project_aggregate,
    ) -> None:
        saving: dict[UUID, Any] = getattr(self._thread, "saving", None) or {}
        saved = saving.get(aggregate_id)
        snapshot_class = getattr(type(saved), "Snapshot", type(self).snapshot_class)
        if (
            saved is None
            or saved.version != version
            or projector_func is not project_aggregate
            or self.snapshots is None
            or snapshot_class is None
        ):
            super().take_snapshot(aggregate_id, version, projector_func)
            return
        # The aggregate just recorded at this version is the recorded state: no need to load it
        # again from the last snapshot and every event since.
        self.snapshots.put([snapshot_class.take(saved)])

    # ---- singletons -----------------------------------------------------------------------

    def account(self) -> Account:
        found: Account | None = self._get_or_none(self._account_id)
        return found or Account(scope=self.scope, envelope=self.envelope(Source.BOT))

    def position(self) -> Position:
        found: Position | None = self._get_or_none(self._position_id)
        return found or Position(scope=self.scope, envelope=self.envelope(Source.BOT))

    def engine(self) -> Engine:
        found: Engine | None = self._get_or_none(ids.engine_id(self.scope))
        return found or Engine(scope=self.scope, envelope=self.envelope(Source.BOT))

    def find_order(self, client_order_id: str, *, is_algo: bool = False) -> Order | None:
        found: Order | None = self._get_or_none(
            _order_id(self.scope, client_order_id, algo=is_algo)
        )
        return found

    def get_order(self, order_aggregate_id: UUID) -> Order:
        order: Order = self.repository.get(order_aggregate_id)
        return order

    def get_command(self, command_id: UUID) -> Command:
        command: Command = self.repository.get(command_id)
        return command

    def has_fact(self, dedup_key: str) -> bool:
        fact_id = _fact_id(self.scope, dedup_key)
        reading: _Reading | None = getattr(self._thread, "reading", None)
        if reading is not None and fact_id in reading.versions:
            return reading.versions[fact_id] > 0
        if self._latest_versions is None:
            return fact_id in self.repository
        return self._latest_versions.of([fact_id])[fact_id] > 0

    def _save_if_changed(self, *aggregates: Aggregate) -> bool:
        if not any(a.pending_events for a in aggregates):
            return False
        self.save(*aggregates)
        return True

    # ---- exchange facts -------------------------------------------------------------------
    @retry_on_conflict
    def record_fill(self, fill: FillFact, env: Envelope) -> bool:
        key = fill.dedup_key
        # Everything a fill may read, in one query: its fact, the order, the algo order that may
        # be its parent, the position and the account.
        with self._reading(
            _fact_id(self.scope, key),
            _order_id(self.scope, fill.client_order_id),
            _order_id(self.scope, fill.client_order_id, algo=True),
            self._position_id,
            self._account_id,
        ) as reading:
            if self.has_fact(key):
                return False
            env = env.with_dedup_key(key)
            order = self._order_for(fill.client_order_id, fill.symbol, fill.side, env)
            order.record_fill(fill, env)
            fact = Fact(scope=self.scope, dedup_key=key, envelope=env)
            touched: list[Aggregate] = [order, fact]
            account = self.account()
            realized = Decimal(0)
            if fill.symbol == self.scope.symbol:
                position = self.position()
                before = position.realized_pnl
                position.apply_fill(fill, env)
                realized = position.realized_pnl - before
                touched.append(position)
            else:
                realized = fill.realized_pnl
            account.book_fill(fill, realized, env)
            touched.append(account)
            self.save(*touched)
            # The fact is never loaded again (only its existence is asked): not worth keeping.
            reading.saved = [aggregate for aggregate in touched if aggregate is not fact]
        return True

    def _new_order(
        self, intent: OrderIntent, origin: Origin, command_id: UUID | None, env: Envelope
    ) -> Order:
        return Order(
            scope=self.scope,
            client_order_id=intent.client_order_id,
            is_algo=intent.is_algo,
            origin=origin.value,
            symbol=intent.symbol,
            side=intent.side,
            order_type=intent.order_type,
            quantity=intent.quantity,
            price=intent.price,
            stop_price=intent.stop_price,
            reduce_only=intent.reduce_only,
            close_position=intent.close_position,
            time_in_force=intent.time_in_force,
            working_type=intent.working_type,
            command_id=command_id,
            envelope=env,
        )

    def _unrecorded_order(self, seen: OrderIntent, env: Envelope) -> Order:
        """An order we have no record of: the child of one of our algo orders (it carries the
        algo's client id), or one placed outside the engine (adopted as EXTERNAL)."""
        parent = self.find_order(seen.client_order_id, is_algo=True)
        if parent is None:
            return self._new_order(seen, Origin.EXTERNAL, None, env)
        child = replace(
            seen,
            order_type=parent.order_type,
            quantity=parent.quantity,
            stop_price=parent.stop_price,
            reduce_only=parent.reduce_only,
            close_position=parent.close_position,
        )
        order = self._new_order(child, Origin.ENGINE, parent.command_id, env)
        order.link_parent(parent.client_order_id, env)
        return order

    def _order_for(self, client_order_id: str, symbol: str, side: str, env: Envelope) -> Order:
        order = self.find_order(client_order_id)
        if order is not None:
            return order
        seen = OrderIntent(client_order_id, False, symbol, side, "UNKNOWN", Decimal(0))
        return self._unrecorded_order(seen, env)

    @retry_on_conflict
    def record_order(self, fact: OrderFact, env: Envelope) -> bool:
        order = self.find_order(fact.client_order_id)
        if order is None:
            seen = OrderIntent(
                client_order_id=fact.client_order_id,
                is_algo=False,
                symbol=fact.symbol,
                side=fact.side,
                order_type=fact.order_type,
                quantity=fact.quantity,
                price=fact.price,
                stop_price=fact.stop_price,
                reduce_only=fact.reduce_only,
                time_in_force=fact.time_in_force,
            )
            order = self._unrecorded_order(seen, env)
        order.report(fact, env)
        return self._save_if_changed(order)

    @retry_on_conflict
    def record_algo_order(self, fact: AlgoOrderFact, env: Envelope) -> bool:
        order = self.find_order(fact.client_algo_id, is_algo=True)
        if order is None:
            seen = OrderIntent(
                client_order_id=fact.client_algo_id,
                is_algo=True,
                symbol=fact.symbol,
                side=fact.side,
                order_type=fact.order_type,
                quantity=fact.quantity,
                price=fact.price,
                stop_price=fact.trigger_price,
                reduce_only=fact.reduce_only,
                close_position=fact.close_position,
                working_type=fact.working_type,
            )
            order = self._new_order(seen, Origin.EXTERNAL, None, env)
        order.report_algo(fact, env)
        return self._save_if_changed(order)

    @retry_on_conflict
    def record_balance(self, fact: BalanceFact, env: Envelope) -> bool:
        account = self.account()
        account.report_balance(fact, env)
        return self._save_if_changed(account)

    @retry_on_conflict
    def correct_balance(self, fact: BalanceFact, env: Envelope) -> bool:
        account = self.account()
        account.correct_balance(fact, env)
        return self._save_if_changed(account)

    @retry_on_conflict
    def record_income(self, fact: IncomeFact, env: Envelope) -> bool:
        key = fact.dedup_key
        if self.has_fact(key):
            return False
        env = env.with_dedup_key(key)
        account = self.account()
        if not account.book_income(fact, env):
            return False
        self.save(account, Fact(scope=self.scope, dedup_key=key, envelope=env))
        return True

    @retry_on_conflict
    def correct_position(self, fact: PositionFact, env: Envelope) -> bool:
        position = self.position()
        position.correct(fact.quantity, fact.entry_price, env)
        if fact.leverage is not None:
            position.set_leverage(fact.leverage, env)
        return self._save_if_changed(position)

    @retry_on_conflict
    def record_leverage(self, leverage: int, env: Envelope) -> bool:
        position = self.position()
        position.set_leverage(leverage, env)
        return self._save_if_changed(position)

    # ---- commands -------------------------------------------------------------------------
    @retry_on_conflict
    def submit_command(
        self,
        *,
        kind: str,
        payload: dict[str, Any],
        actor_type: str,
        actor_id: str,
        idempotency_key: str,
        source: Source | str,
        priority: int = 0,
    ) -> tuple[UUID, bool]:
        """File a Command; return its id and whether it is new (False: the key was seen)."""
        command_id = ids.command_id(self.scope, idempotency_key)
        if command_id in self.repository:
            return command_id, False
        command = Command(
            scope=self.scope,
            idempotency_key=idempotency_key,
            kind=kind,
            payload=payload,
            actor_type=actor_type,
            actor_id=actor_id,
            priority=priority,
            envelope=self.envelope(source, command_id=command_id),
        )
        self.save(command)
        return command.id, True

    @retry_on_conflict
    def file_command(
        self,
        *,
        kind: str,
        payload: dict[str, Any],
        actor_type: str,
        actor_id: str,
        idempotency_key: str,
        source: Source | str,
        decided: Decided,
        priority: int = 0,
    ) -> tuple[UUID, bool]:
        """File a Command together with what was decided about it, in one transaction.

        The tick-to-order path: the Command, its acceptance and its orders' write-ahead intents
        are one durable commit before the first order leaves. (False: the key was seen.)
        """
        command_id = ids.command_id(self.scope, idempotency_key)
        if command_id in self.repository:
            return command_id, False
        command = Command(
            scope=self.scope,
            idempotency_key=idempotency_key,
            kind=kind,
            payload=payload,
            actor_type=actor_type,
            actor_id=actor_id,
            priority=priority,
            envelope=self.envelope(source, command_id=command_id),
        )
        self.save(command, *self._decide(command, decided))
        return command.id, True

    @retry_on_conflict
    def decide_command(self, command_id: UUID, decided: Decided) -> None:
        """What was decided about a filed (NEW or ACCEPTED) Command, in one transaction."""
        command = self.get_command(command_id)
        self.save(command, *self._decide(command, decided))

    def _decide(self, command: Command, decided: Decided) -> list[Aggregate]:
        env = self._command_envelope(command)
        if isinstance(decided, Rejected):
            command.reject(decided.reason, env)
            return []
        if isinstance(decided, Expired):
            command.expire(decided.reason, env)
            return []
        if command.status == "NEW":
            command.accept(env)
        command.dispatch([i.client_order_id for i in decided.intents], env)
        if isinstance(decided, Done):
            command.succeed(decided.result, env)
        return [
            self._new_order(i, Origin.ENGINE, command.id, env)
            for i in decided.intents
            if self.find_order(i.client_order_id, is_algo=i.is_algo) is None
        ]

    def _command_envelope(self, command: Command, source: Source | str = Source.BOT) -> Envelope:
        return self.envelope(source, command_id=command.id, causation_id=command.id)

    @retry_on_conflict
    def accept_command(self, command_id: UUID) -> None:
        command = self.get_command(command_id)
        command.accept(self._command_envelope(command))
        self.save(command)

    @retry_on_conflict
    def reject_command(self, command_id: UUID, reason: str) -> None:
        command = self.get_command(command_id)
        command.reject(reason, self._command_envelope(command))
        self.save(command)

    @retry_on_conflict
    def dispatch_command(self, command_id: UUID, intents: list[OrderIntent]) -> None:
        """Record the write-ahead intent: the Command and every order it will send, atomically."""
        command = self.get_command(command_id)
        env = self._command_envelope(command)
        command.dispatch([i.client_order_id for i in intents], env)
        orders = [
            self._new_order(i, Origin.ENGINE, command.id, env)
            for i in intents
            if self.find_order(i.client_order_id, is_algo=i.is_algo) is None
        ]
        self.save(command, *orders)

    @retry_on_conflict
    def complete_command(self, command_id: UUID, result: dict[str, Any]) -> None:
        command = self.get_command(command_id)
        env = self._command_envelope(command)
        if command.status == "UNKNOWN":
            command.resolve(result, env)
        else:
            command.succeed(result, env)
        self.save(command)

    @retry_on_conflict
    def fail_command(self, command_id: UUID, error: dict[str, Any]) -> None:
        command = self.get_command(command_id)
        env = self._command_envelope(command)
        if command.status == "UNKNOWN":
            command.resolve({"outcome": "FAILED", **error}, env)
        else:
            command.fail(error, env)
        self.save(command)

    @retry_on_conflict
    def mark_command_unknown(self, command_id: UUID, error: dict[str, Any]) -> None:
        command = self.get_command(command_id)
        if command.status == "UNKNOWN":
            return
        command.mark_unknown(error, self._command_envelope(command))
        self.save(command)

    @retry_on_conflict
    def acknowledge_order(
        self, client_order_id: str, exchange_order_id: int, *, is_algo: bool, env: Envelope
    ) -> bool:
        order = self.find_order(client_order_id, is_algo=is_algo)
        if order is None:
            return False
        order.acknowledge(exchange_order_id, env)
        return self._save_if_changed(order)

    @retry_on_conflict
    def reject_order(
        self, client_order_id: str, code: int, message: str, *, is_algo: bool, env: Envelope
    ) -> bool:
        order = self.find_order(client_order_id, is_algo=is_algo)
        if order is None or order.status != "PENDING_NEW":
            return False
        order.reject(code, message, env)
        self.save(order)
        return True

    @retry_on_conflict
    def mark_order_not_found(self, client_order_id: str, *, is_algo: bool, env: Envelope) -> bool:
        order = self.find_order(client_order_id, is_algo=is_algo)
        if order is None or order.status != "PENDING_NEW":
            return False
        order.mark_not_found(env)
        self.save(order)
        return True

    @retry_on_conflict
    def close_vanished_order(self, client_order_id: str, *, is_algo: bool, env: Envelope) -> bool:
        order = self.find_order(client_order_id, is_algo=is_algo)
        if order is None or not order.close_vanished(env):
            return False
        self.save(order)
        return True

    # ---- engine ---------------------------------------------------------------------------
    @retry_on_conflict
    def pause_engine(self, reason: str, env: Envelope) -> bool:
        engine = self.engine()
        engine.pause(reason, env)
        return self._save_if_changed(engine)

    @retry_on_conflict
    def resume_engine(self, env: Envelope) -> bool:
        engine = self.engine()
        engine.resume(env)
        return self._save_if_changed(engine)

    @retry_on_conflict
    def raise_alarm(self, code: str, message: str, env: Envelope) -> bool:
        engine = self.engine()
        engine.raise_alarm(code, message, datetime.now(UTC), env)
        return self._save_if_changed(engine)

    @retry_on_conflict
    def clear_alarm(self, code: str, env: Envelope) -> bool:
        engine = self.engine()
        engine.clear_alarm(code, env)
        return self._save_if_changed(engine)

    @retry_on_conflict
    def save_strategy_state(self, state: dict[str, Any], env: Envelope) -> bool:
        engine = self.engine()
        engine.save_strategy_state(state, env)
        return self._save_if_changed(engine)

    @retry_on_conflict
    def disable_strategy(self, reason: str, env: Envelope) -> bool:
        engine = self.engine()
        engine.disable_strategy(reason, env)
        engine.raise_alarm("strategy_disabled", reason, datetime.now(UTC), env)
        return self._save_if_changed(engine)

    @retry_on_conflict
    def enable_strategy(self, env: Envelope) -> bool:
        engine = self.engine()
        engine.enable_strategy(env)
        engine.clear_alarm("strategy_disabled", env)
        return self._save_if_changed(engine)

    # ---- runtime configuration ------------------------------------------------------------
    def runtime_configuration(self) -> RuntimeConfiguration | None:
        found: RuntimeConfiguration | None = self._get_or_none(ids.config_id(self.scope))
        return found

    def _save_config(self, config: RuntimeConfiguration, expected_version: int) -> int:
        try:
            self.save(config)
        except IntegrityError as exc:
            latest = self.runtime_configuration()
            raise VersionConflict(expected_version, latest.version if latest else 0) from exc
        return config.version

    def change_runtime_config(
        self, body: dict[str, Any], *, expected_version: int, by: str, env: Envelope
    ) -> int:
        """A new version from `body`; VersionConflict unless `expected_version` is the latest."""
        config = self.runtime_configuration()
        if config is None:
            if expected_version != 0:
                raise VersionConflict(expected_version, 0)
            config = RuntimeConfiguration(scope=self.scope, body=body, by=by, envelope=env)
        else:
            config.check_version(expected_version)
            if not config.change(body, by, env):
                return config.version
        return self._save_config(config, expected_version)

    def roll_back_runtime_config(
        self, to_version: int, *, expected_version: int, by: str, env: Envelope
    ) -> int:
        config = self.runtime_configuration()
        if config is None:
            raise VersionConflict(expected_version, 0)
        config.check_version(expected_version)
        older: RuntimeConfiguration = self.repository.get(config.id, version=to_version)
        config.roll_back(to_version, older.body, by, env)
        return self._save_config(config, expected_version)

    def runtime_config_events(self) -> list[Any]:
        return list(self.events.get(ids.config_id(self.scope)))

    # ---- the bot process ------------------------------------------------------------------
    @retry_on_conflict
    def record_bot_started(self, holder: str, env: Envelope) -> None:
        engine = self.engine()
        engine.record_bot_started(holder, env)
        self.save(engine)

    @retry_on_conflict
    def record_bot_stopped(self, reason: str, exit_code: int, env: Envelope) -> None:
        engine = self.engine()
        engine.record_bot_stopped(reason, exit_code, env)
        self.save(engine)
