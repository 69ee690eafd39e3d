"""The worker's consuming loop: aiokafka's getmany inside the Faust app, in lanes.

Faust's per-message delivery path (a wait_first and several tasks per record, the hop
through the conductor and the stream's queue) cost more CPU than our whole decision: measured
4.4-5.4k events/s through a Faust agent against 9-10k/s for the same pipeline under a plain
getmany loop. The Faust app still runs the worker (lifecycle, signals, timers, logging); this
loop only takes over fetching.

One poller drains aiokafka's buffers as soon as they fill, into lanes by partition
(partition % lanes). aiokafka sends no new fetch to a broker while any of its partitions has
unconsumed records, so a poller that waited for deciding would make every record wait a
whole cycle: measured, the newest record of a batch had waited 25 ms (p50) at 5,000/s. Each
lane decides its backlog in batches, in order; lanes run concurrently, so one lane's Python
work fills the time another waits on Redis. They share nothing that orders: a partition's
Redis keys carry its hash tag, and each lane builds its own record batches. A lane that falls
behind has its partitions paused until it catches up, so memory stays bounded.

At-least-once: a batch's offsets are committed only after its Redis writes are done and the
broker has acknowledged its outputs. While those acknowledgements travel, the lane already
decides its next batch; the event_id dedupe makes a re-read after a crash safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from streams import kafka
from streams.worker.codec import Record
from streams.worker.collector import settle_collector
from streams.worker.logs import drop_startup_spinner
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)

Offsets = dict[TopicPartition, OffsetAndMetadata]
MAX_UNSETTLED = 8  # decided batches per lane whose outputs may be in flight at once
BACKLOG_BATCHES = 1  # a lane's backlog past this many full batches pauses its partitions
SETTLE_EVERY_S = 0.005  # how often an idle lane looks for acknowledged batches
# Offsets are committed at most this often per lane (and at once on rebalance and stop): a
# commit per batch was two hundred broker round trips a second at 5,000 events/s; a crash
# re-reads at most this much, which the event_id dedupe absorbs.
COMMIT_EVERY_S = 1.0
METADATA_MAX_AGE_MS = 30_000


class _Lane:
    """Decides its partitions' records in order, in batches; commits what is settled."""

    def __init__(self, index: int, runtime: Runtime, consumer: AIOKafkaConsumer) -> None:
        self.index = index
        self.runtime = runtime
        self.consumer = consumer
        self.batch_max = runtime.settings.batch_max
        self.lanes = runtime.settings.lanes
        self.backlog: deque[tuple[TopicPartition, list[Record]]] = deque()
        self.count = 0  # records in the backlog
        self.paused: set[TopicPartition] = set()
        self.ready = asyncio.Event()
        self.lock = asyncio.Lock()  # held while a batch is decided, and while settling
        self.unsettled: list[tuple[asyncio.Future[list[object]], Offsets]] = []
        self.settled: Offsets = {}  # acknowledged, to be committed at the next commit
        self.committed_at = time.monotonic()

    def feed(self, tp: TopicPartition, msgs: list) -> None:
        self.backlog.append((tp, [Record(tp.topic, tp.partition, m.offset, m.key, m.value,
                                         m.timestamp) for m in msgs]))
        self.count += len(msgs)
        self.ready.set()
        if self.count > BACKLOG_BATCHES * self.batch_max and not self.paused:
            # Behind: stop fetching for this lane (aiokafka would buffer megabytes per
            # partition more) until its next batch leaves room.
            self.paused = {p for p in self.consumer.assignment()
                           if p.partition % self.lanes == self.index}
            self.consumer.pause(*self.paused)

    def drop(self) -> None:
        """Forget the undecided backlog (partitions revoked, or stopping): it is uncommitted,
        so whoever owns those partitions next reads it again."""
        self.backlog.clear()
        self.count = 0
        self.paused.clear()

    def take(self) -> tuple[list[Record], Offsets]:
        records: list[Record] = []
        offsets: Offsets = {}
        room = self.batch_max
        while self.backlog and room > 0:
            tp, recs = self.backlog[0]
            if len(recs) <= room:
                self.backlog.popleft()
            else:
                self.backlog[0] = (tp, recs[room:])
                recs = recs[:room]
            records.extend(recs)
            room -= len(recs)
            offsets[tp] = OffsetAndMetadata(recs[-1].offset + 1, "")
        self.count -= len(records)
        if self.paused and self.count <= self.batch_max:
            assigned = self.consumer.assignment()
            self.consumer.resume(*(tp for tp in self.paused if tp in assigned))
            self.paused.clear()
        return records, offsets

    async def run(self) -> None:
        while True:
            self.ready.clear()
            if not self.backlog:
                timeout = self.idle_timeout()
                if timeout is None:
                    await self.ready.wait()
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ready.wait(), timeout)
                if not self.backlog:
                    async with self.lock:
                        await self.settle(wait=False)
                    continue
            async with self.lock:
                records, offsets = self.take()
                if records:
                    await self.step(records, offsets)

    async def step(self, records: list[Record], offsets: Offsets) -> None:
        future = await self.runtime.submit(records, self.index)
        self.unsettled.append((future, offsets))
        # Batches acknowledged meanwhile are committed; past a few in flight, wait.
        await self.settle(wait=len(self.unsettled) > MAX_UNSETTLED)

    async def settle(self, wait: bool = True) -> None:
        """Commit the offsets of decided batches whose outputs the broker has acknowledged.

        The caller holds the lock. wait=False takes only the batches already acknowledged, in
        order, so the lane never idles on acks, and commits them at most every
        COMMIT_EVERY_S; wait=True (rebalance, stop, a long queue) waits for all of them and
        commits now.
        """
        while self.unsettled and (wait or self.unsettled[0][0].done()):
            future, batch_offsets = self.unsettled.pop(0)
            await future  # raises if the broker refused the batch: the worker must not commit
            self.settled.update(batch_offsets)
        now = time.monotonic()
        if not self.settled or (not wait and now - self.committed_at < COMMIT_EVERY_S):
            return
        offsets, self.settled, self.committed_at = self.settled, {}, now
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The group moved on: another worker re-reads those records, the dedupe holds.
            log.warning("commit failed (%s); partitions were reassigned", exc)

    def idle_timeout(self) -> float | None:
        """How long an idle lane may sleep before it has something to settle or commit."""
        if self.unsettled:
            return SETTLE_EVERY_S
        if self.settled:
            return max(0.0, COMMIT_EVERY_S - (time.monotonic() - self.committed_at))
        return None


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, lanes: list[_Lane], runtime: Runtime) -> None:
        self.lanes = lanes
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Commit what is decided before the partitions move to another worker.
        for lane in self.lanes:
            lane.drop()
            async with lane.lock:
                await lane.settle()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("assigned %d partition(s)", len(assigned))
        await self.runtime.refresh_partitions()


