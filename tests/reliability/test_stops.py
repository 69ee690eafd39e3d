"""Clean stops: SIGTERM or SIGINT mid-stream, during a rebalance or not, and with Redis hung,
exit 0 within 30 s after draining; the group then holds every event decided once."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path

import orjson
import pytest
from harness import encoded, isolated, prepare, produce
from kit import EnvWorker, PrivateRedis, ends

from streams import kafka
from streams.chaos.audit import audit
from streams.settings import Settings
from streams.synthetic import events as synthetic_events

pytestmark = pytest.mark.integration



def gave_up_partitions(log: str, topic: str) -> bool:
    """aiokafka's log (as Faust tables it) shows partitions of topic being revoked."""
    return re.search(r"Revoking previously assigned partitions[^\[]*?\| " + re.escape(topic),
                     log) is not None


def got_partitions(log: str, topic: str) -> bool:
    return re.search(r"Setting newly assigned partitions[^\[]*?\| " + re.escape(topic),
                     log) is not None


def valid(count: int, seed: int) -> list[dict[str, object]]:
    return [e for e in synthetic_events(count, seed=seed) if isinstance(e, dict)]


async def stream(s: Settings, events: list[dict[str, object]], chunk: int = 100,
                 pause_s: float = 0.25) -> None:
    """Produce events a chunk at a time: a stream still flowing while the test acts."""
    producer = kafka.producer(s)
    await producer.start()
    try:
        for i in range(0, len(events), chunk):
            for e in events[i:i + chunk]:
                await producer.send(s.topics.events, orjson.dumps(e),
                                    key=str(e["customer_id"]).encode())
            await producer.flush()
            await asyncio.sleep(pause_s)
    finally:
        await producer.stop()


async def wait_for(predicate, what: str, worker: EnvWorker, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()
        assert time.monotonic() < deadline, f"waited in vain for {what}:\n{worker.log_tail()}"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(("sig", "moment"), [(signal.SIGTERM, "rebalance"),
                                              (signal.SIGINT, "steady")])
async def test_a_stop_mid_stream_drains_and_exits_0(stack, tmp_path: Path,
                                                    sig: signal.Signals, moment: str) -> None:
    s = isolated(Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url),
                 partitions=4, batch_max=200)
    await prepare(s)
    head, rest = valid(1500, seed=31), valid(6000, seed=32)
    await produce(s, encoded(head))
    a = EnvWorker(s, tmp_path, level="info", name="a").start()
    b = EnvWorker(s, tmp_path, level="info", name="b")
    try:
        async def some_decided() -> bool:
            return await ends(s, s.topics.decisions) >= 300

        await wait_for(some_decided, "a's first decisions", a)
        flowing = asyncio.create_task(stream(s, rest))
        b.start()
        if moment == "rebalance":
            async def revoking() -> bool:  # b's join makes a give up its partitions
                return gave_up_partitions(a.log_text(), s.topics.events)

            await wait_for(revoking, "a rebalance", a)
        else:
            async def settled() -> bool:
                return got_partitions(b.log_text(), s.topics.events)

            await wait_for(settled, "b's partitions", b)
        a.signal(sig)
        # Mid-stream by construction: the producer had not sent everything yet.
        assert not flowing.done(), "the stream was over before the stop"
        decided_at_stop = await ends(s, s.topics.decisions)
        assert 300 <= decided_at_stop < len(head) + len(rest)
        assert a.wait(30) == 0, a.log_tail(60)
        await flowing
        result, _ = await audit(s, head + rest, commit_timeout_s=120)
    finally:
        code_b = b.stop()
        a.stop()
    assert code_b == 0, b.log_tail()
    assert "ProducerClosed" not in a.log_text(), a.log_tail(60)
    assert result.ok() and result.decided == len(head) + len(rest), result
    assert result.repeated_different == 0, result
    if moment == "rebalance":
        assert result.repeated_same == 0, f"sent twice after a draining stop: {result}"


async def test_a_stop_with_redis_hung_ends_and_loses_nothing(stack, tmp_path: Path) -> None:
    redis = PrivateRedis(tmp_path).start()
    try:
        s = isolated(Settings.from_env().with_(kafka=stack.kafka, redis_url=redis.url),
                     partitions=2)
        await prepare(s)
        first, second = valid(300, seed=41), valid(300, seed=42)
        await produce(s, encoded(first))
        a = EnvWorker(s, tmp_path, name="a").start()
        try:
            async def first_decided() -> bool:
                return await ends(s, s.topics.decisions) >= len(first)

            await wait_for(first_decided, "the first events' decisions", a)
            redis.freeze()  # every Redis call now hangs until its socket timeout
            await produce(s, encoded(second))
            await asyncio.sleep(1.0)
            a.signal(signal.SIGTERM)
            assert a.wait(30) == 0, a.log_tail(60)  # bounded: given up on Redis, not hung
        finally:
            a.stop()
        redis.thaw()
        b = EnvWorker(s, tmp_path, name="b").start()
        try:
            result, _ = await audit(s, first + second, commit_timeout_s=90)
        finally:
            assert b.stop() == 0, b.log_tail()
        assert result.ok() and result.decided == len(first) + len(second), result
        assert result.repeated_different == 0, result
    finally:
        redis.kill()
