"""Event produced to decision produced, for a caught-up worker under a fixed offered rate.

The input's time is the CreateTime this producer sets on each record (kept per event_id);
the decision's is the broker's LogAppendTime on a decisions topic created with it, so
the figure covers the worker's consume, decide and produce up to the broker having it. The
decision's `decided_ts` (its worker batch's start) splits that in two (timeline.Parts).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tqdm import tqdm

from rules.event import InvalidEvent, parse_ts
from streams import kafka, synthetic
from streams.bench import timeline
from streams.bench.kit import BenchError, redis_cpu_s
from streams.bench.worker import WorkerProc, cpu_s
from streams.kafka import create_topics, output_topics
from streams.settings import Settings, Topics
from streams.stack.worker import ARBITER
from streams.worker.emit import Emitter

TICK_S = 0.005  # pacing step: at 5,000/s about 25 events per step
WARMUP_MS = 1000  # decisions of events sent in the first second are dropped
# After the last send, wait for the rest as long as decisions keep coming: a worker behind
# the offered rate still has every late decision counted, at its real latency.
IDLE_S = 15.0
SETTLE_S = 3.0  # probes answered fast this long in a row before the offered load starts

Item = tuple[bytes, bytes, str]  # key, value, event_id


@dataclass(frozen=True, slots=True)
class Latency:
    p50: float  # the whole run after the warm-up second, ms
    p99: float
    samples: int
    missing: int  # offered events with no decision seen in time
    achieved_eps: float  # what the pacer really sent
    max: float = 0.0
    windows: tuple[timeline.Window, ...] = ()  # per second of send time, warm-up included
    steady: timeline.Spread | None = None  # sends after the first STEADY_AFTER_S seconds
    parts: timeline.Parts | None = None  # the whole run's, split at each batch's start
    cpu: Cpu | None = None  # what the offered load cost, per event sent


@dataclass(frozen=True, slots=True)
class Cpu:
    """CPU µs per event sent, from the pacer's first send until the last decision was seen
    (or the wait for it gave up), per process: at a fixed rate each worker batch is small, so
    its fixed costs (round trips, record batches, fetches) weigh more per event than in the
    throughput run. `broker` is None when the broker is not this machine's local stack (its
    CPU is not read)."""
    worker: float
    redis: float
    broker: float | None

    @property
    def all(self) -> float | None:
        return None if self.broker is None else self.worker + self.redis + self.broker


async def measure(settings: Settings, partitions: int, rate: float, seconds: float,
                  log_dir: Path, bar: tqdm, broker_pid: int | None = None
                  ) -> tuple[Latency, WorkerProc]:
    """Latency of a fresh arbiter worker; the caller stops the worker it gets back.
    `broker_pid`: the local broker's process, whose CPU is then read too."""
    t = settings.topics
    await create_topics(settings, [t.events, *output_topics(settings)], partitions,
                        {t.decisions: {"message.timestamp.type": "LogAppendTime"}})
    items = _items(max(1, int(rate * seconds)))
    worker = WorkerProc(settings, ARBITER, log_dir).start()
    try:
        lat = await _run(worker, partitions, items, rate, bar, broker_pid)
    except BaseException:
        worker.stop()
        raise
    worker.sample()
    return lat, worker


async def _run(worker: WorkerProc, partitions: int, items: list[Item], rate: float,
               bar: tqdm, broker_pid: int | None = None) -> Latency:
    t = worker.settings.topics
    consumer = kafka.consumer(worker.settings, group_id=None, max_poll_records=5000)
    # The pacer builds its own record batches per step: lingering would only add delay.
    producer = kafka.producer(worker.settings, linger_ms=0)
    await consumer.start()
    await producer.start()
    pacer: asyncio.Task[float] | None = None
    try:
        consumer.assign([TopicPartition(t.decisions, p) for p in range(partitions)])
        await _catch_up(worker, producer, consumer, t.events)
        sent: dict[str, int] = {}
        before = await _used(worker, broker_pid)
        pacer = asyncio.create_task(_offer(producer, t.events, partitions, items, rate, sent))
        lat = await _collect(worker, consumer, pacer, sent, len(items), bar)
        cpu = per_event(before, await _used(worker, broker_pid), len(items), broker_pid)
        return dataclasses.replace(lat, cpu=cpu)
    finally:
        if pacer is not None and not pacer.done():
            pacer.cancel()
        await producer.stop()
        await consumer.stop()


def _items(n: int) -> list[Item]:
    out = []
    for ev in synthetic.events(n):  # unseeded: fresh event ids on every call
        out.append((str(ev["customer_id"]).encode(), orjson.dumps(ev), str(ev["event_id"])))
    return out


async def _catch_up(worker: WorkerProc, producer: AIOKafkaProducer,
                    consumer: AIOKafkaConsumer, topic: str, timeout_s: float = 120.0) -> None:
    """Probe events, one at a time, until each has come back decided within a quarter of a
    second for SETTLE_S in a row: the worker has joined, caught up and finished starting
    (in its first seconds a fresh worker answers in hundreds of ms, which is startup)."""
    deadline = time.monotonic() + timeout_s
    since: float | None = None
    for key, value, eid in _items(int(timeout_s * 20)):
        worker.check()
        now = time.monotonic()
        if now > deadline:
            break
        if since is not None and now - since >= SETTLE_S:
            return
        await producer.send_and_wait(topic, value, key=key)
        fast = await _decided(consumer, eid, 0.25)
        since = (since or now) if fast else None
    raise BenchError(f"latency: the worker did not settle in {timeout_s:.0f} s:\n"
                     f"{worker.log_tail()}")


