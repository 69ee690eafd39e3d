"""`arbiter bench`: throughput against a raw aiokafka loop and a naive Faust agent, latency
under a fixed offered rate, and the worker's peak memory, in one run over the same events.

Runs on the servers of ARBITER_KAFKA and ARBITER_REDIS_URL when both are set, otherwise on
the local stack (started if needed, and only what it started is stopped at the end).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import orjson
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from streams.bench import timeline
from streams.bench.kit import BenchError
from streams.bench.latency import Cpu
from streams.bench.run import Bench, Options, Results
from streams.bench.worker import Drained
from streams.settings import Settings, redacted_url
from streams.stack import control as stack

TARGET_VS_RAW = 0.5
TARGET_VS_NAIVE = 10.0
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 300.0


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def payload(r: Results, opts: Options) -> dict[str, object]:
    """The --json object: exactly these keys."""
    raw = r.raw.eps if r.raw else None
    arbiter = r.arbiter.rate.eps if r.arbiter else None
    naive = r.naive.rate.eps if r.naive else None
    rss = r.rss or r.arbiter
    return {
        "raw_passthrough_eps": round(raw, 1) if raw else None,
        "arbiter_eps": round(arbiter, 1) if arbiter else None,
        "naive_faust_eps": round(naive, 1) if naive else None,
        "arbiter_vs_raw": _ratio(arbiter, raw),
        "arbiter_vs_naive": _ratio(arbiter, naive),
        "latency_ms": {"p50": r.latency.p50, "p99": r.latency.p99} if r.latency else None,
        "latency_steady_ms": _spread(r.latency.steady) if r.latency else None,
        "latency_windows": [_window(w) for w in r.latency.windows] if r.latency else None,
        "latency_parts_ms": _parts(r.latency.parts) if r.latency else None,
        "latency_cpu_us_per_event": _cpu_figures(r.latency.cpu) if r.latency else None,
        "offered_eps": opts.offered_eps,
        "worker_rss_mb": round(rss.peak_mb, 1) if rss else None,
        "arbiter_cpu_us_per_event": _cpu(r.arbiter) if r.arbiter else None,
    }


def _parts(parts: timeline.Parts | None) -> dict[str, object] | None:
    if parts is None:
        return None
    return {"to_batch": _spread(parts.to_batch), "in_batch": _spread(parts.in_batch)}


def _cpu_figures(cpu: Cpu | None) -> dict[str, float | None] | None:
    """CPU µs per event per process and in all, rounded to 0.1 (the broker's and the sum
    only when the broker is the local stack's, whose CPU is read)."""
    if cpu is None:
        return None
    worker, redis = round(cpu.worker, 1), round(cpu.redis, 1)
    if cpu.broker is None:
        return {"worker": worker, "redis": redis, "broker": None, "all": None}
    broker = round(cpu.broker, 1)
    return {"worker": worker, "redis": redis, "broker": broker,
            "all": round(worker + redis + broker, 1)}


def _cpu(run: Drained) -> dict[str, float | None] | None:
    """The same for the arbiter's throughput run, per event timed."""
    return _cpu_figures(Cpu(run.per_event_us(run.worker_cpu_s),
                            run.per_event_us(run.redis_cpu_s),
                            None if run.broker_cpu_s is None
                            else run.per_event_us(run.broker_cpu_s)))


def _spread(s: timeline.Spread | None) -> dict[str, float] | None:
    return {"p50": s.p50, "p99": s.p99, "max": s.max} if s else None


def _window(w: timeline.Window) -> dict[str, object]:
    s = w.spread
    return {"second": w.second, "sent": w.sent, "decided": w.decided,
            "p50_ms": s.p50 if s else None, "p99_ms": s.p99 if s else None,
            "max_ms": s.max if s else None}


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "NOT MET"


def human(r: Results, opts: Options, settings: Settings) -> str:
    j = payload(r, opts)
    vs_raw, vs_naive = j["arbiter_vs_raw"], j["arbiter_vs_naive"]
    lines = [f"arbiter bench: {opts.events:,} events, {opts.partitions} partitions, "
             f"Kafka {settings.kafka}, Redis {redacted_url(settings.redis_url)}"
             + (" (cluster)" if settings.redis_cluster else ""),
             f"(machine with {os.cpu_count()} cores shared by broker, Redis, worker and bench: "
             "figures are noisy, repeat runs before comparing)", ""]
    if r.raw:
        lines.append(f"raw aiokafka passthrough  {r.raw.eps:>9,.0f} events/s  "
                     f"({r.raw.count:,} timed in {r.raw.seconds:.1f} s)")
    if r.arbiter:
        a = r.arbiter
        who = "arbiter worker" if opts.workers == 1 else f"{opts.workers} arbiter workers"
        lines.append(f"{who:<26}{a.rate.eps:>9,.0f} events/s  "
                     f"({a.rate.count:,} timed in {a.rate.seconds:.1f} s, startup excluded; "
                     f"{a.decisions:,} decisions, {a.deadletter:,} dead letters)")
        lines.append(_cpu_line(a))
    if r.naive:
        n = r.naive
        lines.append(f"naive Faust agent         {n.rate.eps:>9,.0f} events/s  "
                     f"(the first {min(opts.events, opts.naive_events):,} events only, "
                     f"{n.rate.count:,} timed in {n.rate.seconds:.1f} s)")
        lines.append(_cpu_line(n))
    lines.append("")
    lines.append(_target("arbiter / raw", vs_raw, f">= {TARGET_VS_RAW}", TARGET_VS_RAW))
    if r.raw and r.raw.eps > 0:
        wanted = TARGET_VS_RAW * r.raw.eps
        lines.append(f"  ({TARGET_VS_RAW:g} x raw is {wanted:,.0f} events/s here: one worker on "
                     f"one core would have {1e6 / wanted:.1f} µs of CPU per event, all "
                     f"{os.cpu_count()} cores {(os.cpu_count() or 1) * 1e6 / wanted:.1f} µs)")
    lines.append(_target("arbiter / naive", vs_naive, f">= {TARGET_VS_NAIVE:g}", TARGET_VS_NAIVE))
    lines += _latency_lines(r, opts)
    lines += _rss_lines(r)
    return "\n".join(lines)


def _cpu_line(run: Drained) -> str:
    """Where a throughput run's CPU went, per event timed: what the ratio to raw comes from."""
    worker, redis = run.per_event_us(run.worker_cpu_s), run.per_event_us(run.redis_cpu_s)
    line = (f"  CPU per event: worker {worker:.1f} µs ({100 * run.worker_share:.0f} % of a "
            f"core), Redis server {redis:.1f} µs")
    if run.broker_cpu_s is None:
        return line
    broker = run.per_event_us(run.broker_cpu_s)
    return f"{line}, Kafka broker {broker:.1f} µs: {worker + redis + broker:.1f} µs in all"


def _target(name: str, value: object, wanted: str, floor: float) -> str:
    if not isinstance(value, float):
        return f"{name:<25} {'-':>9}            target {wanted:<9} n/a"
    return f"{name:<25} {value:>9.2f}            target {wanted:<9} {_verdict(value >= floor)}"


def _latency_lines(r: Results, opts: Options) -> list[str]:
    if r.latency is None:
        return []
    lat = r.latency
    ok = lat.p99 <= TARGET_P99_MS if opts.offered_eps >= 5000 else None
    lines = [f"latency p50 / p99         {lat.p50:>5.0f} / {lat.p99:<5.0f} ms   target p99 <= "
             f"{TARGET_P99_MS:g} ms at 5,000/s {_verdict(ok)}",
             f"  (offered {opts.offered_eps:,.0f}/s, sent {lat.achieved_eps:,.0f}/s for "
             f"{opts.latency_s:g} s; {lat.samples:,} decisions after the 1 s warm-up, "
             f"{lat.missing:,} missing; event CreateTime to decision LogAppendTime; "
             f"max {lat.max:.0f} ms)"]
    st = lat.steady
    lines.append(f"  steady state (sent after {timeline.STEADY_AFTER_S} s): " + (
        f"p50 / p99 / max {st.p50:.0f} / {st.p99:.0f} / {st.max:.0f} ms" if st
        else "none (the phase is shorter)"))
    if lat.parts is not None:
        a, b = lat.parts.to_batch, lat.parts.in_batch
        lines.append(f"  sent to batch start p50 / p99 {a.p50:.0f} / {a.p99:.0f} ms; batch start "
                     f"to decision appended {b.p50:.0f} / {b.p99:.0f} ms")
    if lat.cpu is not None:
        c = lat.cpu
        broker = "" if c.broker is None else f", broker {c.broker:.1f}, all {c.all:.1f}"
        lines.append(f"  CPU µs per event while offered: worker {c.worker:.1f}, Redis "
                     f"{c.redis:.1f}{broker}")
    return lines + window_table(lat.windows)


WINDOW_COLUMNS = 15


def window_table(windows: Sequence[timeline.Window]) -> list[str]:
    """Per second of send time, one column each (rows of WINDOW_COLUMNS): events sent,
    decided, and their p50 / p99 / max ms ('-' where none was decided)."""
    def cell(v: float | None) -> str:
        return f"{v:>6.0f}" if v is not None else f"{'-':>6}"

    lines = ["  per second of send time (second 0 is the warm-up):"]
    for i in range(0, len(windows), WINDOW_COLUMNS):
        row = windows[i:i + WINDOW_COLUMNS]
        lines += [
            "    second " + "".join(f"{w.second:>6}" for w in row),
            "    sent   " + "".join(f"{w.sent:>6}" for w in row),
            "    decided" + "".join(f"{w.decided:>6}" for w in row),
            "    p50 ms " + "".join(cell(w.spread.p50 if w.spread else None) for w in row),
            "    p99 ms " + "".join(cell(w.spread.p99 if w.spread else None) for w in row),
            "    max ms " + "".join(cell(w.spread.max if w.spread else None) for w in row)]
    return lines


def _rss_lines(r: Results) -> list[str]:
    run = r.rss or r.arbiter
    if run is None:
        return []
    what = (f"over {run.decisions + run.deadletter:,} events, each from a new customer; "
            f"the worker ran at {run.rate.eps:,.0f} events/s" if r.rss
            else "during the throughput run (memory phase skipped)")
    ok = run.peak_mb <= TARGET_RSS_MB
    return [f"worker peak RSS           {run.peak_mb:>9.1f} MB         target <= "
            f"{TARGET_RSS_MB:g} MB {_verdict(ok)}", f"  ({what})"]


def _servers(base: Settings) -> tuple[Settings, tuple[str, ...], int | None]:
    """The given servers when both are set, else the local stack (and what up() started);
    and the broker's pid when it is the local stack's, whose CPU the bench then reads."""
    if os.environ.get("ARBITER_KAFKA") and os.environ.get("ARBITER_REDIS_URL"):
        local = stack.status().kafka
        ours = local.up and base.kafka == f"{stack.LOOPBACK}:{local.port}"
        return base, (), local.pid if ours else None
    info = stack.up()
    return base.with_(kafka=info.kafka, redis_url=info.redis_url), info.started, info.kafka_pid


def main(opts: Options, as_json: bool) -> int:
    settings, started, broker_pid = _servers(Settings.from_env())
    log_dir = Path(tempfile.mkdtemp(prefix="arbiter-bench-"))
    try:
        results = asyncio.run(Bench(settings, opts, log_dir, broker_pid).run())
    except (BenchError, KafkaError, RedisError, OSError) as exc:
        raise BenchError(f"{exc}\n(worker logs in {log_dir})") from exc
    finally:
        if started:
            stack.down(started)
    shutil.rmtree(log_dir, ignore_errors=True)
    if as_json:
        print(orjson.dumps(payload(results, opts)).decode())
    else:
        print(human(results, opts, settings))
    return 0
