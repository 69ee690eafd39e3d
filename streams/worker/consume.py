"""The worker's consuming loop: aiokafka's getmany inside the Faust app, in lanes.

Faust's per-message delivery path (a wait_first and several tasks per record, the hop
through the conductor and the stream's queue) cost more CPU than our whole decision: measured
4.4-5.4k events/s through a Faust agent against 9-10k/s for the same pipeline under a plain
getmany loop. The Faust app still runs the worker (lifecycle, signals, timers, logging); this
loop only takes over fetching.

One poller drains aiokafka's buffers as soon as they fill, into the lanes' shared backlog
(streams.worker.lanes). aiokafka sends no new fetch to a broker while any of its partitions
has unconsumed records, so a poller that waited for deciding would make every record wait a
whole cycle: measured, the newest record of a batch had waited 25 ms (p50) at 5,000/s. A free
lane takes a batch from partitions no other lane is deciding; lanes run concurrently, so one
lane's Python work fills the time another waits on Redis, and a small backlog goes to one
lane whole, so a low rate is not cut into half batches. A partition's Redis keys carry its
hash tag, and each lane builds its own record batches. A partition whose backlog passes its
share of the lanes' next batches is paused until a batch takes it back under, so memory
stays bounded.

At-least-once: a batch's offsets are committed only after its Redis writes are done and the
broker has acknowledged its outputs and those of every batch handed over before it. While
those acknowledgements travel, the lanes already decide the next batches; the event_id
dedupe makes a re-read after a crash safe. An idle worker also commits past what the
consumer skipped without handing it out (transaction markers, aborted records), so a
partition ending in them drains to lag 0 (Lanes.pass_skipped).

Only committed records are read (read_committed): a transaction its producer aborted never
happened. A record the client cannot read (a corrupt batch, a codec it lacks) is
dead-lettered by topic, partition and offset and skipped (streams.worker.unreadable), so one record
never stops a worker. A stop drains within a bounded time (Lane.finish): the
batch in hand is finished or dropped, what the broker acknowledged is committed, the group is
left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from streams import kafka
from streams.worker.collector import settle_collector
from streams.worker.lanes import Lane, Lanes
from streams.worker.logs import drop_startup_spinner
from streams.worker.runtime import Runtime
from streams.worker.unreadable import UNREADABLE, Positions, skip_unreadable, within

log = logging.getLogger(__name__)

METADATA_MAX_AGE_MS = 30_000
# A stop's budget (the whole stop stays under 30 s, Redis or Kafka away or not): the batch in
# hand may take DRAIN_GRACE_S to finish, acknowledgements and the commit SETTLE_S more, and
# leaving the group LEAVE_S; the runtime then gives the producer its own few seconds.
DRAIN_GRACE_S = 6.0
SETTLE_S = 8.0
LEAVE_S = 5.0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, lanes: Lanes, deciders: list[Lane], positions: Positions,
                 runtime: Runtime) -> None:
        self.lanes = lanes
        self.deciders = deciders
        self.positions = positions
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Commit what is decided before the partitions move to another worker: every lane's
        # batch in hand finished, then every batch handed over acknowledged and committed.
        self.positions.clear()
        self.lanes.unsure.add("rebalance")
        self.lanes.drop()
        for lane in self.deciders:
            async with lane.lock:
                pass
        await self.lanes.settle()
        self.lanes.committed.clear()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("assigned %d partition(s)", len(assigned))
        self.lanes.unsure.discard("rebalance")
        await self.runtime.refresh_partitions()


async def _poll(consumer: AIOKafkaConsumer, lanes: Lanes, batch_max: int,
                runtime: Runtime, positions: Positions) -> None:
    def feed(tp: TopicPartition, msgs: list) -> None:
        positions[tp] = msgs[-1].offset + 1
        lanes.feed(tp, msgs)

    while True:
        try:
            polled = await consumer.getmany(timeout_ms=100, max_records=batch_max)
        except UNREADABLE as exc:
            lanes.unsure.add("probe")
            try:
                await skip_unreadable(consumer, runtime, positions, feed, exc)
            finally:
                lanes.unsure.discard("probe")
            continue
        for tp, msgs in polled.items():
            feed(tp, msgs)


async def _drain(lanes: Lanes, deciders: list[Lane], tasks: list[asyncio.Task[None]]) -> None:
    """Stop the lanes side by side (one stuck on Redis does not hold up the others), then
    commit what the broker acknowledged."""
    lanes.drop()
    ended = await asyncio.gather(*(lane.finish(task, DRAIN_GRACE_S)
                                   for lane, task in zip(deciders, tasks, strict=True)),
                                 return_exceptions=True)
    for result in ended:
        if isinstance(result, Exception):
            log.warning("stopping: a lane had failed (%s)", result)
    await lanes.settle()


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
    lanes = Lanes(runtime, consumer)
    deciders = [Lane(i, lanes) for i in range(s.lanes)]
    positions: Positions = {}
    consumer.subscribe([s.topics.events],
                       listener=_Rebalance(lanes, deciders, positions, runtime))
    await consumer.start()
    drop_startup_spinner()
    settle_collector()
    poller = asyncio.create_task(_poll(consumer, lanes, s.batch_max, runtime, positions),
                                 name="poll")
    tasks = [asyncio.create_task(lane.run(), name=f"lane-{lane.index}") for lane in deciders]
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
            try:
                await within(_drain(lanes, deciders, tasks), DRAIN_GRACE_S + SETTLE_S,
                             "draining the lanes")
            except Exception as exc:  # a stop goes on to leave the group
                log.warning("stopping: a lane's last batch was not acknowledged (%s); "
                            "its offsets stay uncommitted", exc)
        finally:
            # Leaves the group, so the partitions move at once rather than after the session.
            await within(consumer.stop(), LEAVE_S, "leaving the consumer group")
