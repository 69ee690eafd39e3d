"""The lanes: concurrent deciders sharing one backlog of the worker's partitions.

The poller feeds every partition's records into one backlog (Lanes.feed). A lane that is
free takes a batch from partitions no other lane is deciding (Lanes.take), so a partition
is decided by one lane at a time, in order, and its next batch starts only once Redis holds
the previous one's writes. How much a lane takes (plan) is what makes lanes pay at every
rate:

- a small backlog (at most SPLIT_AT records free) goes whole to one lane: at 5,000 events/s
  a poll holds about a hundred records, and two half batches would each pay the fixed costs
  of a batch (two Redis round trips, a produce request, the lane's own steps) for half the
  records. Measured with lanes that owned partition % lanes: 188-240 batches a second
  against 96-124 with one lane, and 142-151 µs of the worker's CPU per event against
  118-134 (docs/performance.md);
- a large backlog is shared among the lanes that are free, so at peak one lane's Python
  work fills the time another waits on Redis.

Commits follow the order batches were handed to the producer, across all lanes
(Lanes.settle): a batch's offsets are committed only once it and every batch handed over
before it are acknowledged, so no partition's offset passes an output still in flight,
whichever lane decided which of its batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from streams.worker.codec import Record
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)

Offsets = dict[TopicPartition, OffsetAndMetadata]
MAX_UNSETTLED = 8  # decided batches per lane whose outputs may be in flight at once
BACKLOG_BATCHES = 1  # a partition's backlog past its share of this many batches per lane pauses it
# A free backlog of at most this many records goes to one lane whole (see the module's
# docstring); a larger one is shared among the free lanes.
SPLIT_AT = 500
SETTLE_EVERY_S = 0.005  # how often an idle lane looks for acknowledged batches
# Offsets are committed at most this often (and at once on rebalance and stop): a commit per
# batch was two hundred broker round trips a second at 5,000 events/s; a crash re-reads at
# most this much, which the event_id dedupe absorbs.
COMMIT_EVERY_S = 1.0
POSITION_WAIT_S = 0.05  # an idle lane reads only positions the consumer already knows


def plan(free: list[tuple[TopicPartition, int]], free_lanes: int, batch_max: int
         ) -> list[tuple[TopicPartition, int]]:
    """How many records to take from each free partition, in backlog order.

    free: (partition, records waiting) for every partition with records that no lane is
    deciding, oldest first; free_lanes: lanes not deciding (this one included, so >= 1).
    Returns (partition, count) pairs, counts > 0, summing to at most batch_max. At most
    SPLIT_AT free records are taken whole; more are shared: this lane takes its
    1/free_lanes part, whole partitions first, so the others find partitions of their own.
    """
    total = sum(n for _, n in free)
    if total == 0:
        return []
    share = total if total <= SPLIT_AT else -(-total // max(1, free_lanes))
    room = min(batch_max, share)
    out: list[tuple[TopicPartition, int]] = []
    for tp, n in free:
        if room <= 0:
            break
        take = min(n, room)
        out.append((tp, take))
        room -= take
    return out


class Lanes:
    """The shared backlog, the partitions in flight, and the batches awaiting their acks."""

    def __init__(self, runtime: Runtime, consumer: AIOKafkaConsumer) -> None:
        self.runtime = runtime
        self.consumer = consumer
        self.batch_max = runtime.settings.batch_max
        self.count = runtime.settings.lanes
        self.backlog: dict[TopicPartition, list[Record]] = {}  # insertion order: oldest first
        self.waiting = 0  # records in the backlog
        self.busy: set[TopicPartition] = set()  # partitions a lane is deciding now
        self.deciding = 0  # lanes deciding now
        self.paused: set[TopicPartition] = set()
        self.ready = asyncio.Event()  # set when there may be something to take
        self.settling = asyncio.Lock()  # one lane settles and commits at a time
        # Every lane's decided batches in the order they were handed to the producer.
        self.unsettled: deque[tuple[asyncio.Future[list[object]], Offsets]] = deque()
        self.settled: Offsets = {}  # acknowledged, to be committed at the next commit
        self.committed_at = time.monotonic()
        self.committed: dict[TopicPartition, int] = {}  # what was last committed
        # Why the consumer's positions may now be past records the lanes do not hold, so
        # that pass_skipped must wait: "probe", the poller looking for an unreadable record
        # (streams.worker.unreadable); "rebalance", from revocation to the new assignment
        # (the backlog was dropped, the positions are still the old ones).
        self.unsure: set[str] = set()

    def feed(self, tp: TopicPartition, msgs: list) -> None:
        recs = [Record(tp.topic, tp.partition, m.offset, m.key, m.value, m.timestamp)
                for m in msgs]
        held = self.backlog.get(tp)
        if held is None:
            held = self.backlog[tp] = recs
        else:
            held.extend(recs)
        self.waiting += len(recs)
        self.ready.set()
        if len(held) > self._share() and tp not in self.paused:
            # Behind on this partition: stop fetching it (aiokafka would buffer up to a
            # megabyte of it more) until the lanes' next batches leave room.
            self.paused.add(tp)
            self.consumer.pause(tp)

    def _share(self) -> int:
        """Records a partition may have waiting before it is paused: the lanes' next batches,
        split evenly over the partitions assigned."""
        return max(1, BACKLOG_BATCHES * self.batch_max * self.count
                   // max(1, len(self.consumer.assignment())))

    def drop(self) -> None:
        """Forget the undecided backlog (partitions revoked, or stopping): it is uncommitted,
        so whoever owns those partitions next reads it again."""
        self.backlog.clear()
        self.waiting = 0
        self.paused.clear()

    def take(self) -> tuple[list[Record], Offsets]:
        """A batch for a free lane, its partitions marked in flight (release() frees them);
        empty when every partition with records is being decided."""
        free = [(tp, len(recs)) for tp, recs in self.backlog.items() if tp not in self.busy]
        records: list[Record] = []
        offsets: Offsets = {}
        for tp, n in plan(free, self.count - self.deciding, self.batch_max):
            recs = self.backlog.pop(tp)
            if n < len(recs):
                self.backlog[tp] = recs[n:]  # the rest goes to the back of the order
                recs = recs[:n]
            records.extend(recs)
            offsets[tp] = OffsetAndMetadata(recs[-1].offset + 1, "")
            self.busy.add(tp)
        self.waiting -= len(records)
        if records:
            self.deciding += 1
        if self.paused:
            share, assigned = self._share(), self.consumer.assignment()
            back = [tp for tp in offsets if tp in self.paused
                    and len(self.backlog.get(tp, ())) <= share]
            if back:
                self.paused.difference_update(back)
                self.consumer.resume(*(tp for tp in back if tp in assigned))
        return records, offsets

    def release(self, offsets: Offsets) -> None:
        """The batch of these partitions is decided (or given up): others may take them."""
        self.busy.difference_update(offsets)
        self.deciding -= 1
        if any(tp in self.backlog for tp in offsets):
            self.ready.set()

    def idle(self) -> bool:
        return not self.backlog and not self.deciding

    async def settle(self, wait: bool = True) -> None:
        """Commit the offsets of decided batches whose outputs the broker has acknowledged.

        Batches settle in the order they were handed to the producer, so an offset is
        committed only when every earlier batch is acknowledged too. wait=False takes only
        the batches already acknowledged and commits at most every COMMIT_EVERY_S, and gives
        way when another lane is settling; wait=True (rebalance, stop, a long queue) waits
        for every batch handed over so far and commits now.
        """
        if not wait and self.settling.locked():
            return
        async with self.settling:
            await self._settle(wait)

    async def _settle(self, wait: bool) -> None:
        while self.unsettled and (wait or self.unsettled[0][0].done()):
            future, batch_offsets = self.unsettled[0]
            await future  # raises if the broker refused the batch: the worker must not commit
            self.unsettled.popleft()
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

    async def pass_skipped(self) -> None:
        """Commit the consumer's position where it passed records it never handed out.

        The consumer moves past a transaction's control marker, and past an aborted
        transaction's records (read_committed), without returning them. Committing only the
        offsets of records decided would leave the group one record or more behind such a
        partition's end for good: a lag that never drains. Done only when the lanes hold
        nothing undecided or unacknowledged: every offset below the position was then
        decided and acknowledged, or skipped by the consumer, since the poller hands each
        poll's records to the backlog in the same step that moves the positions.
        """
        if not self._quiet():
            return
        mine = list(self.consumer.assignment())
        known = await asyncio.gather(*(_known_position(self.consumer, tp) for tp in mine))
        past: Offsets = {tp: OffsetAndMetadata(position, "")
                         for tp, position in zip(mine, known, strict=True)
                         if position is not None and position > self.committed.get(tp, -1)}
        if past and self._quiet():
            self.settled.update(past)
            await self.settle()

    def _quiet(self) -> bool:
        return (self.idle() and not self.unsettled and not self.settled and not self.unsure
                and not self.settling.locked())

    def idle_timeout(self) -> float:
        """How long an idle lane may sleep before there is something to settle or commit,
        or a position to look at (pass_skipped)."""
        if self.unsettled:
            return SETTLE_EVERY_S
        if self.settled:
            return max(0.0, COMMIT_EVERY_S - (time.monotonic() - self.committed_at))
        return COMMIT_EVERY_S


class Lane:
    """One decider: takes a batch when free, decides it, hands its outputs over."""

    def __init__(self, index: int, lanes: Lanes) -> None:
        self.index = index
        self.lanes = lanes
        self.lock = asyncio.Lock()  # held while a batch is decided

    async def run(self) -> None:
        lanes = self.lanes
        while True:
            records, offsets = lanes.take()
            if not records:
                lanes.ready.clear()  # nothing free now: a feed or a release sets it again
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lanes.ready.wait(), lanes.idle_timeout())
                if lanes.idle():
                    await lanes.settle(wait=False)
                    await lanes.pass_skipped()
                continue
            await self.step(records, offsets)

    async def step(self, records: list[Record], offsets: Offsets) -> None:
        lanes = self.lanes
        try:
            async with self.lock:
                future = await lanes.runtime.submit(records, self.index)
                # Before the partitions are released: their next batch comes after this one.
                lanes.unsettled.append((future, offsets))
        finally:
            lanes.release(offsets)
        # Batches acknowledged meanwhile are committed; past a few in flight, wait.
        await lanes.settle(wait=len(lanes.unsettled) > MAX_UNSETTLED * lanes.count)

    async def finish(self, task: asyncio.Task[None], grace_s: float) -> None:
        """Stop the lane: its batch in hand finished within grace_s, else dropped (never
        committed, so re-read by the next owner)."""
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
        finally:
            self.lock.release()


async def _known_position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """tp's position if the consumer knows it now (None while it is being reset, or tp is
    no longer assigned): position() would otherwise wait for a reset."""
    try:
        return int(await asyncio.wait_for(consumer.position(tp), POSITION_WAIT_S))
    except (TimeoutError, IllegalStateError):
        return None
