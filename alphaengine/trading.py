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
import time
from collections import OrderedDict
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
    LRUCache,
    project_aggregate,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Recording,
    Transcoder,
)

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
from alphaengine.account_view import AccountView
from alphaengine.event_mapper import EventMapper
from alphaengine.store import AGGREGATE_CACHE_SIZE, configure_engine, eventsourcing_env
from alphaengine.transcoding import OrjsonTranscoder

P = ParamSpec("P")
R = TypeVar("R")
MAX_CONFLICT_RETRIES = 20
CONFLICT_BACKOFF_SECONDS = 0.001
CONFLICT_BACKOFF_CAP_SECONDS = 0.05
# Dedup keys of recorded facts kept in memory (a fill's is about 20 characters).
KNOWN_FACTS = 20_000


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
                app = args[0]
                if isinstance(app, Trading):
                    app.forget_cached()
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


class Trading(Application[UUID]):
    name = "Trading"
    snapshotting_intervals = {Position: 100, Account: 100, Engine: 100}  # noqa: RUF012

    def __init__(
        self, scope: Scope, url: str, *, create_table: bool = False, sole_writer: bool = False
    ) -> None:
        """`sole_writer`: this process alone changes the account's aggregates (the bot, which
        holds the bot lease; the web only files new Commands and config versions). Its cached
        aggregates are then current without a query each time they are read."""
        self.scope = scope
        self.sole_writer = sole_writer
        # The exchange's clock, where this process knows it (the bot): stamped on envelopes.
        self.exchange_clock: Callable[[], datetime] | None = None
        # Published by the sole writer once `publish_view` was called (alphaengine/account_view.py).
        self.view: AccountView | None = None
        self._known_facts: OrderedDict[str, None] = OrderedDict()
        env = eventsourcing_env(url, create_table=create_table)
        if sole_writer:
            env["AGGREGATE_CACHE_FASTFORWARD"] = "n"
        super().__init__(env=env)
        datastore = getattr(self.recorder, "datastore", None)
        if datastore is not None and datastore.engine is not None:
            configure_engine(datastore.engine)

    def construct_mapper(self) -> Mapper[UUID]:
        # Pages of the log decoded in one loop (alphaengine/event_mapper.py).
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=EventMapper)

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
        if self.exchange_clock is not None and "exchange_time" not in kwargs:
            kwargs["exchange_time"] = self.exchange_clock()
        return envelope(source, self.scope, **kwargs)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        recordings = super().save(*objs, **kwargs)
        if self.view is not None and any(isinstance(o, Engine | Position | Account) for o in objs):
            self.publish_view(engine_changed=any(isinstance(o, Engine) for o in objs))
        return recordings

    def publish_view(self, *, engine_changed: bool = True) -> AccountView:
        """Publish what a strategy reads of the account (call it on the thread that saves); from
        then on, again after every save that changes it. Only a sole writer's saves are every
        change: another process's are not seen until this is called again."""
        self.view = AccountView.of(
            self.engine(readonly=True),
            self.position(readonly=True),
            self.account(readonly=True),
            previous=self.view,
            engine_changed=engine_changed,
        )
        return self.view

    def take_snapshot(
        self,
        aggregate_id: UUID,
        version: int | None = None,
        projector_func: Any = project_aggregate,
    ) -> None:
        """Snapshot the aggregate a save just recorded, from the cache when it holds exactly
        that version (the sole writer caches what it saves): the library's way rebuilds it
        from the snapshot before and up to a hundred events, about 10 ms, inside the save."""
        cache = self.repository.cache
        if version is not None and cache is not None and self.snapshots is not None:
            try:
                cached = cache.get(aggregate_id)
            except KeyError:
                cached = None
            snapshot_class = getattr(type(cached), "Snapshot", type(self).snapshot_class)
            if cached is not None and cached.version == version and snapshot_class is not None:
                self.snapshots.put([snapshot_class.take(cached)])
                return
        super().take_snapshot(aggregate_id, version, projector_func)

    def forget_cached(self) -> None:
        """Drop cached aggregates (after a conflict, when they are not fast-forwarded)."""
        repository = self.repository
        if repository.cache is not None and not repository.fastforward:
            repository.cache = LRUCache(maxsize=AGGREGATE_CACHE_SIZE)

    # ---- singletons -----------------------------------------------------------------------
    def _get_or_none(self, aggregate_id: UUID, *, readonly: bool = False) -> Any:
        try:
            # A read-only caller gets the cached object itself: no copy (it must not mutate).
            return self.repository.get(aggregate_id, deepcopy_from_cache=not readonly)
        except AggregateNotFoundError:
            return None

    def account(self, *, readonly: bool = False) -> Account:
        found: Account | None = self._get_or_none(ids.account_id(self.scope), readonly=readonly)
        return found or Account(scope=self.scope, envelope=self.envelope(Source.BOT))

    def position(self, *, readonly: bool = False) -> Position:
        found: Position | None = self._get_or_none(ids.position_id(self.scope), readonly=readonly)
        return found or Position(scope=self.scope, envelope=self.envelope(Source.BOT))

    def engine(self, *, readonly: bool = False) -> Engine:
        found: Engine | None = self._get_or_none(ids.engine_id(self.scope), readonly=readonly)
        return found or Engine(scope=self.scope, envelope=self.envelope(Source.BOT))

    def find_order(
        self, client_order_id: str, *, is_algo: bool = False, readonly: bool = False
    ) -> Order | None:
        found: Order | None = self._get_or_none(
            ids.order_id(self.scope, client_order_id, algo=is_algo), readonly=readonly
        )
        return found

    def get_order(self, order_aggregate_id: UUID) -> Order:
        order: Order = self.repository.get(order_aggregate_id)
        return order

    def get_command(self, command_id: UUID) -> Command:
        command: Command = self.repository.get(command_id)
        return command

    def has_fact(self, dedup_key: str) -> bool:
        if dedup_key in self._known_facts:
            return True
        # One read of the log, not decoded: a fact index has one event and is never
        # snapshotted or cached.
        fact = ids.fact_id(self.scope, dedup_key)
        if not self.recorder.select_events(fact, limit=1):
            return False
        self._remember_fact(dedup_key)
        return True

    def _remember_fact(self, dedup_key: str) -> None:
        # A recorded fact is never removed from the log, so a key known once needs no read
        # again: the WebSocket and REST polling report most facts twice.
        known = self._known_facts
        known[dedup_key] = None
        if len(known) > KNOWN_FACTS:
            known.popitem(last=False)

    @contextmanager
    def _changing(self) -> Iterator[bool]:
        """Whether a method may change cached aggregates in place instead of copies.

        Only the sole writer may (its cache is the truth and nobody else saves): a copy of the
        position with its recent fills costs more than the save. If anything fails, the cache,
        which may hold half-changed objects, is dropped."""
        try:
            yield self.sole_writer
        except BaseException:
            if self.sole_writer:
                self.forget_cached()
            raise

    def _save_if_changed(self, *aggregates: Aggregate) -> bool:
        if not any(a.pending_events for a in aggregates):
            return False
        self.save(*aggregates)
        return True

    # ---- exchange facts -------------------------------------------------------------------
    @retry_on_conflict
    def record_fill(self, fill: FillFact, env: Envelope) -> bool:
        key = fill.dedup_key
        if self.has_fact(key):
            return False
        env = env.with_dedup_key(key)
        with self._changing() as in_place:
            order = self._order_for(
                fill.client_order_id, fill.symbol, fill.side, env, readonly=in_place
            )
            order.record_fill(fill, env)
            touched: list[Aggregate] = [order, Fact(scope=self.scope, dedup_key=key, envelope=env)]
            account = self.account(readonly=in_place)
            realized = Decimal(0)
            if fill.symbol == self.scope.symbol:
                position = self.position(readonly=in_place)
                before = position.realized_pnl
                position.apply_fill(fill, env)
                realized = position.realized_pnl - before
                touched.append(position)
            else:
                realized = fill.realized_pnl
            account.book_fill(fill, realized, env)
            touched.append(account)
            self.save(*touched)
        self._remember_fact(key)
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

    def _order_for(
        self, client_order_id: str, symbol: str, side: str, env: Envelope, *, readonly: bool = False
    ) -> Order:
        order = self.find_order(client_order_id, readonly=readonly)
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
        self._remember_fact(key)
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
        command = self._new_command(
            kind, payload, actor_type, actor_id, idempotency_key, source, priority
        )
        self.save(command)
        return command.id, True

    def _new_command(
        self,
        kind: str,
        payload: dict[str, Any],
        actor_type: str,
        actor_id: str,
        idempotency_key: str,
        source: Source | str,
        priority: int = 0,
    ) -> Command:
        return Command(
            scope=self.scope,
            idempotency_key=idempotency_key,
            kind=kind,
            payload=payload,
            actor_type=actor_type,
            actor_id=actor_id,
            priority=priority,
            envelope=self.envelope(source, command_id=ids.command_id(self.scope, idempotency_key)),
        )

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
        are one durable commit before the first order leaves. Nothing is read first: the
        Command's id, and so its orders' client ids, derive from the key, so a key seen before
        is found by the save's uniqueness check (False: the key was seen).
        """
        command = self._new_command(
            kind, payload, actor_type, actor_id, idempotency_key, source, priority
        )
        try:
            self.save(command, *self._decide(command, decided, new=True))
        except IntegrityError:
            if command.id in self.repository:
                return command.id, False
            raise
        return command.id, True

    @retry_on_conflict
    def decide_command(self, command_id: UUID, decided: Decided) -> None:
        """What was decided about a filed (NEW or ACCEPTED) Command, in one transaction."""
        command = self.get_command(command_id)
        self.save(command, *self._decide(command, decided))

    def _decide(self, command: Command, decided: Decided, *, new: bool = False) -> list[Aggregate]:
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
        # A new Command's orders are new too: their client ids derive from its id.
        return [
            self._new_order(i, Origin.ENGINE, command.id, env)
            for i in decided.intents
            if new or self.find_order(i.client_order_id, is_algo=i.is_algo) is None
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
