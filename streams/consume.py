"""The worker's consuming loop: aiokafka's getmany inside the Faust app, one batch per poll.

Faust's per-message delivery path (a wait_first and several tasks per record, the hop
through the conductor and the stream's queue) cost more CPU than our whole decision: measured
4.4-5.4k events/s through a Faust agent against 9-10k/s for the same pipeline under a plain
getmany loop. The Faust app still runs the worker (lifecycle, signals, timers, logging); this
loop only takes over fetching.

The assigned partitions are split into lanes (partition % lanes), each polling its own with
getmany and deciding its batches in order. Lanes run concurrently, so one lane's Python work
fills the time another waits on Redis. They share nothing that orders: a partition's Redis
keys carry its hash tag, and each lane builds its own record batches. (Splitting one poll
instead starves lanes: a poll often holds a single partition's records.)

At-least-once: a batch's offsets are committed only after its Redis writes are done and the
broker has acknowledged its outputs. While those acknowledgements travel, the lane already
decides its next batch; the event_id dedupe makes a re-read after a crash safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from streams import kafka
from streams.codec import Record
from streams.runtime import Runtime

log = logging.getLogger(__name__)

Offsets = dict[TopicPartition, OffsetAndMetadata]
MAX_UNSETTLED = 8  # decided batches per lane whose outputs may be in flight at once


class _Lane:
    """Polls its share of the partitions, decides in order, commits what is settled."""

    def __init__(self, index: int, runtime: Runtime, consumer: AIOKafkaConsumer) -> None:
        self.index = index
        self.runtime = runtime
        self.consumer = consumer
        self.lanes = runtime.settings.lanes
        self.batch_max = runtime.settings.batch_max
        self.lock = asyncio.Lock()  # held while a batch is decided, and while settling
        self.unsettled: list[tuple[asyncio.Future[list[object]], Offsets]] = []

    def partitions(self) -> list[TopicPartition]:
        return [tp for tp in self.consumer.assignment() if tp.partition % self.lanes == self.index]

    async def run(self) -> None:
        while True:
            mine = self.partitions()
            if not mine:  # getmany() without partitions would read them all
                await asyncio.sleep(0.1)
                continue
            polled = await self.consumer.getmany(
                *mine, timeout_ms=5 if self.unsettled else 100, max_records=self.batch_max)
            async with self.lock:
                if polled:
                    await self.step(polled)
                else:
                    await self.settle(wait=False)

    async def step(self, polled: dict[TopicPartition, list]) -> None:
        records = [
            Record(tp.topic, tp.partition, m.offset, m.key, m.value, m.timestamp)
            for tp, msgs in polled.items() for m in msgs
        ]
        future = await self.runtime.submit(records, self.index)
        self.unsettled.append(
            (future, {tp: OffsetAndMetadata(msgs[-1].offset + 1, "")
                      for tp, msgs in polled.items()}))
        # Batches acknowledged meanwhile are committed; past a few in flight, wait.
        await self.settle(wait=len(self.unsettled) > MAX_UNSETTLED)

    async def settle(self, wait: bool = True) -> None:
        """Commit the offsets of decided batches whose outputs the broker has acknowledged.

        The caller holds the lock. wait=False commits only the batches already acknowledged,
        in order, so the lane never idles on acks; wait=True (rebalance, stop, a long queue)
        waits for all of them.
        """
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


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, lanes: list[_Lane]) -> None:
        self.lanes = lanes

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Commit what is decided before the partitions move to another worker.
        for lane in self.lanes:
            async with lane.lock:
                await lane.settle()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("assigned %d partition(s)", len(assigned))


async def consume(runtime: Runtime) -> None:
    """Decide every record of the events topic until cancelled."""
    s = runtime.settings
    await runtime.start()
    consumer = kafka.consumer(
        s, group_id=s.group, max_poll_records=s.batch_max, fetch_max_wait_ms=20,
        max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=32 * 1024 * 1024,
    )
    lanes = [_Lane(i, runtime, consumer) for i in range(s.lanes)]
    consumer.subscribe([s.topics.events], listener=_Rebalance(lanes))
    await consumer.start()
    tasks = [asyncio.create_task(lane.run(), name=f"lane-{lane.index}") for lane in lanes]
    try:
        await asyncio.gather(*tasks)  # returns only by a lane's error, or when cancelled
    finally:
        try:
            for lane, task in zip(lanes, tasks, strict=True):
                async with lane.lock:  # the batch being decided is finished first
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    await lane.settle()
        finally:
            await consumer.stop()
