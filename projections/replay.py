"""Drop and rebuild every read model from the notification log."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete

from alphaengine.trading import Trading
from projections.projector import APPLICATION, Projector
from projections.schema import projection_metadata
from projections.tracking import ReadModelRecorder


def rebuild(
    trading: Trading, *, batch_size: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """Empty the rm_* tables and rebuild them from zero; return how many were replayed.

    Emptying and resetting the tracking record happen in one transaction, so a crash during
    the rebuild leaves consistent (partly rebuilt) models that the next catch-up completes.
    """
    recorder = ReadModelRecorder.for_trading(trading)
    with recorder.transaction(commit=True) as session:
        # Tracking first, then the tables: one transaction, so a crash leaves the old models.
        session.execute(
            delete(recorder.tracking_table).where(
                recorder.tracking_table.c.application_name == APPLICATION
            )
        )
        for table in reversed(projection_metadata.sorted_tables):
            session.execute(delete(table))
    return Projector(trading, recorder).catch_up(batch_size=batch_size, progress=progress)
