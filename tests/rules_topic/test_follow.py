"""Running workers take published catalogues between batches, without a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from harness import Worker, isolated, prepare
from rules_kit import arbiter, catalogue_dir, decisions_of, drained, metrics, renewal, send

from rules import Catalogue, load_catalogue
from streams import kafka
from streams.dashboard.state import epoch_s
from streams.settings import Settings

pytestmark = pytest.mark.integration
SWITCH_S = 10.0  # the promised bound: a publish reaches the decisions within this


@dataclass
class Running:
    settings: Settings
    worker: Worker
    base: Catalogue
    changed: Catalogue  # lifecycle's priority 60 -> 10
    changed_dir: Path
    tmp: Path


@pytest.fixture(scope="module")
async def running(stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    tmp = Path(tmp_path_factory.mktemp("follow"))
    base_settings = Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url)
    base_dir = catalogue_dir(tmp, "base")
    s = isolated(base_settings, metrics_interval=1.0, partitions=4, rules_dir=base_dir)
    await prepare(s)
    changed_dir = catalogue_dir(tmp, "changed", lifecycle_priority=10)
    worker = Worker(s, tmp).start()
    yield Running(s, worker, load_catalogue(base_dir), load_catalogue(changed_dir), changed_dir,
                  tmp)
    assert worker.stop() == 0, worker.log_tail()


def program(d: dict) -> str:
    return str(d["action"]["program"])


async def until_version(s: Settings, version: str, worker: Worker) -> dict:
    """Probe events until one is decided with `version`; fails after SWITCH_S."""
    published = time.monotonic()
    while True:
        probe = renewal()
        await send(s, [probe])
        d = (await decisions_of(s, [probe]))[probe["event_id"]]
        if d["rules_version"] == version:
            return d
        assert time.monotonic() - published < SWITCH_S, (d["rules_version"], version,
                                                          worker.log_tail())


async def decided_some(s: Settings) -> bool:
    consumer = kafka.consumer(s, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(s.topics.decisions, p) for p in range(s.partitions)]
        return sum((await consumer.end_offsets(tps)).values()) > 0
    finally:
        await consumer.stop()


async def test_a_publish_mid_stream_switches_between_batches(running: Running) -> None:
    s, w, base, changed = running.settings, running.worker, running.base, running.changed
    pid = w.pid
    sent: list[tuple[float, dict]] = []
    published_at: list[float] = []
    publish_wall: list[float] = []  # epoch s, when the publish command started

    async def stream(seconds: float) -> None:
        """Events for `seconds`, and on until SWITCH_S + 4 s past the publish (at most 90 s)."""
        start = time.monotonic()
        while time.monotonic() < start + 90 and (
                time.monotonic() < start + seconds
                or not published_at or time.monotonic() < published_at[0] + SWITCH_S + 4.0):
            batch = [renewal() for _ in range(20)]
            await send(s, batch)
            now = time.monotonic()
            sent.extend((now, e) for e in batch)
            await asyncio.sleep(0.1)

    async def publish_later() -> None:
        # Mid-stream by construction: once the worker has decided part of the stream.
        await asyncio.sleep(3.0)
        while not await decided_some(s):
            await asyncio.sleep(0.2)
        publish_wall.append(time.time())
        done = await asyncio.to_thread(arbiter, s, "rules", "publish", str(running.changed_dir),
                                       "--label", "lifecycle below converged")
        assert done.returncode == 0, done.stderr
        published_at.append(time.monotonic())

    await asyncio.gather(stream(3.0 + SWITCH_S + 4.0), publish_later())
    seen = await drained(s, [s.topics.decisions])
    decisions = seen[s.topics.decisions]
    ids = [e["event_id"] for _, e in sent]
    assert sorted(d["event_id"] for _, _, d in decisions) == sorted(ids), \
        "every event decided exactly once across the switch"
    by_id = {d["event_id"]: d for _, _, d in decisions}
    for d in by_id.values():
        assert d["rules_version"] in (base.version, changed.version)
        assert d["arm"] == "champion"
        assert program(d) == ("lifecycle" if d["rules_version"] == base.version else "converged")
    # Per partition, in order: the old version, then the new one, never back.
    for p in range(s.partitions):
        versions = [d["rules_version"] for part, _, d in sorted(decisions, key=lambda x: x[:2])
                    if part == p]
        flips = sum(1 for a, b in itertools.pairwise(versions) if a != b)
        assert flips <= 1 and (not versions or versions[-1] == changed.version), versions
    late = [e for t, e in sent if t > published_at[0] + SWITCH_S]
    assert late, "the stream ran past the switch bound"
    assert {by_id[e["event_id"]]["rules_version"] for e in late} == {changed.version}
    # Decided before the publish began (by the decision's own time, whatever the worker's lag):
    # the catalogue it had.
    early = [d for d in by_id.values() if epoch_s(d["decided_ts"]) < publish_wall[0]]
    assert early, "the stream was decided from before the publish"
    assert {d["rules_version"] for d in early} == {base.version}
    assert w.running and w.pid == pid, "no restart"
    record = await metrics(s, lambda r: r["rules"]["versions"].get("champion") == changed.version)
    assert record["rules_version"] == changed.version and record["rules"]["rejected"] == 0


async def test_a_worker_started_after_the_publish_uses_it(running: Running) -> None:
    s = running.settings
    # A second group on the same rules topic, with its own events and outputs.
    mine = isolated(s, metrics_interval=1.0)
    other = mine.with_(topics=dataclasses.replace(mine.topics, rules=s.topics.rules))
    assert other.topics.rules == s.topics.rules and other.group != s.group
    await prepare(other)
    assert arbiter(s, "rules", "publish", str(running.changed_dir)).returncode == 0
    second = Worker(other, running.tmp / "second").start()
    try:
        events = [renewal() for _ in range(30)]
        await send(other, events)
        got = await decisions_of(other, events, timeout=90)
    finally:
        assert second.stop() == 0, second.log_tail()
    assert {d["rules_version"] for d in got.values()} == {running.changed.version}
    assert {program(d) for d in got.values()} == {"converged"}


async def test_unloadable_records_are_counted_and_ignored(running: Running) -> None:
    s, w = running.settings, running.worker
    current = (await until_version(s, running.changed.version, w))["rules_version"]
    producer = kafka.producer(s)
    await producer.start()
    try:
        await producer.send_and_wait(s.topics.rules, b"\x00 not json", key=b"junk", partition=0)
        await producer.send_and_wait(  # well-formed, but its files are no catalogue
            s.topics.rules, b'{"version": "0123456789ab", "label": "x", "who": "t", '
            b'"when_ms": 1, "files": {"mots.yaml": "mots: 7"}}', key=b"0123456789ab",
            partition=0)
    finally:
        await producer.stop()
    record = await metrics(s, lambda r: r["rules"]["rejected"] >= 2)
    assert record["rules"]["versions"]["champion"] == current
    events = [renewal() for _ in range(20)]
    await send(s, events)
    got = await decisions_of(s, events)
    assert {d["rules_version"] for d in got.values()} == {current}
    assert w.running
    assert "ignored, keeping" in w.log_tail(200)


async def test_rollback_returns_decisions_to_the_earlier_version(running: Running) -> None:
    s, w, base = running.settings, running.worker, running.base
    assert arbiter(s, "rules", "publish", "--label", "baseline").returncode == 0
    await until_version(s, base.version, w)
    assert arbiter(s, "rules", "publish", str(running.changed_dir)).returncode == 0
    await until_version(s, running.changed.version, w)
    back = arbiter(s, "rules", "rollback", base.version)
    assert back.returncode == 0, back.stderr
    d = await until_version(s, base.version, w)
    assert program(d) == "lifecycle"
