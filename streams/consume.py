"""The worker's consuming loop: aiokafka's getmany inside the Faust app, one batch per poll.

Faust's per-message delivery path (a wait_first and several tasks per record, the hop
through the conductor and the stream's queue) cost more CPU than our whole decision: measured
4.4-5.4k events/s through a Faust agent against 9-10k/s for the same pipeline under a plain
getmany loop. The Faust app still runs the worker (lifecycle, signals, timers, logging); this
loop only takes over fetching.

At-least-once: a batch's offsets are committed only after its Redis writes are done and the
broker has acknowledged its outputs. While those acknowledgements travel, the next batch is
already being decided; the event_id dedupe makes a re-read after a crash safe.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from streams import kafka
from streams.codec import Record
from streams.runtime import Runtime

log = logging.getLogger(__name__)

Offsets = dict[TopicPartition, OffsetAndMetadata]
MAX_UNSETTLED = 8  # decided batches whose outputs may be in flight at once


class _Loop(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.lock = asyncio.Lock()  # held while a batch is decided, and while settling
        self.unsettled: list[tuple[asyncio.Future[list[object]], Offsets]] = []
        self.consumer: AIOKafkaConsumer | None = None

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Commit what is decided before the partitions move to another worker.
        async with self.lock:
            await self.settle()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("assigned %d partition(s)", len(assigned))

    async def settle(self, wait: bool = True) -> None:
        """Commit the offsets of decided batches whose outputs the broker has acknowledged.

        wait=False commits only the batches already acknowledged, in order, so the loop never
        idles on acks; wait=True (rebalance, stop, a long queue) waits for all of them.
        """
        if self.consumer is None:
            return
        offsets: Offsets = {}
        while self.unsettled and (wait or self.unsettled[0][0].done()):
            future, batch_offsets = self.unsettled.pop(0)
            await future  # raises if the broker refused the batch: the worker must not commit
            offsets.update(batch_offsets)
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The group moved on: another worker re-reads those records, the dedupe holds.
            log.warning("commit failed (%s); partitions were reassigned", exc)

    async def step(self, polled: dict[TopicPartition, list]) -> None:
        async with self.lock:
            records = [
                Record(tp.topic, tp.partition, m.offset, m.key, m.value, m.timestamp)
                for tp, msgs in polled.items() for m in msgs
            ]
            future = await self.runtime.submit(records)
            self.unsettled.append(
                (future, {tp: OffsetAndMetadata(msgs[-1].offset + 1, "")
                          for tp, msgs in polled.items()}))
            # Batches acknowledged meanwhile are committed; past a few in flight, wait.
            await self.settle(wait=len(self.unsettled) > MAX_UNSETTLED)


async def consume(runtime: Runtime) -> None:
    """Decide every record of the events topic until cancelled."""
    s = runtime.settings
    await runtime.start()
    loop = _Loop(runtime)
    consumer = loop.consumer = kafka.consumer(
        s, group_id=s.group, max_poll_records=s.batch_max, fetch_max_wait_ms=20,
        max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=32 * 1024 * 1024,
    )
    consumer.subscribe([s.topics.events], listener=loop)
    await consumer.start()
    try:
        while True:
            polled = await consumer.getmany(timeout_ms=5 if loop.unsettled else 100,
                                            max_records=s.batch_max)
            if polled:
                await loop.step(polled)
            else:
                async with loop.lock:
                    await loop.settle(wait=False)
    finally:
        try:
            async with loop.lock:
                await loop.settle()
        finally:
            await consumer.stop()
