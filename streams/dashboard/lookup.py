"""Finding decisions: in Redis by event_id (kept for the dedupe window), else in the
decisions topic (by event_id, or a customer's latest, from the customer's partition).

The worker stores each decision under `{<prefix>:p<partition>}:e:<event_id>`, the partition
being the events topic's partition the event came from, and the customer's contact history
under `{<prefix>:p<partition>}:h:<customer_id>` (see streams/scripts.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson
import redis.asyncio as aioredis
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis.exceptions import ResponseError

from streams import kafka
from streams.settings import Settings
from streams.worker.emit import partition_for

Decision = dict[str, object]


async def partition_count(settings: Settings, topic: str) -> int:
    """The topic's partitions from the broker; 0 when the topic does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka,
                                **settings.security.aiokafka_kwargs())  # type: ignore[arg-type]
    await admin.start()
    try:
        if topic not in set(await admin.list_topics()):
            return 0
        described = await admin.describe_topics([topic])
        return len(described[0].get("partitions", ())) if described else 0
    finally:
        await admin.close()


def _tag(settings: Settings, partition: int) -> str:
    return f"{{{settings.redis_prefix}:p{partition}}}"


def _loads(raw: bytes | None) -> Decision | None:
    if not raw:
        return None  # '' marks an event seen whose decision is not stored yet
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return d if isinstance(d, dict) else None


async def from_redis(settings: Settings, event_id: str,
                     partitions: Iterable[int]) -> tuple[Decision, int] | None:
    """The stored decision of `event_id` and the events partition it came from, or None.

    One pipelined round trip of GETs, one per partition (the keys sit in different slots).
    """
    r = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
    try:
        parts = list(partitions)
        pipe = r.pipeline(transaction=False)
        for p in parts:
            pipe.get(f"{_tag(settings, p)}:e:{event_id}")
        for p, raw in zip(parts, await pipe.execute(), strict=True):
            d = _loads(raw)
            if d is not None:
                return d, p
        return None
    finally:
        await r.aclose()


async def history(settings: Settings, customer_id: str, partition: int) -> bytes | None:
    """The customer's stored contact history (oldest first, one entry a line), or None."""
    r = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
    key = f"{_tag(settings, partition)}:h:{customer_id}"
    try:
        try:
            raw = await r.get(key)
        except ResponseError:  # a list written by an earlier version: newest first
            items: list[bytes] = await r.lrange(key, 0, -1)  # type: ignore[misc,assignment]
            return b"".join(i + b"\n" for i in reversed(items))
        return raw if isinstance(raw, bytes) or raw is None else str(raw).encode()
    finally:
        await r.aclose()


async def from_topic(settings: Settings, *, event_id: str | None = None,
                     customer_id: str | None = None, limit: int = 10,
                     since_s: float | None = None) -> list[Decision]:
    """Decisions on the decisions topic, newest first: `event_id`'s (one), or `customer_id`'s
    latest `limit`. Reads up to the end offsets of when it started.

    A customer's decisions are keyed by customer id, so only its partition is read; an
    event_id alone means every partition. `since_s`: only records of the last that many
    seconds (default: everything the topic keeps).
    """
    topic = settings.topics.decisions
    n = await partition_count(settings, topic)
    if n == 0:
        return []
    key = customer_id.encode() if customer_id is not None else None
    tps = [TopicPartition(topic, partition_for(key, n))] if key else \
        [TopicPartition(topic, p) for p in range(n)]
    needle = orjson.dumps({"event_id": event_id})[1:-1] if event_id else None
    c = kafka.consumer(settings, group_id=None, enable_auto_commit=False)
    await c.start()
    found: list[tuple[str, int, Decision]] = []  # decided_ts, offset (ties: one batch)
    try:
        c.assign(tps)
        end = await c.end_offsets(tps)
        start = await c.beginning_offsets(tps)
        if since_s is not None:
            at = await c.offsets_for_times({tp: int((time.time() - since_s) * 1000)
                                            for tp in tps})
            start = {tp: at[tp].offset if at[tp] is not None else end[tp] for tp in tps}
        for tp in tps:
            c.seek(tp, start[tp])
        todo = {tp for tp in tps if start[tp] < end[tp]}
        while todo:
            batches = await c.getmany(*todo, timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                for r in records:
                    if r.offset >= end[tp]:
                        break
                    if (needle is not None and needle not in r.value) or \
                            (key is not None and r.key != key):
                        continue
                    d = _loads(r.value)
                    if d is not None and (event_id is None or d.get("event_id") == event_id):
                        found.append((str(d.get("decided_ts")), r.offset, d))
            for tp in list(todo):
                if await c.position(tp) >= end[tp]:
                    todo.discard(tp)
    finally:
        await c.stop()
    found.sort(key=lambda f: (f[0], f[1]), reverse=True)
    return [d for _, _, d in found[:1 if event_id else limit]]
