"""The projector keeps what it folded between pages and between catch-ups: whatever the page size,
however a history is caught up, after a failed page or another writer, the read models equal a
rebuild's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aggregates.envelope import Source
from alphaengine.trading import Trading
from projections.projector import Projector, _Batch
from projections.replay import rebuild
from projections.tracking import ReadModelRecorder
from tests.core.story import T0, balance, drive_history, fill
from tests.core.tables import snapshot


def trade_a_while(trading: Trading, fills: int, *, first_trade: int = 1000) -> None:
    """Fills of several orders, some again over REST, with strategy state saved in between:
    enough events for the position and the account to pass a snapshot."""
    ws, rest = trading.envelope(Source.WEBSOCKET), trading.envelope(Source.REST)
    for n in range(fills):
        trade_id = first_trade + n
        side = "SELL" if n % 3 == 0 else "BUY"
        f = fill(trade_id, f"burst-{trade_id // 4}", side, "0.001", str(60000 + n % 50))
        trading.record_fill(f, ws)
        if n % 5 == 0:
            trading.record_fill(f, rest)
        if n % 7 == 0:
            trading.save_strategy_state({"n": n}, trading.envelope(Source.BOT))


def test_pages_of_seven_give_what_one_page_gives(trading: Trading) -> None:
    drive_history(trading)
    trade_a_while(trading, 120)

    assert rebuild(trading, batch_size=5000) == trading.recorder.max_notification_id()
    whole = snapshot(trading)
    rebuild(trading, batch_size=7)

    assert snapshot(trading) == whole


def test_a_projector_catching_up_chapter_by_chapter_equals_a_rebuild(
    trading: Trading, projector: Projector
) -> None:
    drive_history(trading, checkpoint=lambda: projector.catch_up(batch_size=3))
    trade_a_while(trading, 40)
    projector.catch_up(batch_size=11)
    trade_a_while(trading, 70, first_trade=5000)
    projector.catch_up(batch_size=9)
    live = snapshot(trading)

    rebuild(trading)

    assert snapshot(trading) == live


def test_a_projector_started_mid_log_loads_what_it_never_folded(trading: Trading) -> None:
    drive_history(trading)
    trade_a_while(trading, 30)
    Projector.for_trading(trading).catch_up()
    # More of the same orders, position and account: a restarted bot's projector meets them
    # at versions it has not seen.
    trade_a_while(trading, 30)
    trade_a_while(trading, 30, first_trade=1000 + 2)
    restarted = Projector.for_trading(trading)
    restarted.catch_up(batch_size=5)
    live = snapshot(trading)

    rebuild(trading)

    assert snapshot(trading) == live


def test_a_projector_keeping_two_aggregates_reloads_what_it_dropped(trading: Trading) -> None:
    small = Projector(trading, ReadModelRecorder.for_trading(trading), folded_aggregates=2)
    drive_history(trading, checkpoint=lambda: small.catch_up(batch_size=4))
    trade_a_while(trading, 40)
    small.catch_up(batch_size=6)
    live = snapshot(trading)

    rebuild(trading)

    assert snapshot(trading) == live


def test_a_page_that_fails_leaves_nothing_folded_behind(
    trading: Trading, projector: Projector, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive_history(trading, checkpoint=projector.catch_up)
    trade_a_while(trading, 20)
    projector.catch_up()
    # A page that starts with an account change and then moves the position: its equity
    # point must show the position before the fill, as committed.
    ws = trading.envelope(Source.WEBSOCKET)
    trading.record_balance(balance("9990", T0 + timedelta(days=1)), ws)
    trading.record_fill(fill(9000, "burst-after", "BUY", "0.005", "61000"), ws)
    before = snapshot(trading)
    position = projector.position()

    def fail_after_folding(batch: _Batch) -> None:
        raise RuntimeError("the disk is full")

    with monkeypatch.context() as patched:
        patched.setattr(_Batch, "prepare", fail_after_folding)
        with pytest.raises(RuntimeError):
            projector.catch_up()
    assert projector.position() == position
    assert snapshot(trading) == before

    projector.catch_up()
    live = snapshot(trading)
    rebuild(trading)
    assert snapshot(trading) == live


def test_two_projectors_taking_turns_follow_each_other(trading: Trading) -> None:
    first, second = Projector.for_trading(trading), Projector.for_trading(trading)
    turns = iter([first, second] * 20)

    def catch_up() -> None:
        next(turns).catch_up(batch_size=3)

    drive_history(trading, checkpoint=catch_up)
    trade_a_while(trading, 25)
    catch_up()
    trade_a_while(trading, 25, first_trade=3000)
    catch_up()
    catch_up()
    assert first.lag() == 0
    live = snapshot(trading)

    rebuild(trading)

    assert snapshot(trading) == live
