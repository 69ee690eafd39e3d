"""The bench phases, run in one go over servers given by Settings; every phase cleans up."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from tqdm import tqdm

from streams import synthetic
from streams.bench import latency as bench_latency
from streams.bench import raw as bench_raw
from streams.bench.kit import (
    Rate,
    drop_datadir,
    isolated,
    produce,
    purge_redis,
)
from streams.bench.worker import NAIVE, Drained, WorkerGroup, WorkerProc, time_outputs
from streams.kafka import create_topics, delete_topics, output_topics
from streams.settings import Settings
from streams.stack.worker import ARBITER


@dataclass(frozen=True, slots=True)
class Options:
    events: int = 200_000
    partitions: int = 8
    offered_eps: float = 5000.0
    latency_s: float = 15.0
    rss_customers: int = 1_000_000
    naive_events: int = 30_000
    skip_naive: bool = False
    skip_rss: bool = False
    workers: int = 1  # arbiter worker processes in one group for the throughput phase


GROUP_SETTLE_S = 10.0


@dataclass(slots=True)
class Results:
    raw: Rate | None = None
    arbiter: Drained | None = None
    naive: Drained | None = None
    latency: bench_latency.Latency | None = None
    rss: Drained | None = None
    notes: list[str] = field(default_factory=list)


def _bar(desc: str, total: int) -> tqdm:
    # disable=None: a bar on a terminal, nothing when stderr is a file or pipe.
    return tqdm(total=total, desc=f"{desc:<18}", unit="ev", unit_scale=True, file=sys.stderr,
                disable=None, dynamic_ncols=True)


class Bench:
    def __init__(self, base: Settings, opts: Options, log_dir: Path,
                 broker_pid: int | None = None) -> None:
        self.base = base.with_(partitions=opts.partitions)
        self.opts = opts
        self.log_dir = log_dir
        self.broker_pid = broker_pid  # the Kafka broker's process, when it runs here
        self.results = Results()

    async def run(self) -> Results:
        o, r = self.opts, self.results
        shared = isolated(self.base, tag="bench")
        events = shared.topics.events
        await create_topics(shared, [events], o.partitions)
        try:
            with _bar("produce", o.events) as bar:
                source = synthetic.records(o.events, seed=int(time.time()))
                await produce(shared, source, o.partitions, bar)
            r.raw = await self._raw(events)
            desc = "arbiter worker" if o.workers == 1 else f"{o.workers} arbiter workers"
            r.arbiter = await self._worker(desc, ARBITER, events, o.events, o.workers)
            if not o.skip_naive:
                n = min(o.events, o.naive_events)
                r.naive = await self._worker("naive faust", NAIVE, events, n)
        finally:
            await delete_topics(shared, [events])
        r.latency = await self._latency()
        if not o.skip_rss:
            r.rss = await self._rss()
        return r

    async def _raw(self, events: str) -> Rate:
        s = isolated(self.base, events=events)
        await create_topics(s, output_topics(s), self.opts.partitions)
        try:
            with _bar("raw passthrough", self.opts.events) as bar:
                return await bench_raw.passthrough(s, self.opts.partitions, self.opts.events,
                                                   bar)
        finally:
            await _cleanup(s)

    async def _worker(self, desc: str, argv: list[str], events: str, target: int,
                      workers: int = 1) -> Drained:
        s = isolated(self.base, events=events)
        await create_topics(s, output_topics(s), self.opts.partitions)
        return await self._drive(desc, s, argv, target, workers)

    async def _drive(self, desc: str, s: Settings, argv: list[str], target: int,
                     workers: int = 1) -> Drained:
        worker: WorkerProc = WorkerProc(s, argv, self.log_dir) if workers == 1 else \
            WorkerGroup(s, argv, self.log_dir, workers)
        worker.start()
        try:
            with _bar(desc, target) as bar:
                # A group rebalances while its workers join: time it once that is over.
                return await time_outputs(worker, self.opts.partitions, target, bar,
                                          self.broker_pid,
                                          settle_s=0.0 if workers == 1 else GROUP_SETTLE_S)
        finally:
            worker.stop()
            await _cleanup(s)

    async def _latency(self) -> bench_latency.Latency:
        o = self.opts
        s = isolated(self.base, tag="lat")
        total = max(1, int(o.offered_eps * o.latency_s))
        worker = None
        try:
            with _bar("latency", total) as bar:
                lat, worker = await bench_latency.measure(
                    s, o.partitions, o.offered_eps, o.latency_s, self.log_dir, bar,
                    self.broker_pid)
            return lat
        finally:
            if worker is not None:
                worker.stop()
            await _cleanup(s, with_events=True)

    async def _rss(self) -> Drained:
        o = self.opts
        s = isolated(self.base, tag="rss")
        await create_topics(s, [s.topics.events, *output_topics(s)], o.partitions)
        try:
            with _bar("rss: produce", o.rss_customers) as bar:
                await produce(s, distinct_customers(o.rss_customers), o.partitions, bar)
            return await self._drive("rss: arbiter", s, ARBITER, o.rss_customers)
        finally:
            await _cleanup(s, with_events=True)


def distinct_customers(count: int) -> Iterator[tuple[bytes, bytes]]:
    """Synthetic events, each from a customer of its own (u0000000, u0000001, ...).

    A Population of a million builds in seconds, but a million random picks from it reach
    only about half of its customers; a new id per event makes every one appear.
    """
    width = max(7, len(str(count - 1)))
    for i, ev in enumerate(synthetic.events(count, seed=int(time.time()))):
        cid = f"u{i:0{width}d}"
        ev["customer_id"] = cid
        yield cid.encode(), orjson.dumps(ev)


async def _cleanup(s: Settings, with_events: bool = False) -> None:
    names = output_topics(s) + ([s.topics.events] if with_events else [])
    await delete_topics(s, names)
    await purge_redis(s)
    drop_datadir(s.group)
