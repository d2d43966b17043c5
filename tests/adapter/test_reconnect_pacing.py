"""Reconnect pacing: a healthy session's end reconnects at once, failures back off to a cap."""

from __future__ import annotations

from processes.reconnect_pacing import ReconnectPacing


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_session_that_lived_reconnects_at_once() -> None:
    clock = Clock()
    pacing = ReconnectPacing(healthy_seconds=5, clock=clock)
    pacing.opened()
    clock.now += 60
    assert pacing.ended() == 0.0
    assert pacing.failures == 0


def test_opens_that_fail_back_off_exponentially_up_to_the_cap() -> None:
    pacing = ReconnectPacing(first_backoff=0.1, max_backoff=2.0, clock=Clock())
    delays = [pacing.ended() for _ in range(8)]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]


def test_a_session_that_ends_at_once_counts_as_a_failure_until_one_lives() -> None:
    clock = Clock()
    pacing = ReconnectPacing(healthy_seconds=5, first_backoff=0.1, clock=clock)
    for expected in (0.1, 0.2, 0.4):
        pacing.opened()
        clock.now += 0.5  # accepted, then closed by the server
        assert pacing.ended() == expected
    pacing.opened()
    clock.now += 5
    assert pacing.ended() == 0.0
    assert pacing.ended() == 0.1  # the count starts over
