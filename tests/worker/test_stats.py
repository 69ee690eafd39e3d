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


def test_the_latency_sample_is_uniform_over_an_interval_of_any_length() -> None:
    # Latencies 0..n-1 in order, n ten times the reservoir: a sample biased to the start or
    # the end of the interval (a wrong skip) moves its mean and quantiles far from n's.
    from streams.worker.stats import LATENCY_SAMPLES, WorkerStats

    n = 10 * LATENCY_SAMPLES
    stats = WorkerStats()
    for at in range(0, n, 1000):
        stats.emitted(float(n), [n - i for i in range(at, at + 1000)])
    snap = stats.take()
    s = sorted(snap.latencies)
    assert len(s) == LATENCY_SAMPLES and len(set(s)) == LATENCY_SAMPLES  # no item twice
    assert snap.seen == n and snap.max_latency == n - 1
    mean = sum(s) / len(s)
    assert abs(mean - n / 2) < 0.02 * n
    for q in (0.1, 0.5, 0.9):
        assert abs(s[int(q * len(s))] - q * n) < 0.02 * n
    # A sample from the last tenth of the interval: present in its share (a tenth).
    assert abs(sum(1 for v in s if v >= 0.9 * n) - LATENCY_SAMPLES / 10) < LATENCY_SAMPLES / 50
    # The next interval fills afresh.
    stats.emitted(10.0, [5, 6])
    assert sorted(stats.take().latencies) == [4.0, 5.0]
