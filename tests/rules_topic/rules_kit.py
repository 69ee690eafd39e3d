"""Helpers of the rules-topic tests: catalogue directories, the CLI, and draining a group."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import TopicPartition

from rules.load.files import BUNDLED
from streams import kafka
from streams.settings import Settings

Seen = dict[str, list[tuple[int, int, dict]]]  # topic -> (partition, offset, value)


def catalogue_dir(tmp: Path, name: str, lifecycle_priority: int | None = None,
                  experiments: str | None = None) -> Path:
    """The bundled catalogue, copied, with NBO ranking offers by program priority (these tests
    are about priorities) and lifecycle's priority (60) changed if asked."""
    out = tmp / name
    shutil.copytree(BUNDLED, out)
    settings = out / "settings.yaml"
    text = settings.read_text()
    assert text.count("  rank_by: value\n") == 1
    settings.write_text(text.replace("  rank_by: value\n", "  rank_by: priority\n"))
    if lifecycle_priority is not None:
        p = out / "programs.yaml"
        text = p.read_text()
        assert text.count("    priority: 60\n") == 1
        p.write_text(text.replace("    priority: 60\n", f"    priority: {lifecycle_priority}\n"))
    if experiments is not None:
        (out / "experiments.yaml").write_text(experiments)
    return out


def arbiter(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`arbiter ARGS` in a child process with these settings."""
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env={
        **settings.to_env(), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=120)


def renewal(customer: str | None = None) -> dict[str, object]:
    """A postpaid contract ending: lifecycle (60) wins it over converged (55) when the
    customer has no history; with lifecycle at 10, converged wins."""
    return {"event_id": uuid.uuid4().hex, "customer_id": customer or f"c{uuid.uuid4().hex[:12]}",
            "type": "contract_ending", "product_line": "postpaid",
            "ts": int(time.time() * 1000), "attrs": {"days_left": 30}}


async def send(settings: Settings, events: list[dict], topic: str | None = None) -> None:
    producer = kafka.producer(settings)
    await producer.start()
    try:
        futures = [await producer.send(topic or settings.topics.events, orjson.dumps(e),
                                       key=str(e["customer_id"]).encode()) for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def drained(settings: Settings, topics: list[str], timeout: float = 90.0,
                  source: str | None = None, group: str | None = None) -> Seen:
    """Once the group has committed the end of `source` (default: the events topic), every
    record of `topics`, read to their end offsets."""
    events = [TopicPartition(source or settings.topics.events, p)
              for p in range(settings.partitions)]
    admin = kafka.admin(settings)
    consumer = kafka.consumer(settings, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        ends = await consumer.end_offsets(events)
        deadline = time.monotonic() + timeout
        while True:
            done = await admin.list_consumer_group_offsets(group or settings.group,
                                                           partitions=events)
            if all(ends[tp] == 0 or (tp in done and done[tp].offset >= ends[tp])
                   for tp in events):
                break
            assert time.monotonic() < deadline, f"group did not commit the end: {done} {ends}"
            await asyncio.sleep(0.5)
        return await read_to_end(consumer, topics, settings.partitions)
    finally:
        await consumer.stop()
        await admin.close()


async def read_to_end(consumer, topics: list[str], partitions: int) -> Seen:  # type: ignore[no-untyped-def]
    tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
    ends = await consumer.end_offsets(tps)
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    seen: Seen = {t: [] for t in topics}
    left = {tp for tp in tps if ends[tp] > 0}
    while left:
        got = await consumer.getmany(*left, timeout_ms=1000)
        for tp, msgs in got.items():
            seen[tp.topic].extend((tp.partition, m.offset, orjson.loads(m.value)) for m in msgs)
        left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
    return seen


async def decisions_of(settings: Settings, events: list[dict], timeout: float = 60.0) -> dict:
    """The decisions of these events (event_id -> decision), read once all have arrived."""
    ids = {e["event_id"] for e in events}
    consumer = kafka.consumer(settings, settings.topics.decisions, group_id=None)
    await consumer.start()
    out: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    try:
        while not ids <= set(out):
            assert time.monotonic() < deadline, f"{len(ids - set(out))} events not decided"
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                for m in msgs:
                    d = orjson.loads(m.value)
                    if d["event_id"] in ids:
                        out[d["event_id"]] = d
    finally:
        await consumer.stop()
    return out


async def metrics(settings: Settings, want, timeout: float = 30.0) -> dict:  # type: ignore[no-untyped-def]
    """The first metrics record for which want(record) holds."""
    consumer = kafka.consumer(settings, settings.topics.metrics, group_id=None)
    await consumer.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                for m in msgs:
                    record = orjson.loads(m.value)
                    if want(record):
                        return record
    finally:
        await consumer.stop()
    raise AssertionError("no metrics record matched")
