"""`arbiter demo`: the local stack, a worker, a synthetic stream, live actions and metrics."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
from aiokafka import TopicPartition

from rules import InvalidEvent
from streams import kafka, synthetic
from streams.cli import tail
from streams.cli.args import positive, whole
from streams.settings import Settings
from streams.stack import control as stack
from streams.stack.worker import WorkerProcess
from streams.worker.codec import decode_event

TOP_MOTS = 12  # rows of the live MoT table


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
               worker: WorkerProcess) -> dict[str, object]:
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
            if not worker.running:
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


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=whole(1), default=6000, help="events to send")
    p.add_argument("--rate", type=positive, default=150.0, help="events per second")
    p.add_argument("--seconds", type=positive, default=110.0, help="stop after this long")
    p.add_argument("--dashboard-port", type=whole(0), default=8080,
                   help="port of the live dashboard on 127.0.0.1 (0: no dashboard)")


def run(args: argparse.Namespace) -> int:
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
    worker = WorkerProcess(settings, log_path).start()
    dashboard = WorkerProcess(
        settings, log_path.with_name("demo-dashboard.log"),
        ["-m", "streams.cli", "dashboard", "--port", str(args.dashboard_port)],
    ).start() if args.dashboard_port else None
    try:
        result = asyncio.run(_run(settings, args.count, args.rate,
                                  started + args.seconds, worker))
        print(_summary(result, time.monotonic() - started))
        return 0 if result["undecided"] == 0 else 1
    except KeyboardInterrupt:
        print("\ndemo interrupted; stopping", file=sys.stderr)
        return 130
    finally:
        worker.stop()
        if dashboard is not None:
            dashboard.stop()
        if info.started:  # leave a stack that was already up for whoever started it
            stack.down(info.started)
