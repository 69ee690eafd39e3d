"""What a worker counts between two metrics records."""

from __future__ import annotations


def test_worker_stats_hand_over_an_interval_and_start_afresh() -> None:
    from streams.worker.stats import WorkerStats, percentiles

    stats = WorkerStats()
    stats.events_in = 3
    for _ in range(3):
        stats.decided("action", "retention", "sms")
    stats.emitted(1100.0, [1000, 1010, 1020])
    snap = stats.take()
    assert snap.events_in == 3 and snap.outcomes["action"] == 3
    assert sorted(snap.latencies) == [80.0, 90.0, 100.0] and snap.max_latency == 100.0
    assert percentiles(snap.latencies)["p50"] == 90.0
    assert stats.events_in == 0 and not stats.latencies and not stats.outcomes
