"""Read committed: an aborted transaction never happened; a committed one is decided."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from harness import encoded, isolated, prepare, produce
from kit import EnvWorker

from streams.chaos.audit import audit, expected_counts, wait_committed
from streams.settings import Settings
from streams.synthetic import events as synthetic_events

pytestmark = pytest.mark.integration


async def transaction(s: Settings, events: list[dict[str, object]], commit: bool) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=s.kafka,
                                transactional_id=f"tx-{uuid.uuid4().hex[:8]}")
    await producer.start()
    try:
        await producer.begin_transaction()
        for e in events:
            await producer.send(s.topics.events, orjson.dumps(e),
                                key=str(e["customer_id"]).encode())
        await producer.flush()  # on the broker, inside the open transaction
        if commit:
            await producer.commit_transaction()
        else:
            await producer.abort_transaction()
    finally:
        await producer.stop()


async def markers_written(s: Settings, timeout_s: float = 30.0) -> None:
    tps = [TopicPartition(s.topics.events, p) for p in range(s.partitions)]
    stable = AIOKafkaConsumer(bootstrap_servers=s.kafka, isolation_level="read_committed")
    every = AIOKafkaConsumer(bootstrap_servers=s.kafka, isolation_level="read_uncommitted")
    await stable.start()
    await every.start()
    try:
        deadline = time.monotonic() + timeout_s
        while await stable.end_offsets(tps) != await every.end_offsets(tps):
            assert time.monotonic() < deadline, "transaction markers not written"
            await asyncio.sleep(0.2)
    finally:
        await stable.stop()
        await every.stop()


async def test_aborted_records_are_never_decided_committed_ones_are(stack,
                                                                   tmp_path: Path) -> None:
    s = isolated(Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url),
                 partitions=2)
    await prepare(s)
    pool = [e for e in synthetic_events(330, seed=77) if isinstance(e, dict)]
    aborted, committed, plain = pool[:150], pool[150:300], pool[300:]
    await transaction(s, aborted, commit=False)
    await transaction(s, committed, commit=True)
    # The coordinator writes the markers after EndTxn returns: wait for them (the last stable
    # offset reaches the high watermark), so the plain records land after them and the group
    # can commit the end.
    await markers_written(s)
    await produce(s, encoded(plain))
    worker = EnvWorker(s, tmp_path).start()
    try:
        result, outputs = await audit(s, committed + plain, commit_timeout_s=90)
    finally:
        code = worker.stop()
    assert code == 0, worker.log_tail()
    assert result.unexpected == 0, "records of an aborted transaction were decided"
    assert result.count_errors == 0, "MoT counts are not those of the committed events"
    assert result.ok() and result.decided == len(committed) + len(plain), (
        result, worker.log_tail())
    aborted_ids = {e["event_id"] for e in aborted}
    acted = {orjson.loads(v)["event_id"] for name in s.topics.all_actions()
             for v in outputs.get(name, [])}
    assert not acted & aborted_ids, "an aborted event reached a channel"
    assert acted, "no action at all: the check above proves nothing"
    # The aborted events would have raised these counts: the check could fail.
    assert expected_counts(aborted), "the aborted events carry no MoT"


async def record_ends(s: Settings) -> dict[int, tuple[int, int]]:
    """Per partition of the events topic: the offset after its last readable record (0: none)
    and its end offset. A partition whose end is past the first ends in offsets no consumer
    is handed: control markers, an aborted transaction's records."""
    tps = [TopicPartition(s.topics.events, p) for p in range(s.partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka, isolation_level="read_committed",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        last = {tp: 0 for tp in tps}
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for tp, msgs in (await consumer.getmany(timeout_ms=500)).items():
                last[tp] = max(last[tp], msgs[-1].offset + 1)
        return {tp.partition: (last[tp], ends[tp]) for tp in tps}
    finally:
        await consumer.stop()


async def test_a_partition_ending_in_markers_is_committed_to_its_end(stack,
                                                                    tmp_path: Path) -> None:
    """The group commits past the markers and aborted records at a partition's end: its lag
    drains to 0, whether the stream stops on a committed transaction's marker (records were
    handed out just before) or on an aborted one arriving while the worker is idle (nothing
    is handed out at all, only the consumer's position moves)."""
    s = isolated(Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url),
                 partitions=2)
    await prepare(s)
    pool = [e for e in synthetic_events(300, seed=78) if isinstance(e, dict)]
    plain, committed, aborted = pool[:100], pool[100:200], pool[200:]
    await produce(s, encoded(plain))
    await transaction(s, committed, commit=True)
    await markers_written(s)
    ends_committed = await record_ends(s)
    worker = EnvWorker(s, tmp_path).start()
    try:
        result, _ = await audit(s, plain + committed, commit_timeout_s=90)
        await transaction(s, aborted, commit=False)
        await markers_written(s)
        ends_aborted = await record_ends(s)
        lag_after_abort = await wait_committed(s, timeout_s=60)
    finally:
        code = worker.stop()
    assert code == 0, worker.log_tail()
    # By construction, each partition ends in its transaction's marker, after the last record.
    assert all(last < end for last, end in ends_committed.values()), ends_committed
    assert result.ok() and result.lag == 0, (result, worker.log_tail())
    # The aborted transaction added records and a marker after the last record, none readable.
    for p, (last, end) in ends_aborted.items():
        assert last == ends_committed[p][0] and end > ends_committed[p][1] + 1, ends_aborted
    assert lag_after_abort == 0, "the group did not commit past the aborted transaction"
