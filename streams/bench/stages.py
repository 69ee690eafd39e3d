"""`arbiter bench --stages`: what each step of the worker's pipeline costs, without I/O.

Over synthetic events (the bench's mix and sizes) on one core, no Kafka and no Redis, in
batches of 2,000 as the worker takes them, each step timed over the batch in turn: decode
and validate, classify, decode the stored contact history, arbitrate, the history update,
the decision's JSON, and the output record batches (the worker's Emitter into aiokafka's
batches, never sent). The sum is what one worker process spends per event before any client
or network work: the ceiling it cannot pass, whatever Kafka and Redis do. The collector runs
as in the worker (gc_policy), and is given back as it was.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from typing import TypeVar

from rules import (
    Catalogue,
    arbitrate,
    classify,
    decode_stored,
    history_update,
    load_catalogue,
)
from streams import kafka, synthetic
from streams.bench.core import history_entries
from streams.settings import Settings
from streams.worker.codec import decode_event
from streams.worker.collector import settle_collector
from streams.worker.emit import Emitter

_T = TypeVar("_T")
STAGES = ("decode", "classify", "history", "arbitrate", "history_update", "decision_json",
          "record_batches")
BATCH = 2000  # events timed together, as the worker's batch: results do not pile up


class _Clock:
    """Seconds per stage, summed over the batches."""

    def __init__(self) -> None:
        self.secs = dict.fromkeys(STAGES, 0.0)

    def time(self, stage: str, fn: Callable[[], list[_T]]) -> list[_T]:
        start = time.perf_counter()
        out = fn()
        self.secs[stage] += time.perf_counter() - start
        return out


def _batch(clock: _Clock, cat: Catalogue, now: int, chunk: list[bytes],
           stored: list[bytes], emitter: Emitter) -> None:
    events = clock.time("decode", lambda: [decode_event(v) for v in chunk])
    mots = clock.time("classify", lambda: [classify(cat, ev) for ev in events])
    cap = cat.history_max_entries
    histories = clock.time("history", lambda: [decode_stored(h, cap) for h in stored])
    decisions = clock.time("arbitrate", lambda: [
        arbitrate(cat, ev, m, h, now) for ev, m, h in zip(events, mots, histories, strict=True)])
    clock.time("history_update", lambda: [
        history_update(cat, ev, m, d, now) for ev, m, d in zip(events, mots, decisions,
                                                               strict=True)])
    bodies = clock.time("decision_json", lambda: [d.to_json() for d in decisions])

    def append() -> list[None]:
        for ev, d, body in zip(events, decisions, bodies, strict=True):
            emitter.decision(ev.customer_id, body, d.action.channel if d.action else None)
        return []

    clock.time("record_batches", append)


async def _batches(values: list[bytes], stored: list[bytes], clock: _Clock) -> None:
    cat = load_catalogue()
    now = int(time.time() * 1000)
    settings = Settings.from_env()
    producer = kafka.producer(settings)  # never started: it only makes the record batches
    try:
        partitions = dict.fromkeys(kafka.all_topics(settings), settings.partitions)
        for at in range(0, len(values), BATCH):
            chunk = values[at:at + BATCH]
            histories = [stored[(at + i) % len(stored)] for i in range(len(chunk))]
            # A new emitter per batch, as the worker hands its batches over after each one.
            _batch(clock, cat, now, chunk, histories, Emitter(producer, settings.topics,
                                                              partitions))
    finally:
        await producer.stop()


def run_stages(count: int = 100_000, seed: int = 7) -> dict[str, object]:
    values = [value for _, value in synthetic.records(count, seed=seed)]
    # As Redis holds them: one string per customer, oldest entry first, one per line.
    stored = [b"".join(e.encode() + b"\n" for e in reversed(entries))
              for entries in history_entries(1024, seed, int(time.time() * 1000))]
    thresholds = gc.get_threshold()
    settle_collector()
    clock = _Clock()
    try:
        asyncio.run(_batches(values, stored, clock))
    finally:  # the caller's process gets its collector back as it was
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    per_event = {k: round(1e6 * v / count, 2) for k, v in clock.secs.items()}
    total = sum(clock.secs.values())
    return {"events": count, "us_per_event": per_event,
            "total_us": round(1e6 * total / count, 2),
            "ceiling_eps": round(count / total, 1)}


def main_stages_bench(as_json: bool, count: int = 100_000) -> int:
    result = run_stages(count)
    if as_json:
        print(json.dumps(result))
        return 0
    per: dict[str, float] = result["us_per_event"]  # type: ignore[assignment]
    print(f"pipeline without I/O, {result['events']:,} synthetic events on one core:")
    for name in STAGES:
        print(f"  {name:<16} {per[name]:>6.2f} µs/event")
    print(f"  {'total':<16} {result['total_us']:>6.2f} µs/event: at most "
          f"{result['ceiling_eps']:,.0f} events/s per worker process before any I/O")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_stages_bench(False))
