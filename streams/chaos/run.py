"""One fault-injection run: a synthetic stream at a fixed rate into topics, group and Redis
keys of the run's own, a worker deciding it, a fault injected meanwhile, then the audit.

The stall and recovery figures come from the decisions' record timestamps (the worker's
producer stamps each record when it emits it): the longest gap between two consecutive
decisions, and for each fault the time from its end to the first decision after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import TopicPartition

from streams import kafka
from streams.chaos.audit import Audit, audit, partitions
from streams.chaos.private_redis import ChaosError, PrivateRedis
from streams.settings import Settings
from streams.stack.worker import WorkerProcess
from streams.synthetic import events as synthetic_events


@dataclass(frozen=True, slots=True)
class Timings:
    """The run's sizes and fault lengths (seconds); the defaults are the full run's."""

    events: int = 100_000
    rate: float = 5000.0  # events per second offered
    fault_s: float = 10.0  # Redis or the broker stopped
    pause_s: float = 12.0  # CLIENT PAUSE: past the worker's 10 s Redis socket timeout
    full_s: float = 30.0  # Redis at maxmemory
    kills: int = 10
    joins: int = 2
    partitions: int = 4
    commit_timeout_s: float = 300.0

    @property
    def stream_s(self) -> float:
        return self.events / self.rate


@dataclass
class Progress:
    produced: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Context:
    """What a scenario's fault may touch. `workers[0]` is the worker the stream depends on."""

    settings: Settings
    workdir: Path
    timings: Timings
    redis: PrivateRedis | None
    progress: Progress = field(default_factory=Progress)
    workers: list[WorkerProcess] = field(default_factory=list)
    faults: list[tuple[float, float]] = field(default_factory=list)  # wall-clock s: start, end
    notes: list[str] = field(default_factory=list)
    counts_reset: bool = False
    # Worker exits nobody asked for (restarted, as a supervisor would): reported, not failed,
    # since the successor re-reads what was not committed and the audit judges the result.
    restarts: int = 0
    crashes: int = 0  # stops asked for (SIGTERM) that did not exit 0
    expected_exit: bool = False  # set while a fault kills or stops the main worker

    def new_worker(self, name: str) -> WorkerProcess:
        return WorkerProcess(self.settings, self.workdir / f"worker-{name}.log").start()

    async def at_share(self, share: float, timeout_s: float = 120.0) -> None:
        """Wait until `share` of the stream is produced and decided, so the fault lands on a
        worker at work (one that is still starting would hide a stall)."""
        want = int(self.timings.events * share)
        deadline = time.monotonic() + timeout_s
        while self.progress.produced < want and not self.progress.done.is_set():
            await asyncio.sleep(0.05)
        while await self.decided_so_far() < want and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def decided_so_far(self) -> int:
        return await ends(self.settings, self.settings.topics.decisions)


Fault = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A scenario's figures; ok() when every invariant it checks holds."""

    scenario: str
    audit: Audit
    longest_stall_s: float
    recover_s: float | None  # the slowest recovery over the scenario's faults
    faults: int
    restarts: int  # the worker exited on its own and was started again
    crashes: int  # SIGTERMs (a rebalance's leaver, the final stop) not answered by exit 0
    counts_reset: bool  # Redis lost its data on purpose: the counts are not checked
    notes: tuple[str, ...]
    seconds: float

    def ok(self) -> bool:
        a = self.audit
        counts_ok = self.counts_reset or a.count_errors == 0
        return (counts_ok and not (a.repeated_different or a.lost or a.unexpected
                                   or a.action_conflicts or a.lag or self.crashes))

    def as_dict(self) -> dict[str, object]:
        return {"scenario": self.scenario, "ok": self.ok(), **self.audit.as_dict(),
                "count_errors": None if self.counts_reset else self.audit.count_errors,
                "counts_reset": self.counts_reset, "longest_stall_s": self.longest_stall_s,
                "recover_s": self.recover_s, "faults": self.faults, "restarts": self.restarts,
                "crashes": self.crashes,
                "notes": list(self.notes), "seconds": round(self.seconds, 1)}


async def ends(settings: Settings, topic: str) -> int:
    """The sum of a topic's end offsets."""
    consumer = kafka.consumer(settings, group_id=None)
    await consumer.start()
    try:
        parts = await partitions(consumer, topic)
        got = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return sum(got.values())
    finally:
        await consumer.stop()


