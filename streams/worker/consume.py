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
decides its next batch; the event_id dedupe makes a re-read after a crash safe. An idle lane
also commits past what the consumer skipped without handing it out (transaction markers,
aborted records), so a partition ending in them drains to lag 0 (_Lane.pass_skipped).

Only committed records are read (read_committed): a transaction its producer aborted never
happened. A record the client cannot read (a corrupt batch, a codec it lacks) is
dead-lettered by topic, partition and offset and skipped (streams.worker.unreadable), so one record
never stops a worker. A stop drains within a bounded time (_Lane.finish): the
batch in hand is finished or dropped, what the broker acknowledged is committed, the group is
left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from streams import kafka
from streams.worker.codec import Record
from streams.worker.collector import settle_collector
from streams.worker.logs import drop_startup_spinner
from streams.worker.runtime import Runtime
from streams.worker.unreadable import UNREADABLE, Positions, skip_unreadable, within

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
POSITION_WAIT_S = 0.05  # an idle lane reads only positions the consumer already knows
# A stop's budget (the whole stop stays under 30 s, Redis or Kafka away or not): the batch in
# hand may take DRAIN_GRACE_S to finish, acknowledgements and the commit SETTLE_S more, and
# leaving the group LEAVE_S; the runtime then gives the producer its own few seconds.
DRAIN_GRACE_S = 6.0
SETTLE_S = 8.0
LEAVE_S = 5.0


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
        self.committed: dict[TopicPartition, int] = {}  # what this lane last committed
        # Why the consumer's positions may now be past records no lane holds, so that
        # pass_skipped must wait: "probe", the poller looking for an unreadable record
        # (streams.worker.unreadable); "rebalance", from revocation to the new assignment
        # (the backlog was dropped, the positions are still the old ones).
        self.unsure: set[str] = set()

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
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ready.wait(), timeout)
                if not self.backlog:
                    async with self.lock:
                        await self.settle(wait=False)
                        await self.pass_skipped()
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
            for tp, meta in offsets.items():
                self.committed[tp] = meta.offset
        except (CommitFailedError, KafkaError) as exc:
            # The offsets of partitions still ours are kept and committed again (a request
            # timed out, the coordinator moved, a rebalance gave them back): dropped, the last
            # batch before a quiet spell would stay uncommitted. Partitions gone to another
            # worker are its to commit; it re-reads them, the dedupe holds.
            held = self.consumer.assignment()
            for tp, offset in offsets.items():
                if tp in held and tp not in self.settled:
                    self.settled[tp] = offset
            log.warning("commit failed (%s); the offsets of partitions still held are "
                        "committed again", exc)

    async def finish(self, task: asyncio.Task[None], grace_s: float) -> None:
        """Stop the lane: its batch in hand finished within grace_s, else dropped (never
        committed, so re-read by the next owner); then what is acknowledged committed."""
        self.drop()
        try:
            await asyncio.wait_for(self.lock.acquire(), grace_s)
        except TimeoutError:
            log.warning("lane %d: batch in hand not done in %.0fs (Redis or Kafka away); "
                        "dropped, its records are re-read by the next owner", self.index, grace_s)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.lock.acquire()
        try:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.settle()
        finally:
            self.lock.release()

    async def pass_skipped(self) -> None:
        """Commit the consumer's position where it passed records it never handed out.

        The consumer moves past a transaction's control marker, and past an aborted
        transaction's records (read_committed), without returning them. Committing only the
        offsets of records decided would leave the group one record or more behind such a
        partition's end for good: a lag that never drains. Done only when the lane holds
        nothing undecided or unacknowledged (the caller holds the lock): every offset below
        the position was then decided and acknowledged by this lane, or skipped by the
        consumer, since the poller hands each poll's records to the lanes in the same step
        that moves the positions.
        """
        if self.backlog or self.unsettled or self.settled or self.unsure:
            return
        mine = [tp for tp in self.consumer.assignment() if tp.partition % self.lanes == self.index]
        known = await asyncio.gather(*(_known_position(self.consumer, tp) for tp in mine))
        past: Offsets = {tp: OffsetAndMetadata(position, "")
                         for tp, position in zip(mine, known, strict=True)
                         if position is not None and position > self.committed.get(tp, -1)}
        if past and not (self.backlog or self.unsettled or self.unsure):
            self.settled.update(past)
            await self.settle()

    def idle_timeout(self) -> float:
        """How long an idle lane may sleep before it has something to settle or commit, or
        a position to look at (pass_skipped)."""
        if self.unsettled:
            return SETTLE_EVERY_S
        if self.settled:
            return max(0.0, COMMIT_EVERY_S - (time.monotonic() - self.committed_at))
        return COMMIT_EVERY_S


