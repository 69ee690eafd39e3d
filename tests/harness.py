"""Helpers for tests that run a real worker process against the local Kafka and Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from streams import kafka
from streams.settings import Settings
from streams.stack.worker import WorkerProcess


def on_stack(stack: object, mode: str = "redis") -> Settings:
    """Settings on the test stack: its single Redis, or ("redis-cluster") its Redis Cluster."""
    cluster = mode == "redis-cluster"
    url = getattr(stack, "redis_cluster_url" if cluster else "redis_url")
    if url is None:
        raise AssertionError("no Redis Cluster on the test stack")
    return Settings.from_env().with_(kafka=stack.kafka, redis_url=url,
                                     redis_cluster=cluster)


def isolated(base: Settings, **changes: object) -> Settings:
    """Settings with topics, consumer group and Redis keys of their own."""
    return base.isolated().with_(**changes)


class Worker(WorkerProcess):
    """`arbiter worker` as a child process, its log in the test's directory."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        super().__init__(settings, log_dir / f"worker-{settings.group}.log")

    def start(self) -> Worker:
        super().start()
        return self


async def prepare(settings: Settings) -> None:
    await kafka.ensure_topics(settings, kafka.all_topics(settings), settings.partitions)


async def produce(settings: Settings, records: Iterable[tuple[bytes | None, bytes]]) -> int:
    producer = kafka.producer(settings)
    await producer.start()
    try:
        futures = [await producer.send(settings.topics.events, value, key=key)
                   for key, value in records]
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


def event(customer: str, type_: str, line: str, **extra: object) -> dict[str, object]:
    return {
        "event_id": uuid.uuid4().hex,
        "customer_id": customer,
        "type": type_,
        "product_line": line,
        "ts": int(time.time() * 1000),
        **extra,
    }


def encoded(events: Iterable[dict[str, object]]) -> list[tuple[bytes | None, bytes]]:
    return [(str(e["customer_id"]).encode(), orjson.dumps(e)) for e in events]


Collected = dict[str, list[tuple[bytes | None, dict]]]


async def collect(
    settings: Settings,
    topics: list[str],
    done: Callable[[Collected], bool],
    worker: Worker | None = None,
    timeout: float = 90.0,
) -> Collected:
    """Read the topics from the beginning until done(seen) holds; fail with the worker's log."""
    consumer = kafka.consumer(settings, *topics, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    seen: Collected = {t: [] for t in topics}
    deadline = time.monotonic() + timeout
    try:
        while not done(seen):
            if time.monotonic() > deadline:
                counts = {t: len(v) for t, v in seen.items()}
                log = worker.log_tail() if worker else ""
                raise AssertionError(f"timed out waiting; got {counts}\nworker log:\n{log}")
            if worker is not None and worker.proc is not None and worker.proc.poll() is not None:
                raise AssertionError(f"worker exited {worker.proc.returncode}:\n"
                                     f"{worker.log_tail()}")
            batch = await consumer.getmany(timeout_ms=500)
            for tp, msgs in batch.items():
                seen[tp.topic].extend((m.key, orjson.loads(m.value)) for m in msgs)
    finally:
        await consumer.stop()
    return seen
