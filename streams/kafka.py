"""Kafka clients and topic administration, configured from Settings: the one place that
builds an aiokafka producer, consumer or admin client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from rules.errors import ArbiterError
from streams.settings import Settings


class TopicError(ArbiterError):
    """Topics could not be made ready (the message names them and the servers)."""


def producer(settings: Settings, **overrides: object) -> AIOKafkaProducer:
    """A producer that batches: sends return once queued, delivery is awaited by flush()."""
    kwargs: dict[str, object] = {
        "bootstrap_servers": settings.kafka,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "compression_type": None,
        "acks": "all",
        "enable_idempotence": False,
        **settings.security.aiokafka_kwargs(),
    }
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)  # type: ignore[arg-type]


COORDINATOR_FAILED = "Group Coordinator Request failed: %s"  # aiokafka's message, verbatim
_COORDINATOR_LOG = logging.getLogger("aiokafka.consumer.group_coordinator")


class RetriedIsNotAnError(logging.Filter):
    """aiokafka logs "Group Coordinator Request failed" at ERROR for every failed group
    request, even one it retries: a fresh broker answers COORDINATOR_NOT_AVAILABLE (a
    retriable error) for a moment, so every start began with an ERROR line in the worker's
    log that needs no one. A retriable error is logged as a WARNING, marked retried; any
    other stays an ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if (record.levelno == logging.ERROR and len(args) == 1
                and isinstance(args[0], KafkaError) and args[0].retriable
                and record.msg == COORDINATOR_FAILED):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = COORDINATOR_FAILED + " (retried)"
        return True


def quiet_retried_errors() -> None:
    """Install RetriedIsNotAnError on aiokafka's group coordinator logger, once per process."""
    if not any(isinstance(f, RetriedIsNotAnError) for f in _COORDINATOR_LOG.filters):
        _COORDINATOR_LOG.addFilter(RetriedIsNotAnError())


def consumer(settings: Settings, *topics: str, **overrides: object) -> AIOKafkaConsumer:
    quiet_retried_errors()
    kwargs: dict[str, object] = {
        "bootstrap_servers": settings.kafka,
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        **settings.security.aiokafka_kwargs(),
    }
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **kwargs)  # type: ignore[arg-type]


async def ensure_topics(settings: Settings, names: Iterable[str], partitions: int) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    client = admin(settings)
    await client.start()
    try:
        existing = set(await client.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if not missing:
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
            await client.create_topics(
                [NewTopic(name=n, num_partitions=partitions, replication_factor=1) for n in missing]
            )
        # Metadata for fresh topics reaches the broker's cache a moment later.
        for _ in range(50):
            if set(missing) <= set(await client.list_topics()):
                return
            await asyncio.sleep(0.1)
    finally:
        await client.close()


async def ensure_compacted(settings: Settings, name: str) -> None:
    """Create `name` with one partition and cleanup.policy=compact when it does not exist.

    One partition: its records have one order, so "the newest" is the same for every reader.
    An existing topic is left as it is.
    """
    client = admin(settings)
    await client.start()
    try:
        if name in set(await client.list_topics()):
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
            await client.create_topics([NewTopic(
                name=name, num_partitions=1, replication_factor=1,
                topic_configs={"cleanup.policy": "compact"})])
        for _ in range(100):
            if await _led(client, [name], 1):
                return
            await asyncio.sleep(0.1)
        raise TopicError(f"topic {name} got no partition leader on {settings.kafka}")
    finally:
        await client.close()


def all_topics(settings: Settings) -> list[str]:
    """Every topic the worker reads or writes: the events topic, then `output_topics`."""
    return [settings.topics.events, *output_topics(settings)]


def output_topics(settings: Settings) -> list[str]:
    t = settings.topics
    return [t.decisions, t.metrics, t.deadletter, *t.all_actions()]


def admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=settings.kafka,
                               **settings.security.aiokafka_kwargs())  # type: ignore[arg-type]


async def create_topics(settings: Settings, names: Sequence[str], partitions: int,
                        configs: dict[str, dict[str, str]] | None = None) -> None:
    """Create fresh topics (with per-topic configs) and wait until the broker lists them."""
    configs = configs or {}
    client = admin(settings)
    await client.start()
    try:
        await client.create_topics([
            NewTopic(n, partitions, 1, topic_configs=configs.get(n, {})) for n in names
        ])
        for _ in range(200):
            if await _led(client, names, partitions):
                break
            await asyncio.sleep(0.1)
        else:
            raise TopicError(f"topics {list(names)} got no partition leaders on {settings.kafka}")
    finally:
        await client.close()
    # Metadata names a leader a moment before that broker serves the partition; ListOffsets
    # waits for it, so the first produce does not bounce with NotLeaderForPartition.
    async with OffsetCounter(settings, partitions) as counter:
        await counter.count(*names)


async def _led(client: AIOKafkaAdminClient, names: Sequence[str], partitions: int) -> bool:
    """Every partition of every topic has a leader: producing right away will not bounce."""
    found = {t["topic"]: t for t in await client.describe_topics(list(names))}
    for name in names:
        t = found.get(name)
        if t is None or t["error_code"] or len(t["partitions"]) < partitions:
            return False
        if any(p["error_code"] or p["leader"] < 0 for p in t["partitions"]):
            return False
    return True


async def list_topics(settings: Settings) -> set[str]:
    client = admin(settings)
    await client.start()
    try:
        return set(await client.list_topics())
    finally:
        await client.close()


async def delete_topics(settings: Settings, names: Sequence[str]) -> None:
    client = admin(settings)
    await client.start()
    try:
        existing = set(await client.list_topics())
        gone = [n for n in names if n in existing]
        if gone:
            await client.delete_topics(gone)
    except KafkaError:
        pass  # leftovers cost disk only; never fail a finished measurement on them
    finally:
        await client.close()


class OffsetCounter:
    """Counts records on topics from their end offsets: costs one request, reads nothing."""

    def __init__(self, settings: Settings, partitions: int) -> None:
        self.settings = settings
        self.partitions = partitions
        self.consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> OffsetCounter:
        self.consumer = consumer(self.settings, group_id=None)
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

