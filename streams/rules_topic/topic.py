"""Reading and writing the rules topic (one partition, compacted: see streams.kafka)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import kafka
from streams.rules_topic.record import Published, RecordError, decode
from streams.settings import Settings

Entry = tuple[int, Published | RecordError]  # offset, the record or why it is unreadable


async def open_reader(settings: Settings) -> tuple[AIOKafkaConsumer, TopicPartition]:
    """A group-less consumer on the rules topic's partition, at its beginning."""
    await kafka.ensure_compacted(settings, settings.topics.rules)
    tp = TopicPartition(settings.topics.rules, 0)
    consumer = kafka.consumer(settings, group_id=None, enable_auto_commit=False)
    await consumer.start()
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    return consumer, tp


def entries(msgs: list) -> list[Entry]:
    out: list[Entry] = []
    for m in msgs:
        try:
            out.append((m.offset, decode(m.value, m.offset)))
        except RecordError as exc:
            out.append((m.offset, exc))
    return out


async def read_to_end(consumer: AIOKafkaConsumer, tp: TopicPartition) -> list[Entry]:
    """Every record from the consumer's position up to the partition's end offset now."""
    end = (await consumer.end_offsets([tp]))[tp]
    out: list[Entry] = []
    while await consumer.position(tp) < end:
        got = await consumer.getmany(tp, timeout_ms=1000)
        out.extend(entries(got.get(tp, [])))
    return out


async def read_all(settings: Settings) -> list[Entry]:
    consumer, tp = await open_reader(settings)
    try:
        return await read_to_end(consumer, tp)
    finally:
        await consumer.stop()


async def write(settings: Settings, record: Published) -> int:
    """Append the record (key: its version); returns its offset once the broker has it."""
    await kafka.ensure_compacted(settings, settings.topics.rules)
    producer = kafka.producer(settings)
    await producer.start()
    try:
        meta = await producer.send_and_wait(settings.topics.rules, record.encode(),
                                            key=record.version.encode(), partition=0)
        return int(meta.offset)
    finally:
        await producer.stop()
