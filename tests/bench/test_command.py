"""`arbiter bench --json` runs every phase on the stack and prints exactly the contract's keys.

Tiny numbers: this checks that the bench works, not how fast anything is.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from conftest import StackEndpoints

from streams.bench import command as bench
from streams.bench.kit import Rate, redis_cpu_s
from streams.bench.latency import Cpu, Latency
from streams.bench.run import Options, Results
from streams.bench.timeline import Parts, Spread, Window
from streams.bench.worker import Drained, WorkerProc
from streams.cli.main import main as arbiter
from streams.settings import Settings

pytestmark = pytest.mark.integration

KEYS = {"raw_passthrough_eps", "arbiter_eps", "naive_faust_eps", "arbiter_vs_raw",
        "arbiter_vs_naive", "latency_ms", "latency_steady_ms", "latency_windows",
        "latency_parts_ms", "latency_cpu_us_per_event", "offered_eps", "worker_rss_mb",
        "arbiter_cpu_us_per_event"}
LATENCY = {"latency_ms", "latency_steady_ms", "latency_windows", "latency_parts_ms",
           "latency_cpu_us_per_event"}
SHAPED = LATENCY | {"arbiter_cpu_us_per_event"}
SMALL = ["--json", "--events", "4000", "--naive-events", "1500", "--offered-eps", "300",
         "--latency-seconds", "2", "--rss-customers", "2000"]


@pytest.mark.timeout(240)
def test_bench_json_has_every_figure(stack: object, capsys: pytest.CaptureFixture[str]) -> None:
    # 6 s of offered load: past the first 5 s, so there is a steady state to report.
    small = [*SMALL[:SMALL.index("--latency-seconds")], "--latency-seconds", "6",
             *SMALL[SMALL.index("--latency-seconds") + 2:]]
    assert arbiter(["bench", *small]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == KEYS
    for key in KEYS - SHAPED:
        assert isinstance(result[key], int | float) and result[key] > 0, key
    cpu = result["arbiter_cpu_us_per_event"]
    assert set(cpu) == {"worker", "redis", "broker", "all"}
    assert cpu["worker"] > 0 and cpu["redis"] > 0
    if cpu["broker"] is not None:  # the local stack's broker, whose CPU the bench reads
        assert cpu["all"] == pytest.approx(cpu["worker"] + cpu["redis"] + cpu["broker"], abs=0.2)
    assert set(result["latency_ms"]) == {"p50", "p99"}
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert result["offered_eps"] == 300
    steady = result["latency_steady_ms"]
    assert set(steady) == {"p50", "p99", "max"} and 0 < steady["p50"] <= steady["p99"] <= steady[
        "max"]
    windows = result["latency_windows"]
    # One window per second of send time, contiguous; every event offered is in one of them.
    assert [w["second"] for w in windows] == list(range(len(windows)))
    assert len(windows) >= 6  # the pacer's last steps may fall past 6 s on a busy machine
    assert sum(w["sent"] for w in windows) == 300 * 6
    for w in windows:
        assert set(w) == {"second", "sent", "decided", "p50_ms", "p99_ms", "max_ms"}
        assert 0 <= w["decided"] <= w["sent"]
        if w["decided"]:
            assert 0 < w["p50_ms"] <= w["p99_ms"] <= w["max_ms"]
        else:
            assert w["p50_ms"] is None
    assert sum(w["decided"] for w in windows) > 0
    # The whole run's p99 and the steady state's come from the same decisions as the windows.
    worst = max(w["max_ms"] for w in windows if w["decided"])
    assert steady["max"] <= worst
    # Each decision's latency split at its batch's start: both parts read, neither negative,
    # neither above the whole's worst (one machine, one clock).
    split = result["latency_parts_ms"]
    assert set(split) == {"to_batch", "in_batch"}
    for part in split.values():
        assert set(part) == {"p50", "p99", "max"}
        assert 0 <= part["p50"] <= part["p99"] <= part["max"] <= worst
    # What the offered load cost per event sent: the worker and Redis always worked for it.
    paced = result["latency_cpu_us_per_event"]
    assert set(paced) == {"worker", "redis", "broker", "all"}
    assert paced["worker"] > 0 and paced["redis"] > 0
    if paced["broker"] is not None:
        assert paced["all"] == pytest.approx(
            paced["worker"] + paced["redis"] + paced["broker"], abs=0.2)


@pytest.mark.timeout(240)
def test_bench_readable_form_says_where_the_cpu_went(
        stack: StackEndpoints, capsys: pytest.CaptureFixture[str]) -> None:
    # 20,000 events: the timed window (first output to last) must span CPU clock ticks
    # (10 ms); a worker deciding 4,000 in one or two polls read 0.0 µs.
    small = [a for a in SMALL if a != "--json"] + ["--skip-naive", "--skip-rss", "--events",
                                                   "20000"]
    assert arbiter(["bench", *small]) == 0
    lines = capsys.readouterr().out.splitlines()
    cpu = [ln for ln in lines if ln.startswith("  CPU per event: worker ")]
    assert len(cpu) == 1  # the arbiter's run (the naive one skipped)
    words = cpu[0].split()
    worker, redis = float(words[4]), float(words[words.index("server") + 1])
    assert worker > 0 and redis > 0
    # The local stack's broker runs here: its CPU is read too, and the three add up.
    assert ("Kafka broker" in cpu[0]) == stack.local
    if stack.local:
        broker = float(words[words.index("broker") + 1])
        assert float(words[-4]) == pytest.approx(worker + redis + broker, abs=0.15)
    assert any("one worker on one core would have" in ln for ln in lines)


@pytest.mark.timeout(240)
def test_bench_measures_a_group_of_workers(stack: StackEndpoints,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    small = [a for a in SMALL if a != "--json"] + ["--skip-naive", "--skip-rss", "--workers", "2"]
    assert arbiter(["bench", *small]) == 0
    lines = capsys.readouterr().out.splitlines()
    group = [ln for ln in lines if ln.startswith("2 arbiter workers")]
    assert len(group) == 1 and float(group[0].split()[3].replace(",", "")) > 0


def test_bench_rejects_a_latency_phase_without_samples(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert arbiter(["bench", "--latency-seconds", "1"]) == 2
    assert "--latency-seconds must be over 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: a usage error
        arbiter(["bench", "--events", "0"])


def _drained(count: int, seconds: float, worker_cpu_s: float, redis_cpu_s: float,
             broker_cpu_s: float | None = None) -> Drained:
    return Drained(Rate(count, seconds), count, 0, 150.0, worker_cpu_s, redis_cpu_s, broker_cpu_s)


def test_human_output_says_where_the_cpu_went() -> None:
    # 20,000 events in 2 s with the worker busy 1.6 s: 80 µs each, 80 % of a core; Redis
    # 0.5 s: 25 µs each; the broker 0.3 s: 15 µs. Raw at 100,000/s: half of it leaves 20 µs
    # per event on one core.
    results = Results(raw=Rate(100_000, 1.0), arbiter=_drained(20_000, 2.0, 1.6, 0.5, 0.3),
                      naive=_drained(1_000, 1.0, 0.9, 0.1))
    text = bench.human(results, Options(skip_rss=True), Settings.from_env())
    lines = text.splitlines()
    arbiter = lines.index(next(ln for ln in lines if ln.startswith("arbiter worker")))
    assert lines[arbiter + 1].split() == [
        "CPU", "per", "event:", "worker", "80.0", "µs", "(80", "%", "of", "a", "core),", "Redis",
        "server", "25.0", "µs,", "Kafka", "broker", "15.0", "µs:", "120.0", "µs", "in", "all"]
    naive = lines.index(next(ln for ln in lines if ln.startswith("naive Faust agent")))
    # No broker pid (servers elsewhere): no broker figure.
    assert lines[naive + 1].endswith("worker 900.0 µs (90 % of a core), Redis server 100.0 µs")
    cores = os.cpu_count() or 1
    assert (f"0.5 x raw is 50,000 events/s here: one worker on one core would have 20.0 µs of "
            f"CPU per event, all {os.cpu_count()} cores {20.0 * cores:.1f} µs") in text


def test_human_output_shows_latency_per_second() -> None:
    windows = (Window(0, 5000, 5000, Spread(310.0, 440.0, 452.0)),
               Window(1, 5000, 4990, Spread(9.0, 30.0, 41.0)),
               Window(2, 10, 0, None))
    lat = Latency(9.0, 30.0, 4990, 10, 5003.0, 41.0, windows, Spread(8.0, 25.0, 33.0),
                  Parts(Spread(3.0, 12.0, 20.0), Spread(6.0, 19.0, 30.0)),
                  Cpu(120.5, 40.25, 60.0))
    text = bench.human(Results(latency=lat), Options(skip_rss=True), Settings.from_env())
    lines = text.splitlines()
    assert "  steady state (sent after 5 s): p50 / p99 / max 8 / 25 / 33 ms" in lines
    assert ("  sent to batch start p50 / p99 3 / 12 ms; batch start to decision appended "
            "6 / 19 ms") in lines
    assert ("  CPU µs per event while offered: worker 120.5, Redis 40.2, broker 60.0, "
            "all 220.8") in lines
    table = {ln.split()[0] + (" " + ln.split()[1] if ln.split()[1] == "ms" else ""): ln.split()
             for ln in lines[lines.index("  per second of send time (second 0 is the warm-up):")
                             + 1:]}
    assert table["second"][1:] == ["0", "1", "2"]
    assert table["sent"][1:] == ["5000", "5000", "10"]
    assert table["decided"][1:] == ["5000", "4990", "0"]
    assert table["p99 ms"][2:] == ["440", "30", "-"]
    assert table["max ms"][2:] == ["452", "41", "-"]
    # A phase too short for a steady state says so.
    short = Latency(9.0, 30.0, 4990, 10, 5003.0, 41.0, windows, None)
    text = bench.human(Results(latency=short), Options(skip_rss=True), Settings.from_env())
    assert "  steady state (sent after 5 s): none (the phase is shorter)" in text.splitlines()


def test_worker_cpu_is_read_from_proc(settings: Settings, tmp_path: Path) -> None:
    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n" \
           "time.sleep(30)"
    worker = WorkerProc(settings, ["-c", busy], tmp_path).start()
    try:
        deadline = time.monotonic() + 20
        while worker.cpu_s() < 0.4 and time.monotonic() < deadline:
            time.sleep(0.05)
        used = worker.cpu_s()
        assert 0.4 <= used < 2.0
    finally:
        worker.stop()
    assert worker.cpu_s() == 0.0  # gone: nothing to read


def test_redis_cpu_grows_with_work(settings: Settings) -> None:
    async def run() -> tuple[float, float]:
        before = await redis_cpu_s(settings)
        r = aioredis.Redis.from_url(settings.redis_url)
        try:
            for _ in range(5):
                pipe = r.pipeline(transaction=False)
                for i in range(20_000):
                    pipe.set(f"{{{settings.redis_prefix}:p0}}:cpu:{i}", "x", ex=60)
                await pipe.execute()
        finally:
            await r.aclose()
        return before, await redis_cpu_s(settings)

    before, after = asyncio.run(run())
    assert after > before > 0
