"""One replay: the worker's Pipeline over the events, with the state in memory and the event
time as the clock.

The replay's clock steps by *slices*: at most BATCH events that never straddle a minute of
event time, each slice's state read and written at the time of its first event, so the MoT
counters land in the minute, hour and day buckets of their own events; each event is
arbitrated at its own ts (Pipeline's event_time). One partition holds all state, as a worker
whose topic has one partition.

A minute holds few events (a million over a month: about 23), so one pipeline call per slice
would spend most of the time on the call itself. Consecutive slices therefore go to the
pipeline in one call (at most BATCH events) when none of them shares a customer or an
event_id with another: no state is then read by one slice and written by another, so the
call decides exactly as the slices one after another would. The memory store reads each
event's slice time from `MemoryStore.when`. A slice with an event_id twice (the pipeline
re-emits such copies at the end of its call) ends its call, so the decisions come out in the
same order too. The calls and their records are made in `slices` (compiled; BATCH is there).
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
from streams.simulate.slices import calls, records
from streams.simulate.source import Events
from streams.simulate.tally import Tally
from streams.worker.collector import settle_collector
from streams.worker.pipeline import Pipeline
from streams.worker.stats import WorkerStats

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
           decisions: BinaryIO | None = None, merge: bool = True,
           repeats_known: bool = True) -> Replay:
    """Decide every event; `keep` keeps each decision (see Tally) for a comparison;
    `decisions` gets each decision's JSON, one a line; `merge=False`: one pipeline call per
    slice (slower, the same decisions: tests/simulate/test_calls.py compares the two);
    `repeats_known=False`: every event id keyed for the dedupe, as in Redis, not only those
    the input holds more than once (MemoryStore's `repeated`; the same decisions too)."""
    now = [0.0]

    def clock() -> float:
        return now[0]

    tally = Tally(catalogue, keep, decisions)
    stats = WorkerStats()
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    settle_collector()  # as the worker: full collections walking the memos cost more than deciding
    # And off for the replay: it leaves next to no cycles (11 objects over 50,000 events),
    # while the collector's walks over the store's growing state took a sixth of its time.
    gc.disable()
    start, cpu = time.perf_counter(), time.process_time()
    store = MemoryStore(dedupe_ttl_s, clock, history_cap=catalogue.history_max_entries,
                        repeated=repeated_ids(events.ids) if repeats_known else None)
    pipeline = Pipeline(catalogue, store, tally, stats, clock=clock, event_time=True,
                        observe=tally.observe, per_decision=False)  # the tally counts them
    try:
        asyncio.run(_run(pipeline, store, events, now, label, merge))
    finally:
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        if enabled:
            gc.enable()
    return Replay(catalogue, tally, stats, store, seconds, cpu)


def repeated_ids(ids: list[str | None]) -> frozenset[str]:
    """The event ids found more than once in the input (None: unreadable, not counted)."""
    known = [i for i in ids if i is not None]
    unique = set(known)
    if len(unique) == len(known):
        return frozenset()
    seen: set[str] = set()
    again: set[str] = set()
    for i in known:
        if i in seen:
            again.add(i)
        seen.add(i)
    return frozenset(again)


async def _run(pipeline: Pipeline, store: MemoryStore, events: Events, now: list[float],
               label: str, merge: bool) -> None:
    times = events.times
    n = len(times)
    bar = tqdm(total=n, unit="ev", unit_scale=True, desc=label or "simulate", leave=False,
               disable=True if n < PROGRESS_FROM else None)
    submit: Callable = pipeline.submit  # type: ignore[type-arg]
    when = store.when
    try:
        for start, end in calls(events, when, merge):
            now[0] = (times[start] + 0.5) / 1000  # read back as times[start] ms
            await (await submit(records(events, start, end)))
            when.clear()
            bar.update(end - start)
    finally:
        bar.close()
