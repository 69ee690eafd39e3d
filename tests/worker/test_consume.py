"""Lanes: concurrent deciders sharing the worker's partitions, every record decided and
committed once, more lanes than partitions harmless."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import TopicPartition
from harness import Worker, encoded, isolated, prepare, produce

from streams import kafka
from streams.chaos.audit import audit
from streams.settings import Settings
from streams.synthetic import events as synthetic_events

pytestmark = pytest.mark.integration


async def committed_and_ends(s: Settings) -> tuple[dict[int, int], dict[int, int]]:
    # A consumer that never subscribes only reads the group's offsets: it does not join.
    consumer = kafka.consumer(s, group_id=s.group)
    await consumer.start()
    try:
        tps = [TopicPartition(s.topics.events, p) for p in range(s.partitions)]
        ends = await consumer.end_offsets(tps)
        committed = {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
        return committed, {tp.partition: ends[tp] for tp in tps}
    finally:
        await consumer.stop()


@pytest.mark.parametrize(("partitions", "lanes", "batch_max", "count"), [
    (3, 4, 2000, 600),  # more lanes than partitions: one is always left without any
    (2, 2, 20, 1500),  # tiny batches: the backlog outgrows them, partitions pause and resume
])
async def test_lanes_decide_and_commit_everything(
        stack, tmp_path: Path, partitions: int, lanes: int, batch_max: int, count: int) -> None:
    base = Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url)
    s = isolated(base, partitions=partitions, lanes=lanes, batch_max=batch_max)
    await prepare(s)
    worker = Worker(s, tmp_path).start()
    try:
        sent = [e for e in synthetic_events(count, seed=21) if isinstance(e, dict)]
        await produce(s, encoded(sent))
        # After the group committed the input's end: every output read to its end offsets.
        result, _ = await audit(s, sent, commit_timeout_s=90)
        assert result.ok() and result.decided == len(sent), (result, worker.log_tail())
        assert result.repeated_same == result.repeated_different == 0, result
        assert result.count_errors == 0, result
        committed, ends = await committed_and_ends(s)
        assert all(n > 0 for n in ends.values()), f"a partition got no events: {ends}"
        assert committed == ends, worker.log_tail()
    finally:
        assert worker.stop() == 0, worker.log_tail()