async def _known_position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """tp's position if the consumer knows it now (None while it is being reset, or tp is
    no longer assigned): position() would otherwise wait for a reset."""
    try:
        return int(await asyncio.wait_for(consumer.position(tp), POSITION_WAIT_S))
    except (TimeoutError, IllegalStateError):
        return None


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, lanes: list[_Lane], positions: Positions, runtime: Runtime) -> None:
        self.lanes = lanes
        self.positions = positions
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Commit what is decided before the partitions move to another worker.
        self.positions.clear()
        for lane in self.lanes:
            lane.unsure.add("rebalance")
            lane.drop()
            async with lane.lock:
                await lane.settle()
                lane.committed.clear()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("assigned %d partition(s)", len(assigned))
        for lane in self.lanes:
            lane.unsure.discard("rebalance")
        await self.runtime.refresh_partitions()


async def _poll(consumer: AIOKafkaConsumer, lanes: list[_Lane], batch_max: int,
                runtime: Runtime, positions: Positions) -> None:
    n = len(lanes)

    def feed(tp: TopicPartition, msgs: list) -> None:
        positions[tp] = msgs[-1].offset + 1
        lanes[tp.partition % n].feed(tp, msgs)

    while True:
        try:
            polled = await consumer.getmany(timeout_ms=100, max_records=batch_max)
        except UNREADABLE as exc:
            for lane in lanes:
                lane.unsure.add("probe")
            try:
                await skip_unreadable(consumer, runtime, positions, feed, exc)
            finally:
                for lane in lanes:
                    lane.unsure.discard("probe")
            continue
        for tp, msgs in polled.items():
            feed(tp, msgs)


async def consume(runtime: Runtime) -> None:
    """Decide every record of the events topic until cancelled."""
    s = runtime.settings
    await runtime.start()
    consumer = kafka.consumer(
        s, group_id=s.group, max_poll_records=s.batch_max,
        # A fetch waits for 32 KiB (about 100 events) or 10 ms, whichever comes first: at
        # 5,000 events/s it returns fewer, larger batches than at the first byte, and each
        # batch costs the worker, Redis and the broker a fixed share (docs/performance.md).
        fetch_max_wait_ms=10, fetch_min_bytes=32 * 1024,
        max_partition_fetch_bytes=1024 * 1024, fetch_max_bytes=8 * 1024 * 1024,
        # Partitions added to a live topic are seen (and the group rebalanced) within this.
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        isolation_level="read_committed",
    )
    lanes = [_Lane(i, runtime, consumer) for i in range(s.lanes)]
    positions: Positions = {}
    consumer.subscribe([s.topics.events], listener=_Rebalance(lanes, positions, runtime))
    await consumer.start()
    drop_startup_spinner()
    settle_collector()
    poller = asyncio.create_task(_poll(consumer, lanes, s.batch_max, runtime, positions),
                                 name="poll")
    tasks = [asyncio.create_task(lane.run(), name=f"lane-{lane.index}") for lane in lanes]
    runtime.consuming = asyncio.current_task()
    try:
        # Returns only by an error, or when cancelled; unlike gather, a cancel here leaves the
        # lanes running, so a stop can let them finish the batch in hand.
        done, _ = await asyncio.wait({poller, *tasks}, return_when=asyncio.FIRST_EXCEPTION)
        for finished in done:
            finished.result()
    finally:
        try:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            # Lanes stop side by side: one stuck on Redis does not hold up the others' commits.
            drained = await within(
                asyncio.gather(*(lane.finish(task, DRAIN_GRACE_S)
                                 for lane, task in zip(lanes, tasks, strict=True)),
                               return_exceptions=True),
                DRAIN_GRACE_S + SETTLE_S, "draining the lanes")
            for result in drained or ():
                if isinstance(result, BaseException) and not isinstance(
                        result, asyncio.CancelledError):
                    log.warning("stopping: a lane's last batch was not acknowledged (%s); "
                                "its offsets stay uncommitted", result)
        finally:
            # Leaves the group, so the partitions move at once rather than after the session.
            await within(consumer.stop(), LEAVE_S, "leaving the consumer group")
