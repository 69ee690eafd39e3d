"""Every Kafka compression codec is read and written; a record the client cannot read is
dead-lettered by offset and skipped, never a crash loop."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from harness import event, isolated, prepare
from kit import EnvWorker, kcat_produce

from streams import kafka
from streams.chaos.audit import audit, read_to_end
from streams.settings import Settings
from streams.synthetic import events as synthetic_events

pytestmark = pytest.mark.integration

CODECS = ("snappy", "lz4", "zstd", "gzip")


def valid(count: int, seed: int) -> list[dict[str, object]]:
    return [e for e in synthetic_events(count, seed=seed) if isinstance(e, dict)]


async def produce_with(s: Settings, events: list[dict[str, object]], codec: str) -> None:
    """aiokafka's own producer compressing with codec (the writing side of each codec)."""
    producer = kafka.producer(s, compression_type=codec)
    await producer.start()
    try:
        for e in events:
            await producer.send(s.topics.events, orjson.dumps(e),
                                key=str(e["customer_id"]).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def test_records_of_every_codec_are_decided(stack, tmp_path: Path) -> None:
    s = isolated(Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url),
                 partitions=2)
    await prepare(s)
    sent: list[dict[str, object]] = []
    for i, codec in enumerate(CODECS):
        by_kcat = valid(40, seed=100 + i)
        kcat_produce(s.kafka, s.topics.events, [orjson.dumps(e) for e in by_kcat], codec)
        by_aiokafka = valid(40, seed=200 + i)
        await produce_with(s, by_aiokafka, codec)
        sent += by_kcat + by_aiokafka
    worker = EnvWorker(s, tmp_path).start()
    try:
        result, outputs = await audit(s, sent, commit_timeout_s=90)
    finally:
        code = worker.stop()
    assert code == 0, worker.log_tail()
    assert result.ok() and result.decided == len(sent), (result, worker.log_tail())
    assert outputs[s.topics.decisions], "nothing decided"
    assert "UnsupportedCodecError" not in worker.log_text()


async def test_a_topic_compressed_with_zstd_is_read(stack, tmp_path: Path) -> None:
    s = isolated(Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url),
                 partitions=2)
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(s.topics.events, 2, 1,
                                            topic_configs={"compression.type": "zstd"})])
    finally:
        await admin.close()
    await prepare(s)  # the outputs; the events topic exists and keeps its zstd setting
    sent = valid(150, seed=300)
    kcat_produce(s.kafka, s.topics.events, [orjson.dumps(e) for e in sent], "none")
    worker = EnvWorker(s, tmp_path).start()
    try:
        result, _ = await audit(s, sent, commit_timeout_s=90)
    finally:
        code = worker.stop()
    assert code == 0, worker.log_tail()
    assert result.ok() and result.decided == len(sent), (result, worker.log_tail())


async def test_an_unreadable_record_is_dead_lettered_and_the_stream_goes_on(
        stack, tmp_path: Path) -> None:
    """A worker whose client lacks the snappy codec (cramjam hidden from it) meets a snappy
    batch between plain ones on one partition: it names that offset in a dead letter and in
    its log, decides every other record, commits past it, and exits 0."""
    s = isolated(Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url),
                 partitions=1)
    await prepare(s)
    before, after = valid(30, seed=400), valid(30, seed=401)
    bad = [event(f"z-{i}", "complaint_submitted", "home") for i in range(3)]
    kcat_produce(s.kafka, s.topics.events, [orjson.dumps(e) for e in before], "gzip")
    kcat_produce(s.kafka, s.topics.events, [orjson.dumps(e) for e in bad], "snappy")
    kcat_produce(s.kafka, s.topics.events, [orjson.dumps(e) for e in after], "none")
    shadow = tmp_path / "shadow" / "cramjam"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('hidden for this test')\n")
    worker = EnvWorker(s, tmp_path, env={"PYTHONPATH": str(shadow.parent)}).start()
    try:
        result, _ = await audit(s, before + after, commit_timeout_s=90)
        letters = (await read_to_end(s, [s.topics.deadletter]))[s.topics.deadletter]
        assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()
    finally:
        code = worker.stop()
    assert code == 0, worker.log_tail()
    # The three snappy records lie at offsets 30, 31, 32 of the one partition.
    offsets = sorted({orjson.loads(v)["offset"] for v in letters})
    assert offsets == [30, 31, 32], letters
    assert all("UnsupportedCodecError" in orjson.loads(v)["error"] for v in letters)
    assert all(orjson.loads(v)["topic"] == s.topics.events for v in letters)
    assert result.ok() and result.decided == len(before) + len(after), (result,
                                                                         worker.log_tail())
    assert f"{s.topics.events} partition 0 offset 31" in worker.log_text()
