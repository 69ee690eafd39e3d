"""The ceiling: a plain aiokafka consume-decode-produce loop, no Faust, no Redis, no rules."""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson
from aiokafka import ConsumerRecord
from tqdm import tqdm

from streams import kafka
from streams.bench.kit import BenchError, Rate
from streams.settings import Settings
from streams.worker.emit import Emitter

MAX_RECORDS = 2000  # per poll, as the worker's batch_max


async def passthrough(settings: Settings, partitions: int, target: int, bar: tqdm,
                      idle_s: float = 60.0) -> Rate:
    """Consume `target` events in a consumer group of its own, decode each, produce a small
    record per event into record batches (one flush per poll), commit per poll.

    Timed from the first poll that returned records to the last flush.
    """
    out = settings.topics.decisions
    consumer = kafka.consumer(settings, settings.topics.events, group_id=settings.group)
    producer = kafka.producer(settings)
    await consumer.start()
    await producer.start()
    emitter = Emitter(producer, settings.topics, {out: partitions})
    done, first = 0, None
    last_data = time.monotonic()
    try:
        while done < target:
            polled = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS)
            n = _relay(emitter, out, polled.values())
            if not n:
                if time.monotonic() - last_data > idle_s:
                    raise BenchError(f"raw loop: no records after {done} of {target}")
                continue
            if first is None:
                first = time.monotonic()  # a loop has no startup to exclude: time it all
            await emitter.flush()
            await consumer.commit()
            done += n
            last_data = time.monotonic()
            bar.update(n)
    finally:
        await producer.stop()
        await consumer.stop()
    assert first is not None
    return Rate(done, last_data - first)


def _relay(emitter: Emitter, out: str, batches: Iterable[list[ConsumerRecord]]) -> int:
    n = 0
    loads, dumps = orjson.loads, orjson.dumps
    for msgs in batches:
        for m in msgs:
            event = loads(m.value)
            emitter.send(out, m.key, dumps({"event_id": event.get("event_id"), "seen": True}))
        n += len(msgs)
    return n
