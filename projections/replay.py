"""Drop and rebuild every read model from the notification log."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, delete

from alphaengine.trading import Trading
from projections.projector import APPLICATION, Projector
from projections.schema import (
    drop_replaced,
    ensure_indexes,
    lookup_indexes,
    projection_metadata,
    set_aside,
)
from projections.tracking import ReadModelRecorder

# Notifications per transaction in a rebuild: a page's commit, its upserts and its statements
# are paid once for this many events (measured in bench/store.py: about a tenth faster than
# 500, with no gain beyond). A crash loses at most the page in flight, which the next
# catch-up redoes.
REBUILD_PAGE = 2000


def rebuild(
    trading: Trading,
    *,
    batch_size: int = REBUILD_PAGE,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Empty the rm_* tables and rebuild them from zero; return how many were replayed.

    Emptying and resetting the tracking record happen in one transaction, so a crash during
    the rebuild leaves consistent (partly rebuilt) models that the next catch-up completes.
    The tables are made again in that transaction from the current schema, without their
    lookup indexes: those are made at the end, or by `init_schema` (which every start runs)
    if the process was killed before.

    On SQLite the old tables are renamed in that transaction and dropped on a thread of this
    rebuild's own while the first pages are folded (SQLite frees a table's pages one by one,
    outside the interpreter lock): their writes wait until the drop has committed.
    """
    recorder = ReadModelRecorder.for_trading(trading)
    engine = recorder.datastore.engine
    assert isinstance(engine, Engine)
    with recorder.transaction(commit=True) as session:
        # Tracking first, then the tables: one transaction, so a crash leaves the old models.
        session.execute(
            delete(recorder.tracking_table).where(
                recorder.tracking_table.c.application_name == APPLICATION
            )
        )
        conn = session.connection()
        if engine.dialect.name == "sqlite":
            replaced = set_aside(conn)
        else:
            # Renamed tables keep their constraints' names elsewhere: dropped here instead.
            replaced = []
            projection_metadata.drop_all(conn)
            projection_metadata.create_all(conn)
            for index in lookup_indexes():
                index.drop(conn)
    dropping = _Dropping(engine, replaced)
    try:
        with _old_objects_frozen():
            return Projector(trading, recorder).catch_up(
                batch_size=batch_size, progress=progress, writes_after=dropping.done
            )
    finally:
        dropping.join()
        # Also after a failure: the models are then partly rebuilt, and still indexed.
        with recorder.transaction(commit=True) as session:
            conn = session.connection()
            if dropping.error is not None:
                # Once more here: the old tables hold the lookup indexes' names.
                drop_replaced(conn, dropping.names)
            ensure_indexes(conn)


class _Dropping:
    """The tables a rebuild set aside, dropped in one transaction on a thread of their own;
    `done` is set once that has committed or failed (`error`). The thread is the rebuild's:
    it is joined before the rebuild returns or raises."""

    def __init__(self, engine: Engine, names: list[str]) -> None:
        self.engine = engine
        self.names = names
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        if names:
            self.thread = threading.Thread(target=self._drop, name="rebuild-drop", daemon=True)
            self.thread.start()
        else:
            self.done.set()

    def _drop(self) -> None:
        try:
            with self.engine.begin() as conn:
                drop_replaced(conn, self.names)
        except BaseException as error:  # the rebuild's thread tries again (`rebuild`)
            self.error = error
        finally:
            self.done.set()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


@contextmanager
def _old_objects_frozen() -> Iterator[None]:
    """A replay allocates millions of short-lived objects, and each full collection of the
    garbage collector would walk every object the process held before it too (measured at a
    tenth of a rebuild): those are set aside until the replay ends. Left alone if something
    else froze objects already (it decides when they are unfrozen)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
