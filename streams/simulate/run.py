"""One replay: the worker's Pipeline over the events, with the state in memory and the event
time as the clock.

Events go to the pipeline in batches of at most BATCH that never straddle a minute of event
time, so the MoT counters land in the minute, hour and day buckets of their own events; each
event is arbitrated at its own ts (Pipeline's event_time). One partition holds all state, as
a worker whose topic has one partition.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import BinaryIO

from tqdm import tqdm

from rules import Catalogue
from streams.simulate.memory import MemoryStore
from streams.simulate.source import Events
from streams.simulate.tally import Tally
from streams.worker.codec import Record
from streams.worker.collector import settle_collector
from streams.worker.pipeline import Pipeline
from streams.worker.stats import WorkerStats

BATCH = 2000  # as the worker's ARBITER_BATCH_MAX default
PROGRESS_FROM = 100_000  # a progress bar for runs of at least this many events (on a TTY)


class Replay:
    """What one replay left: the tallies, the worker's counters, the store, the seconds."""

    def __init__(self, catalogue: Catalogue, tally: Tally, stats: WorkerStats,
                 store: MemoryStore, seconds: float, cpu_seconds: float) -> None:
        self.catalogue = catalogue
        self.tally = tally
        self.stats = stats
        self.store = store
        self.seconds = seconds  # wall clock
        self.cpu_seconds = cpu_seconds  # this process's CPU: one core's work, whatever else runs


def replay(catalogue: Catalogue, events: Events, *, keep: bool = False,
           dedupe_ttl_s: int = 86_400, label: str = "",
           decisions: BinaryIO | None = None) -> Replay:
    """Decide every event; `keep` keeps each decision (see Tally) for a comparison;
    `decisions` gets each decision's JSON, one a line."""
    now = [0.0]

    def clock() -> float:
        return now[0]

    store = MemoryStore(dedupe_ttl_s, clock)
    tally = Tally(catalogue, keep, decisions)
    stats = WorkerStats()
    pipeline = Pipeline(catalogue, store, tally, stats, clock=clock, event_time=True,
                        observe=tally.observe)
    thresholds = gc.get_threshold()
    settle_collector()  # as the worker: full collections walking the memos cost more than deciding
    start, cpu = time.perf_counter(), time.process_time()
    try:
        asyncio.run(_run(pipeline, events, now, label))
    finally:
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    return Replay(catalogue, tally, stats, store, seconds, cpu)


async def _run(pipeline: Pipeline, events: Events, now: list[float], label: str) -> None:
    values, times, offsets, topic = events.values, events.times, events.offsets, events.name
    n = len(values)
    bar = tqdm(total=n, unit="ev", unit_scale=True, desc=label or "simulate", leave=False,
               disable=True if n < PROGRESS_FROM else None)
    submit: Callable = pipeline.submit  # type: ignore[type-arg]
    try:
        at = 0
        while at < n:
            minute = times[at] // 60_000
            end = at + 1
            stop = min(n, at + BATCH)
            while end < stop and times[end] // 60_000 == minute:
                end += 1
            now[0] = (times[at] + 0.5) / 1000  # the batch's clock, read back as times[at] ms
            batch = [Record(topic, 0, offsets[i], None, values[i], times[i])
                     for i in range(at, end)]
            await (await submit(batch))
            bar.update(end - at)
            at = end
    finally:
        bar.close()