async def _poll(consumer: AIOKafkaConsumer, lanes: list[_Lane], batch_max: int) -> None:
    n = len(lanes)
    while True:
        polled = await consumer.getmany(timeout_ms=100, max_records=batch_max)
        for tp, msgs in polled.items():
            lanes[tp.partition % n].feed(tp, msgs)


async def consume(runtime: Runtime) -> None:
    """Decide every record of the events topic until cancelled."""
    s = runtime.settings
    await runtime.start()
    consumer = kafka.consumer(
        s, group_id=s.group, max_poll_records=s.batch_max, fetch_max_wait_ms=20,
        max_partition_fetch_bytes=1024 * 1024, fetch_max_bytes=8 * 1024 * 1024,
        # Partitions added to a live topic are seen (and the group rebalanced) within this.
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
    )
    lanes = [_Lane(i, runtime, consumer) for i in range(s.lanes)]
    consumer.subscribe([s.topics.events], listener=_Rebalance(lanes, runtime))
    await consumer.start()
    drop_startup_spinner()
    settle_collector()
    poller = asyncio.create_task(_poll(consumer, lanes, s.batch_max), name="poll")
    tasks = [asyncio.create_task(lane.run(), name=f"lane-{lane.index}") for lane in lanes]
    try:
        await asyncio.gather(poller, *tasks)  # returns only by an error, or when cancelled
    finally:
        try:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            for lane, task in zip(lanes, tasks, strict=True):
                lane.drop()
                async with lane.lock:  # the batch being decided is finished first
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    await lane.settle()
        finally:
            await consumer.stop()
