"""Kafka clients and topic administration, configured from Settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import Settings


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


def consumer(settings: Settings, *topics: str, **overrides: object) -> AIOKafkaConsumer:
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
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka,
                                **settings.security.aiokafka_kwargs())  # type: ignore[arg-type]
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if not missing:
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
            await admin.create_topics(
                [NewTopic(name=n, num_partitions=partitions, replication_factor=1) for n in missing]
            )
        # Metadata for fresh topics reaches the broker's cache a moment later.
        for _ in range(50):
            if set(missing) <= set(await admin.list_topics()):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


def all_topics(settings: Settings) -> list[str]:
    t = settings.topics
    return [t.events, t.decisions, t.metrics, t.deadletter, *t.all_actions()]
