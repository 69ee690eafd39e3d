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

from streams.chaos.audit import audit, expected_counts
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
