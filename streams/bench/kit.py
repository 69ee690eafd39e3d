"""What every bench phase shares: isolated names, topics, producing, offset counting, cleanup."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio.cluster import RedisCluster
from tqdm import tqdm

from rules.errors import ArbiterError
from streams import kafka, redis_client
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
    """Unlink every key of this run's prefix (its tags and its layout record)."""
    r = redis_client.client(settings)
    try:
        batch: list[bytes] = []
        for match in (f"{{{settings.redis_prefix}:*", f"{settings.redis_prefix}:*"):
            async for key in r.scan_iter(match=match, count=5000):
                batch.append(key)
                if len(batch) >= 5000:
                    await _unlink(r, batch)
                    batch = []
        if batch:
            await _unlink(r, batch)
    finally:
        await r.aclose()


async def _unlink(r: redis_client.Client, keys: list[bytes]) -> None:
    if isinstance(r, RedisCluster):  # keys of many hash slots: one command each, pipelined
        pipe = r.pipeline()
        for k in keys:
            pipe.unlink(k)  # type: ignore[unused-coroutine]  # queued, not awaited
        await pipe.execute()
    else:
        await r.unlink(*keys)


async def redis_cpu_s(settings: Settings) -> float:
    """CPU seconds the Redis server (every node of a cluster) has used since it started
    (INFO cpu, user + system)."""
    r = redis_client.client(settings)
    try:
        if isinstance(r, RedisCluster):
            infos = list((await r.info("cpu", target_nodes=RedisCluster.ALL_NODES)).values())
        else:
            infos = [await r.info("cpu")]
    finally:
        await r.aclose()
    return sum(float(i["used_cpu_user"]) + float(i["used_cpu_sys"]) for i in infos)


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
