"""Drop and rebuild every read model from the notification log."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import delete

from alphaengine.trading import Trading
from projections.projector import APPLICATION, Projector
from projections.schema import ensure_indexes, lookup_indexes, projection_metadata
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
    """
    recorder = ReadModelRecorder.for_trading(trading)
    with recorder.transaction(commit=True) as session:
        # Tracking first, then the tables: one transaction, so a crash leaves the old models.
        session.execute(
            delete(recorder.tracking_table).where(
                recorder.tracking_table.c.application_name == APPLICATION
            )
        )
        # Made again from the current schema (a read model's table changes with the code),
        # first without the lookup indexes.
        conn = session.connection()
        projection_metadata.drop_all(conn)
        projection_metadata.create_all(conn)
        for index in lookup_indexes():
            index.drop(conn)
    try:
        with _old_objects_frozen():
            return Projector(trading, recorder).catch_up(batch_size=batch_size, progress=progress)
    finally:
        # Also after a failure: the models are then partly rebuilt, and still indexed.
        with recorder.transaction(commit=True) as session:
            ensure_indexes(session.connection())


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