async def produce(ctx: Context, sent: list[dict[str, object]]) -> list[dict[str, object]]:
    """Produce `sent` at the run's rate, 20 slices a second; returns the events acknowledged.

    A send the broker did not acknowledge (it was away) is sent again after the stream, so
    the input holds every event at least once, as a producer with retries would leave it.
    """
    s, rate = ctx.settings, ctx.timings.rate
    step = max(1, round(rate / 20))
    producer = kafka.producer(s, request_timeout_ms=30_000)
    await producer.start()
    pending: list[tuple[dict[str, object], asyncio.Future[object]]] = []
    try:
        # The first event alone, until it is decided: the stream starts on a worker at work.
        first = await producer.send(s.topics.events, orjson.dumps(sent[0]),
                                    key=str(sent[0]["customer_id"]).encode())
        pending.append((sent[0], first))
        deadline = time.monotonic() + 120
        while await ctx.decided_so_far() < 1:
            if time.monotonic() > deadline:
                raise ChaosError("the worker decided nothing within 120 s")
            await asyncio.sleep(0.2)
        start = time.monotonic()
        for i in range(1, len(sent), step):
            for ev in sent[i:i + step]:
                fut = await producer.send(s.topics.events, orjson.dumps(ev),
                                          key=str(ev["customer_id"]).encode())
                pending.append((ev, fut))
            ctx.progress.produced = min(len(sent), i + step)
            delay = start + (i - 1 + step) / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        acked: list[dict[str, object]] = []
        for _ in range(5):
            results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
            failed = [ev for (ev, _), r in zip(pending, results, strict=True)
                      if isinstance(r, BaseException)]
            acked += [ev for (ev, _), r in zip(pending, results, strict=True)
                      if not isinstance(r, BaseException)]
            if not failed:
                break
            ctx.notes.append(f"{len(failed)} sends not acknowledged; sent again")
            pending = [(ev, await producer.send(s.topics.events, orjson.dumps(ev),
                                                key=str(ev["customer_id"]).encode()))
                       for ev in failed]
        else:
            raise ChaosError(f"{len(failed)} events could not be produced after 5 tries")
        return acked
    finally:
        ctx.progress.done.set()
        await producer.stop()


async def supervise(ctx: Context) -> None:
    """Restart the main worker when it exits on its own (counted as a crash)."""
    while True:
        await asyncio.sleep(0.5)
        w = ctx.workers[0]
        if not w.running and not ctx.expected_exit:
            ctx.restarts += 1
            ctx.notes.append(f"worker exited {w.returncode} on its own (restarted): "
                             f"{w.log_tail(3).replace(chr(10), ' | ')[-300:]}")
            ctx.workers[0] = ctx.new_worker(f"restart{ctx.restarts}")


async def decision_times(settings: Settings) -> list[int]:
    """The record timestamps (ms) of every decision, from the beginning to the end offsets."""
    topic = settings.topics.decisions
    consumer = kafka.consumer(settings, group_id=None, isolation_level="read_committed")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(await partitions(consumer, topic))]
        end = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if end[tp] > 0}
        out: list[int] = []
        if not todo:
            return out
        consumer.assign(sorted(todo, key=lambda tp: tp.partition))
        await consumer.seek_to_beginning(*todo)
        while todo:
            got = await consumer.getmany(*todo, timeout_ms=1000)
            for tp, msgs in got.items():
                out += [m.timestamp for m in msgs if m.offset < end[tp]]
            for tp in list(todo):
                if await consumer.position(tp) >= end[tp]:
                    todo.discard(tp)
        return sorted(out)
    finally:
        await consumer.stop()


def stall_and_recovery(times_ms: list[int],
                       faults: list[tuple[float, float]]) -> tuple[float, float | None]:
    """Longest gap between consecutive decisions (s), and the slowest recovery (s): for each
    fault, its end to the first decision stamped after it (None without faults)."""
    stall = max((b - a for a, b in itertools.pairwise(times_ms)), default=0) / 1000
    recover: float | None = None
    for _, end in faults:
        after = next((t for t in times_ms if t >= end * 1000), None)
        if after is not None:
            took = after / 1000 - end
            recover = took if recover is None else max(recover, took)
    return round(stall, 2), None if recover is None else round(recover, 2)


async def run_scenario(name: str, fault: Fault, base: Settings, workdir: Path,
                       timings: Timings, private_redis: bool, seed: int) -> Outcome:
    """Stream, worker, fault, audit; everything the run started is stopped on the way out."""
    began = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    redis = PrivateRedis(workdir / "redis").start() if private_redis else None
    s = base.isolated("chaos").with_(partitions=timings.partitions)
    if redis is not None:
        s = s.with_(redis_url=redis.url, redis_cluster=False)
    ctx = Context(settings=s, workdir=workdir, timings=timings, redis=redis)
    tasks: list[asyncio.Task[None]] = []
    try:
        await kafka.ensure_topics(s, kafka.all_topics(s), s.partitions)
        events = list(synthetic_events(timings.events, seed=seed))
        ctx.workers.append(ctx.new_worker("main"))
        tasks.append(asyncio.create_task(supervise(ctx)))
        producing = asyncio.create_task(produce(ctx, events))
        await fault(ctx)
        sent = await producing
        result, _ = await audit(s, sent, commit_timeout_s=timings.commit_timeout_s)
        for t in tasks:
            t.cancel()
        ctx.expected_exit = True
        for w in ctx.workers:
            code = w.stop()
            if code not in (0, None):
                ctx.crashes += 1
                ctx.notes.append(f"a worker exited {code} on SIGTERM")
        stall, recover = stall_and_recovery(await decision_times(s), ctx.faults)
        return Outcome(scenario=name, audit=result, longest_stall_s=stall, recover_s=recover,
                       faults=len(ctx.faults), restarts=ctx.restarts, crashes=ctx.crashes,
                       counts_reset=ctx.counts_reset, notes=tuple(ctx.notes),
                       seconds=time.monotonic() - began)
    finally:
        for t in tasks:
            t.cancel()
        ctx.expected_exit = True
        for w in ctx.workers:
            if w.running and w.proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(w.proc.pid, signal.SIGKILL)
                w.proc.wait()
        if redis is not None:
            redis.kill()
        with contextlib.suppress(Exception):
            await kafka.delete_topics(s, kafka.all_topics(s))
