"""`arbiter send --responses`: synthetic responses to the decisions on the decisions topic."""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson
from aiokafka import TopicPartition

from streams import kafka
from streams.settings import Settings
from streams.synthetic_responses import responses


async def send(settings: Settings, accept: float, convert: float, seed: int) -> int:
    """Reads the decisions topic to its end now and answers each decision with an action."""
    t = settings.topics
    consumer = kafka.consumer(settings, group_id=None)
    await consumer.start()
    decisions: list[dict] = []
    try:
        parts = consumer.partitions_for_topic(t.decisions)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(t.decisions) or set()
        tps = [TopicPartition(t.decisions, p) for p in parts]
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        left = {tp for tp in tps if ends[tp] > 0}
        if left:
            await consumer.seek_to_beginning(*left)
        while left:
            got = await consumer.getmany(*left, timeout_ms=1000)
            for msgs in got.values():
                decisions.extend(orjson.loads(m.value) for m in msgs)
            left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    await kafka.ensure_topics(settings, [t.responses], settings.partitions)
    rates = {arm: (accept, convert) for arm in ("champion", "challenger", "control")}
    producer = kafka.producer(settings)
    await producer.start()
    try:
        futures = [await producer.send(t.responses, value, key=key) for key, value, _ in
                   responses(decisions, rates, seed, int(time.time() * 1000))]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(futures)


def run(settings: Settings, args: argparse.Namespace) -> int:
    n = asyncio.run(send(settings, args.accept, args.convert,
                         0 if args.seed is None else args.seed))
    print(f"sent {n} responses to {settings.topics.responses}")
    return 0
