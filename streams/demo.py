"""`arbiter demo`: the local stack, a worker, a synthetic stream, live actions and metrics."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
from aiokafka import TopicPartition

from rules import InvalidEvent
from streams import kafka, stack, synthetic, tail
from streams.codec import decode_event
from streams.settings import Settings

TOP_MOTS = 12  # rows of the live MoT table


def _start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker", "-l", "warning"],
        env={**os.environ, **settings.to_env()},
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def _start_dashboard(settings: Settings, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """`arbiter dashboard` beside the worker: a process of its own, reading the topics."""
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "dashboard", "--port", str(port)],
        env={**os.environ, **settings.to_env()},
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def _tail_from_end(settings: Settings, topics: list[str]):  # type: ignore[no-untyped-def]
    consumer = kafka.consumer(settings, group_id=None)
    await consumer.start()
    probe = kafka.producer(settings)
    await probe.start()
    tps = [TopicPartition(t, p) for t in topics for p in sorted(await probe.partitions_for(t))]
    await probe.stop()
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    return consumer


async def _run(settings: Settings, count: int, rate: float, deadline: float,
               worker: subprocess.Popen[bytes]) -> dict[str, object]:
    await kafka.ensure_topics(settings, kafka.all_topics(settings), settings.partitions)
    t = settings.topics
    consumer = await _tail_from_end(settings, [t.decisions, t.metrics, t.deadletter])
    records = list(synthetic.records(count, seed=int(time.time()), malformed_ratio=0.005))
    wanted: set[str] = set()
    for _, value in records:
        try:
            wanted.add(decode_event(value).event_id)
        except InvalidEvent:
            continue  # the malformed ones, which the worker must dead-letter
    producer = kafka.producer(settings)
    await producer.start()

    async def pace() -> None:
        step = max(1, int(rate / 20))
        start = time.monotonic()
        for i in range(0, len(records), step):
            for key, value in records[i:i + step]:
                await producer.send(t.events, value, key=key)
            await asyncio.sleep(max(0.0, start + (i + step) / rate - time.monotonic()))
        await producer.flush()

    sender = asyncio.create_task(pace())
    outcomes: Counter[str] = Counter()
    programs: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    dead, last_metrics, last_line = 0, None, 0.0
    final_by = deadline  # once all is decided, wait for one more metrics record, briefly
    try:
        while time.monotonic() < min(deadline, final_by):
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}")
            batch = await consumer.getmany(timeout_ms=300)
            for tp, msgs in batch.items():
                for m in msgs:
                    value = orjson.loads(m.value)
                    if tp.topic == t.metrics:
                        if not wanted:
                            final_by = 0.0  # the closing table counts everything
                        last_metrics = value
                        top = {**value, "mots": value.get("mots", [])[:TOP_MOTS]}
                        print(tail.format_metrics(top), flush=True)
                    elif tp.topic == t.deadletter:
                        dead += 1
                        print("DEAD  " + tail.format_deadletter(value), flush=True)
                    elif value.get("event_id") in wanted:
                        wanted.discard(value["event_id"])
                        if not wanted:
                            final_by = time.monotonic() + settings.metrics_interval + 2
                        outcomes[value["outcome"]] += 1
                        if value["outcome"] == "action":
                            programs[value["action"]["program"]] += 1
                            channels[value["action"]["channel"]] += 1
                            if time.monotonic() - last_line > 0.25:  # a readable trickle
                                last_line = time.monotonic()
                                print("ACT   " + tail.format_action(value), flush=True)
    finally:
        sender.cancel()
        await producer.stop()
        await consumer.stop()
    return {"sent": len(records), "undecided": len(wanted), "deadletter": dead,
            "outcomes": outcomes, "programs": programs, "channels": channels,
            "metrics": last_metrics}


def _summary(result: dict[str, object], seconds: float) -> str:
    lines = [f"\n=== demo summary ({seconds:.0f}s) ===",
             f"records sent      {result['sent']}  (dead letters {result['deadletter']}, "
             f"still undecided {result['undecided']})"]
    outcomes: Counter[str] = result["outcomes"]  # type: ignore[assignment]
    lines.append("decisions         " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    for name in ("programs", "channels"):
        c: Counter[str] = result[name]  # type: ignore[assignment]
        counts = ", ".join(f"{k} {v}" for k, v in c.most_common())
        lines.append(f"actions by {name[:-1]:<8}{counts}")
    m = result["metrics"]
    if isinstance(m, dict) and m.get("mots"):
        for key in ("value", "risk"):
            top = sorted(m["mots"], key=lambda e: -e[key])[:5]
            lines.append(f"top MoTs by {key:<5} " + ", ".join(
                f"{e['mot']}/{e['product_line']} {e[key]:,.0f}" for e in top))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="arbiter demo")
    parser.add_argument("--count", type=int, default=6000, help="events to send")
    parser.add_argument("--rate", type=float, default=150.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=110.0, help="stop after this long")
    parser.add_argument("--dashboard-port", type=int, default=8080,
                        help="port of the live dashboard on 127.0.0.1 (0: no dashboard)")
    args = parser.parse_args(argv)
    if args.dashboard_port:
        print(f"dashboard: http://127.0.0.1:{args.dashboard_port}/  (live while the demo runs)",
              flush=True)
    # Fresh topics answer "not leader" for a moment; the clients retry, the log need not shout.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    started = time.monotonic()
    info = stack.up()
    settings = Settings.from_env().with_(kafka=info.kafka, redis_url=info.redis_url,
                                         metrics_interval=5.0)
    log_path = Path(".arbiter") / "demo-worker.log"
    print(f"worker starting (log: {log_path}); sending {args.count} events at "
          f"{args.rate:.0f}/s", file=sys.stderr)
    worker = _start_worker(settings, log_path)
    dashboard = _start_dashboard(settings, args.dashboard_port, log_path.with_name(
        "demo-dashboard.log")) if args.dashboard_port else None
    try:
        result = asyncio.run(_run(settings, args.count, args.rate,
                                  started + args.seconds, worker))
        print(_summary(result, time.monotonic() - started))
        return 0 if result["undecided"] == 0 else 1
    except KeyboardInterrupt:
        print("\ndemo interrupted; stopping", file=sys.stderr)
        return 130
    finally:
        _stop(worker)
        if dashboard is not None:
            _stop(dashboard)
        if info.started:  # leave a stack that was already up for whoever started it
            stack.down(info.started)
