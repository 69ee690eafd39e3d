"""The lanes' shared backlog: how much a free lane takes, partitions in flight taken by no
other lane, and offsets settled only in the order batches were handed over."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from streams.settings import Settings
from streams.worker.lanes import SPLIT_AT, Lanes, plan
from streams.worker.runtime import Runtime

T = "events"


def tp(p: int) -> TopicPartition:
    return TopicPartition(T, p)


class Msg:  # the fields of an aiokafka ConsumerRecord that Lanes.feed reads
    def __init__(self, offset: int) -> None:
        self.offset, self.key, self.value, self.timestamp = offset, b"k", b"{}", 0


def msgs(first: int, n: int) -> list[Msg]:
    return [Msg(o) for o in range(first, first + n)]


def test_a_small_backlog_goes_to_one_lane_whole() -> None:
    free = [(tp(p), 12) for p in range(8)]  # 96 records: about one poll at 5,000/s
    assert plan(free, free_lanes=2, batch_max=2000) == free


def test_a_large_backlog_is_shared_among_the_free_lanes() -> None:
    free = [(tp(p), 400) for p in range(8)]  # 3,200 records
    got = plan(free, free_lanes=2, batch_max=2000)
    assert sum(n for _, n in got) == 1600
    assert got == [(tp(p), 400) for p in range(4)]  # whole partitions, oldest first
    assert sum(n for _, n in plan(free, free_lanes=1, batch_max=2000)) == 2000
    assert sum(n for _, n in plan(free, free_lanes=4, batch_max=2000)) == 800


def test_the_split_starts_past_split_at() -> None:
    at = [(tp(0), SPLIT_AT)]
    past = [(tp(0), SPLIT_AT + 2)]
    assert plan(at, 2, 2000) == at
    assert plan(past, 2, 2000) == [(tp(0), SPLIT_AT // 2 + 1)]
    assert plan([], 2, 2000) == []


async def _lanes(lanes: int = 2, batch_max: int = 2000) -> Lanes:
    s = Settings.from_env().with_(lanes=lanes, batch_max=batch_max)
    # Never started: only its assignment and pause/resume are used here.
    return Lanes(Runtime(s), AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1"))


async def test_a_partition_in_flight_is_taken_by_no_other_lane() -> None:
    lanes = await _lanes()
    for p in range(4):
        lanes.feed(tp(p), msgs(0, 10))
    records, offsets = lanes.take()
    assert len(records) == 40 and set(offsets) == {tp(p) for p in range(4)}
    assert offsets[tp(2)].offset == 10
    lanes.feed(tp(0), msgs(10, 5))
    lanes.feed(tp(5), msgs(0, 3))
    second, offsets2 = lanes.take()  # partition 0 is in flight: only partition 5 is free
    assert {(r.partition, r.offset) for r in second} == {(5, 0), (5, 1), (5, 2)}
    assert lanes.take() == ([], {})
    lanes.release(offsets)
    assert lanes.ready.is_set()
    third, _ = lanes.take()
    assert [(r.partition, r.offset) for r in third] == [(0, o) for o in range(10, 15)]
    lanes.release(offsets2)
    assert lanes.deciding == 1 and lanes.waiting == 0


async def test_a_batch_keeps_each_partitions_order_and_leaves_the_rest_behind() -> None:
    lanes = await _lanes(batch_max=30)
    lanes.feed(tp(0), msgs(0, 20))
    lanes.feed(tp(1), msgs(0, 20))
    records, offsets = lanes.take()
    assert [(r.partition, r.offset) for r in records] == \
        [(0, o) for o in range(20)] + [(1, o) for o in range(10)]
    assert offsets[tp(1)].offset == 10
    lanes.release(offsets)
    rest, offsets = lanes.take()
    assert [(r.partition, r.offset) for r in rest] == [(1, o) for o in range(10, 20)]


async def test_offsets_settle_in_the_order_batches_were_handed_over() -> None:
    lanes = await _lanes()
    loop = asyncio.get_running_loop()
    first: asyncio.Future[list[object]] = loop.create_future()
    second: asyncio.Future[list[object]] = loop.create_future()
    lanes.unsettled.append((first, {tp(0): _meta(10)}))
    lanes.unsettled.append((second, {tp(1): _meta(7)}))
    second.set_result([])
    await lanes.settle(wait=False)  # the later batch is acknowledged, the earlier not yet
    assert lanes.settled == {} and len(lanes.unsettled) == 2
    first.set_result([])
    await lanes.settle(wait=False)  # within COMMIT_EVERY_S: settled, not committed yet
    assert {t: m.offset for t, m in lanes.settled.items()} == {tp(0): 10, tp(1): 7}
    assert not lanes.unsettled


def _meta(offset: int) -> OffsetAndMetadata:
    return OffsetAndMetadata(offset, "")


async def test_only_a_partition_past_its_share_is_paused_and_it_resumes_when_taken() -> None:
    lanes = await _lanes(lanes=2, batch_max=40)  # 4 partitions: a share of 40 * 2 / 4 = 20
    lanes.consumer.assign([tp(p) for p in range(4)])
    lanes.feed(tp(0), msgs(0, 21))
    lanes.feed(tp(1), msgs(0, 20))
    assert lanes.consumer.paused() == {tp(0)}  # the others go on fetching
    records, offsets = lanes.take()  # 40 at most: all of 0, 19 of 1
    assert set(offsets) == {tp(0), tp(1)} and len(records) == 40
    assert lanes.consumer.paused() == set()
    await lanes.consumer.stop()
