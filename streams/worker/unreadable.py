"""Records the Kafka client cannot read: found, dead-lettered by offset, skipped.

aiokafka decompresses and checks a record batch while getmany() hands out records, and an
error there (a codec it lacks, a CRC that does not match) is raised out of getmany() with no
partition named; the records the same call had already taken from other partitions are
dropped while their positions moved on. Raised again and again at the same offset, it would
stop the worker, and a restart would stop at the same record: a crash loop halting every
partition of that worker.

So on such an error the poller rewinds every partition to the first offset it has not
handed to a lane, then reads partition by partition, record by record where one fails, to
find the offset that cannot be read; that offset goes to the dead-letter topic (topic,
partition, offset, the error) and the consumer seeks past it. Its offset is committed with
the records after it; a crash before that dead-letters it again (at least once, like
everything else).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CorruptRecordException, KafkaError, UnsupportedCodecError

from rules.decision import rfc3339_ms
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")

# What getmany() raises for a record it cannot read (InvalidMessageError is the same class as
# CorruptRecordException in aiokafka).
UNREADABLE = (UnsupportedCodecError, CorruptRecordException)
Positions = dict[TopicPartition, int]  # per partition: the next offset not yet given to a lane
PROBE_WAIT_MS = 300  # how long a partition is given to deliver its next records when probing


async def skip_unreadable(
    consumer: AIOKafkaConsumer,
    runtime: Runtime,
    positions: Positions,
    feed: Callable[[TopicPartition, list], None],
    error: Exception,
) -> None:
    """Find the partition and offset getmany() failed on, dead-letter it, seek past it.

    feed(tp, messages) takes the readable records met on the way, in order. positions is
    kept by feed; a partition with no entry has given nothing since its assignment and is
    rewound to its committed offset.
    """
    log.warning("a record could not be read (%r); looking for it partition by partition", error)
    assigned = [tp for tp in consumer.assignment() if tp not in consumer.paused()]
    for tp in assigned:
        await _rewind(consumer, positions, tp)
    for tp in sorted(assigned):
        while True:
            try:
                got = await consumer.getmany(tp, timeout_ms=PROBE_WAIT_MS,
                                             max_records=runtime.settings.batch_max)
            except UNREADABLE:
                await _rewind(consumer, positions, tp)
                await _single_out(consumer, runtime, positions, feed, tp)
                return
            if not got:
                break  # nothing more here now: this partition reads fine
            for part, msgs in got.items():
                feed(part, msgs)
            break
    log.warning("the unreadable record was not found again; reading on")


async def _rewind(consumer: AIOKafkaConsumer, positions: Positions, tp: TopicPartition) -> None:
    # Records a failed getmany() had already taken are lost with it: read them again.
    if tp in positions:
        consumer.seek(tp, positions[tp])
        return
    committed = await consumer.committed(tp)
    if committed is not None:
        consumer.seek(tp, committed)
    else:
        await consumer.seek_to_beginning(tp)


async def _single_out(
    consumer: AIOKafkaConsumer,
    runtime: Runtime,
    positions: Positions,
    feed: Callable[[TopicPartition, list], None],
    tp: TopicPartition,
) -> None:
    """Read tp one record at a time up to the one that fails; dead-letter it; seek past."""
    while True:
        try:
            got = await consumer.getmany(tp, timeout_ms=PROBE_WAIT_MS, max_records=1)
        except UNREADABLE as exc:
            offset = await consumer.position(tp)
            await _dead_letter(runtime, tp, offset, exc)
            consumer.seek(tp, offset + 1)
            positions[tp] = offset + 1
            return
        if not got:
            log.warning("%s: the unreadable record was not met again; reading on", tp)
            return
        for part, msgs in got.items():
            feed(part, msgs)


async def _dead_letter(runtime: Runtime, tp: TopicPartition, offset: int,
                       exc: Exception) -> None:
    error = f"record: unreadable by the Kafka client ({type(exc).__name__}: {exc})"
    log.error("%s partition %d offset %d: %s; dead-lettered and skipped",
              tp.topic, tp.partition, offset, error)
    body = orjson.dumps({
        "error": error, "raw": "", "raw_encoding": "utf-8", "raw_bytes": 0,
        "raw_truncated": False, "topic": tp.topic, "partition": tp.partition,
        "offset": offset, "ts": rfc3339_ms(int(time.time() * 1000)),
    })
    producer = runtime.producer
    assert producer is not None, "the runtime starts before the consumer"
    try:
        await producer.send_and_wait(runtime.settings.topics.deadletter, body)
    except KafkaError as send_error:
        # The skip is logged with its offset above; the stream goes on either way.
        log.error("dead letter for %s offset %d not sent: %s", tp, offset, send_error)


async def within(aw: Awaitable[T], seconds: float, what: str) -> T | None:
    """aw, or None (logged) when it takes longer than seconds: a stop must end."""
    try:
        return await asyncio.wait_for(aw, seconds)
    except TimeoutError:
        log.warning("stopping: %s took over %.0fs; given up", what, seconds)
        return None
    except KafkaError as exc:
        log.warning("stopping: %s failed (%s)", what, exc)
        return None
