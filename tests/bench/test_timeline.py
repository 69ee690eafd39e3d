"""Latency windows per second of send time, and the steady state apart from the whole run."""

from __future__ import annotations

import pytest

from streams.bench.timeline import Parts, Spread, Window, parts, spread, steady, windows

T0 = 1_700_000_000_000  # the first send, epoch ms


def test_decisions_fall_in_the_second_their_event_was_sent() -> None:
    sent = [T0, T0 + 10, T0 + 999, T0 + 1000, T0 + 2500]
    decided = [(T0, 300), (T0 + 10, 250), (T0 + 999, 40), (T0 + 1000, 7), (T0 + 2500, 5)]
    assert windows(sent, decided, T0) == [
        Window(0, 3, 3, Spread(250.0, 300.0, 300.0)),
        Window(1, 1, 1, Spread(7.0, 7.0, 7.0)),
        Window(2, 1, 1, Spread(5.0, 5.0, 5.0)),
    ]


def test_a_second_without_decisions_or_sends_still_appears() -> None:
    # Second 1: sent, nothing decided (missing); second 2: nothing sent (the pacer lagged).
    sent = [T0, T0 + 1200, T0 + 3100]
    decided = [(T0, 9), (T0 + 3100, 11)]
    got = windows(sent, decided, T0)
    assert [(w.second, w.sent, w.decided) for w in got] == [(0, 1, 1), (1, 1, 0), (2, 0, 0),
                                                             (3, 1, 1)]
    assert got[1].spread is None and got[2].spread is None
    assert sum(w.sent for w in got) == len(sent)
    assert sum(w.decided for w in got) == len(decided)


def test_window_quantiles_are_nearest_rank() -> None:
    # 200 decisions in one second, 1..200 ms: p50 is the 101st, p99 the 199th.
    sent = [T0 + i for i in range(200)]
    decided = [(T0 + i, i + 1) for i in range(200)]
    [w] = windows(sent, decided, T0)
    assert w.spread == Spread(101.0, 199.0, 200.0)


def test_steady_state_leaves_out_the_first_seconds() -> None:
    # A stall in the first second, fast after: the whole run's worst is not the steady one's.
    decided = [(T0 + 100, 400), (T0 + 4999, 300), (T0 + 5000, 8), (T0 + 7000, 12)]
    assert steady(decided, T0) == Spread(12.0, 12.0, 12.0)
    assert steady(decided, T0, after_s=0) == spread(ms for _, ms in decided)
    assert steady(decided[:2], T0) is None  # the run never reached the steady state


def test_nothing_gives_no_windows_and_a_send_before_the_start_is_an_error() -> None:
    assert windows([], [], T0) == []
    assert spread([]) is None
    with pytest.raises(ValueError, match="before the first"):
        windows([T0 - 1], [], T0)


def test_parts_split_each_latency_at_its_batch_start() -> None:
    # (sent, batch start, appended): the parts of one decision add up to its latency.
    decided = [(T0 + 10, T0 + 12, T0 + 20), (T0 + 1000, T0 + 1030, T0 + 1035),
               (T0 + 1500, T0 + 1501, T0 + 1600), (T0 + 2000, T0 + 2004, T0 + 2010)]
    got = parts(decided, T0 + 1000)  # the first send is before the cut: left out
    assert got == Parts(Spread(4.0, 30.0, 30.0), Spread(6.0, 99.0, 99.0))
    assert parts(decided, T0 + 3000) is None
    assert parts([], T0) is None
