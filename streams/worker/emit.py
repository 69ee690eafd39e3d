"""Outputs go into per-partition record batches; one flush per poll awaits their delivery."""

from __future__ import annotations

import asyncio
import itertools
from functools import lru_cache
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from streams.settings import Topics


@lru_cache(maxsize=65_536)  # murmur2 is pure Python; a customer's events come again and again
def partition_for(key: bytes, partitions: int) -> int:
    """The Java client's keyed partitioner, so one customer stays on one partition everywhere."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class Outputs(Protocol):
    """Where the pipeline's outputs go: the Emitter (Kafka record batches) in the worker, the
    simulation's tallies in `arbiter simulate`. `submit` hands over what a batch made and
    returns a future done once it is delivered. `needs_bodies`: whether `decision` must be
    given each decision's JSON (the simulation's tallies count decisions, and need it only to
    write them out)."""

    needs_bodies: bool

    def decision(self, customer_id: str, body: bytes, channel: str | None) -> None: ...

    def deadletter(self, key: bytes | None, body: bytes) -> None: ...

    def forward(self, topic: str, key: bytes, body: bytes, partition: int) -> None: ...

    async def submit(self) -> asyncio.Future[list[object]]: ...


class Emitter:
    def __init__(self, producer: AIOKafkaProducer, topics: Topics, partitions: dict[str, int]):
        self.producer = producer
        self.topics = topics
        self.partitions = partitions  # topic -> partition count, read once at start
        self._open: dict[tuple[str, int], object] = {}
        self._full: list[tuple[str, int, object]] = []
        self._spread = itertools.count()
        self.needs_bodies = True

    def _append(self, topic: str, key: bytes | None, value: bytes, part: int = -1) -> int:
        """Add a record to its partition's open batch; returns the partition."""
        n = self.partitions[topic]
        if part < 0:
            part = partition_for(key, n) if key else next(self._spread) % n
        slot = (topic, part)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = self.producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:  # type: ignore[attr-defined]
            self._full.append((topic, part, batch))
            batch = self._open[slot] = self.producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # type: ignore[attr-defined]
                raise ValueError(f"record of {len(value)} bytes does not fit a batch for {topic}")
        return part

    def decision(self, customer_id: str, body: bytes, channel: str | None) -> None:
        key = customer_id.encode()
        topic = self.topics.decisions
        part = self._append(topic, key, body)
        if channel is not None:
            action_topic = self.topics.action(channel)
            # Same key and partition count, same partition: murmur2 is pure Python, hash once.
            same = self.partitions[action_topic] == self.partitions[topic]
            self._append(action_topic, key, body, part if same else -1)

    def deadletter(self, key: bytes | None, body: bytes) -> None:
        self._append(self.topics.deadletter, key, body)

    def send(self, topic: str, key: bytes | None, body: bytes) -> None:
        self._append(topic, key, body)

    def forward(self, topic: str, key: bytes, body: bytes, partition: int) -> None:
        """A record to `partition` of `topic`, whatever the partition count read at start."""
        self._append(topic, key, body, partition)

    async def submit(self) -> asyncio.Future[list[object]]:
        """Hand every batch to the producer; the returned future is done once all are acked."""
        batches = self._full + [(t, p, b) for (t, p), b in self._open.items()]
        self._full, self._open = [], {}
        futures = [await self.producer.send_batch(b, t, partition=p) for t, p, b in batches]
        return asyncio.gather(*futures)

    async def flush(self) -> None:
        """Hand every batch to the producer and wait until the broker has them all."""
        await (await self.submit())