async def _decided(consumer: AIOKafkaConsumer, event_id: str, within_s: float) -> bool:
    until = time.monotonic() + within_s
    while time.monotonic() < until:
        for msgs in (await consumer.getmany(timeout_ms=50)).values():
            if any(_event_id(m.value) == event_id for m in msgs):
                return True
    return False


Used = tuple[float, float, float]  # CPU seconds so far: the worker, Redis, the broker


async def _used(worker: WorkerProc, broker_pid: int | None) -> Used:
    return (worker.cpu_s(), await redis_cpu_s(worker.settings),
            cpu_s(broker_pid) if broker_pid else 0.0)


def per_event(before: Used, after: Used, count: int, broker_pid: int | None) -> Cpu:
    """CPU µs per event between two readings of (worker, Redis, broker) CPU seconds, over
    `count` events; the broker's None when it was not read (no `broker_pid`)."""
    w, r, b = (1e6 * (a - z) / count for a, z in zip(after, before, strict=True))
    return Cpu(w, r, b if broker_pid else None)


async def _offer(producer: AIOKafkaProducer, topic: str, partitions: int, items: list[Item],
                 rate: float, sent: dict[str, int]) -> float:
    """Send items at `rate`, in keyed record batches per step (the worker's own Emitter);
    returns the achieved rate."""
    emitter = Emitter(producer, Topics(), {topic: partitions})
    start, i, futures = time.monotonic(), 0, []
    while i < len(items):
        due = min(len(items), int((time.monotonic() - start) * rate) + 1)
        if due > i:
            now_ms = int(time.time() * 1000)
            for key, value, eid in items[i:due]:
                emitter.send(topic, key, value)
                sent[eid] = now_ms
            futures.append(await emitter.submit())
            i = due
        await asyncio.sleep(TICK_S)
    elapsed = time.monotonic() - start
    await asyncio.gather(*futures)
    return len(items) / elapsed if elapsed > 0 else 0.0


async def _collect(worker: WorkerProc, consumer: AIOKafkaConsumer, pacer: asyncio.Task[float],
                   sent: dict[str, int], total: int, bar: tqdm) -> Latency:
    decided: list[tuple[int, int]] = []  # (send time, latency) of every decision, ms
    split: list[tuple[int, int, int]] = []  # (send time, batch start, appended), epoch ms
    last_seen = time.monotonic()
    while len(decided) < total:
        worker.check()
        if pacer.done() and time.monotonic() - last_seen > IDLE_S:
            break
        polled = await consumer.getmany(timeout_ms=100)
        if polled:
            last_seen = time.monotonic()
        for msgs in polled.values():
            for m in msgs:
                sent_ms = sent.get(_event_id(m.value))
                if sent_ms is not None:  # else a catch-up event
                    decided.append((sent_ms, m.timestamp - sent_ms))
                    batch_ms = _decided_ms(m.value)
                    if batch_ms is not None:
                        split.append((sent_ms, batch_ms, m.timestamp))
        bar.n = len(decided)
        bar.refresh()
    achieved = await pacer
    return _summary(decided, sent, total, achieved, split)


def _event_id(value: bytes | None) -> str:
    """The event_id of a decision without parsing all of it (the decision is written in
    contract order, event_id second); parsed in full otherwise."""
    if not value:
        return ""
    i = value.find(b'"event_id":"')
    if i >= 0:
        j = value.find(b'"', i + 12)
        return value[i + 12:j].decode()
    return str(orjson.loads(value).get("event_id", ""))


def _decided_ms(value: bytes | None) -> int | None:
    """The decision's `decided_ts` as epoch ms, read without parsing the rest; None when it
    has none that reads."""
    i = value.find(b'"decided_ts":"') if value else -1
    if i < 0 or value is None:
        return None
    j = value.find(b'"', i + 14)
    try:
        return parse_ts(value[i + 14:j].decode())
    except (InvalidEvent, UnicodeDecodeError):
        return None


def _summary(decided: list[tuple[int, int]], sent: dict[str, int], total: int,
             achieved: float, split: list[tuple[int, int, int]] | None = None) -> Latency:
    """The whole run (sends after the warm-up second), its windows and its steady state."""
    start = next(iter(sent.values()))  # the pacer's first step
    whole = timeline.spread(ms for t, ms in decided if t >= start + WARMUP_MS)
    if whole is None:
        raise BenchError("latency: no decision came back after the warm-up second")
    samples = sum(1 for t, _ in decided if t >= start + WARMUP_MS)
    return Latency(whole.p50, whole.p99, samples, total - len(decided), achieved, whole.max,
                   tuple(timeline.windows(sent.values(), decided, start)),
                   timeline.steady(decided, start),
                   timeline.parts(split or (), start + WARMUP_MS))
