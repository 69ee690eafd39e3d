"""What every bench phase shares: isolated names, topics, producing, offset counting, cleanup."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from tqdm import tqdm

from streams import kafka
from streams.emit import Emitter
from streams.settings import Settings

# Decisions and dedupe marks of a bench run need not outlive it; cleanup deletes them
# anyway, this bounds what an interrupted run leaves in Redis.
BENCH_DEDUPE_TTL_S = 3600


class BenchError(RuntimeError):
    """A phase could not run to its end (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class Rate:
    count: int  # records timed (those before the first output are excluded)
    seconds: float

    @property
    def eps(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def isolated(base: Settings, events: str | None = None, tag: str = "b") -> Settings:
    """Settings of their own for one measured pipeline (see Settings.isolated)."""
    return base.isolated(tag, events).with_(dedupe_ttl_s=BENCH_DEDUPE_TTL_S)


def output_topics(settings: Settings) -> list[str]:
    t = settings.topics
    return [t.decisions, t.metrics, t.deadletter, *t.all_actions()]


def _admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=settings.kafka,
                               **settings.security.aiokafka_kwargs())  # type: ignore[arg-type]


async def create_topics(settings: Settings, names: Sequence[str], partitions: int,
                        configs: dict[str, dict[str, str]] | None = None) -> None:
    """Create fresh topics (with per-topic configs) and wait until the broker lists them."""
    configs = configs or {}
    admin = _admin(settings)
    await admin.start()
    try:
        await admin.create_topics([
            NewTopic(n, partitions, 1, topic_configs=configs.get(n, {})) for n in names
        ])
        for _ in range(200):
            if await _led(admin, names, partitions):
                break
            await asyncio.sleep(0.1)
        else:
            raise BenchError(f"topics {list(names)} got no partition leaders on {settings.kafka}")
    finally:
        await admin.close()
    # Metadata names a leader a moment before that broker serves the partition; ListOffsets
    # waits for it, so the first produce does not bounce with NotLeaderForPartition.
    async with OffsetCounter(settings, partitions) as counter:
        await counter.count(*names)


async def _led(admin: AIOKafkaAdminClient, names: Sequence[str], partitions: int) -> bool:
    """Every partition of every topic has a leader: producing right away will not bounce."""
    found = {t["topic"]: t for t in await admin.describe_topics(list(names))}
    for name in names:
        t = found.get(name)
        if t is None or t["error_code"] or len(t["partitions"]) < partitions:
            return False
        if any(p["error_code"] or p["leader"] < 0 for p in t["partitions"]):
            return False
    return True


async def list_topics(settings: Settings) -> set[str]:
    admin = _admin(settings)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def delete_topics(settings: Settings, names: Sequence[str]) -> None:
    admin = _admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        gone = [n for n in names if n in existing]
        if gone:
            await admin.delete_topics(gone)
    except KafkaError:
        pass  # leftovers cost disk only; never fail a finished measurement on them
    finally:
        await admin.close()


async def purge_redis(settings: Settings) -> None:
    """Unlink every key of this run's prefix (all start with the partition tag)."""
    r = aioredis.Redis.from_url(settings.redis_url)
    try:
        batch: list[bytes] = []
        async for key in r.scan_iter(match=f"{{{settings.redis_prefix}:p*", count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                await r.unlink(*batch)
                batch = []
        if batch:
            await r.unlink(*batch)
    finally:
        await r.aclose()


async def redis_cpu_s(settings: Settings) -> float:
    """CPU seconds the Redis server has used since it started (INFO cpu, user + system)."""
    r = aioredis.Redis.from_url(settings.redis_url)
    try:
        info = await r.info("cpu")
    finally:
        await r.aclose()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def drop_datadir(group: str) -> None:
    """The Faust data dir a worker of this group made (see streams.app and bench_naive)."""
    for name in (f"mot-arbiter-{group}", f"naive-{group}"):
        shutil.rmtree(Path(tempfile.gettempdir()) / name, ignore_errors=True)


async def produce(settings: Settings, records: Iterable[tuple[bytes, bytes]], partitions: int,
                  bar: tqdm | None = None, flush_every: int = 20_000) -> int:
    """Write records to the events topic as keyed record batches; returns how many."""
    producer = kafka.producer(settings)
    await producer.start()
    emitter = Emitter(producer, settings.topics, {settings.topics.events: partitions})
    topic, n, pending = settings.topics.events, 0, 0
    try:
        for key, value in records:
            emitter.send(topic, key, value)
            n += 1
            pending += 1
            if pending >= flush_every:
                await emitter.flush()
                if bar is not None:
                    bar.update(pending)
                pending = 0
        await emitter.flush()
        if bar is not None:
            bar.update(pending)
    finally:
        await producer.stop()
    return n


class OffsetCounter:
    """Counts records on topics from their end offsets: costs one request, reads nothing."""

    def __init__(self, settings: Settings, partitions: int) -> None:
        self.settings = settings
        self.partitions = partitions
        self.consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> OffsetCounter:
        self.consumer = kafka.consumer(self.settings, group_id=None)
        await self.consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    async def count(self, *topics: str) -> dict[str, int]:
        """Records per topic (fresh topics, no transactions: end offset = record count)."""
        assert self.consumer is not None
        tps = [TopicPartition(t, p) for t in topics for p in range(self.partitions)]
        ends = await self.consumer.end_offsets(tps)
        counts = dict.fromkeys(topics, 0)
        for tp, end in ends.items():
            counts[tp.topic] += end
        return counts
