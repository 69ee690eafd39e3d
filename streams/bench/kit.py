"""What every bench phase shares: isolated names, topics, producing, offset counting, cleanup."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from tqdm import tqdm

from rules.errors import ArbiterError
from streams import kafka
from streams.settings import Settings
from streams.worker.emit import Emitter

# Decisions and dedupe marks of a bench run need not outlive it; cleanup deletes them
# anyway, this bounds what an interrupted run leaves in Redis.
BENCH_DEDUPE_TTL_S = 3600


class BenchError(ArbiterError):
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
    """The Faust data dir a worker of this group made (see streams.worker.app and bench_naive)."""
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
