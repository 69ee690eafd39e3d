"""Finding decisions: in Redis by event_id (kept for the dedupe window), else in the
decisions topic (by event_id, or a customer's latest, from the customer's partition).

The worker stores each decision under its customer's state slot (streams.worker.layout):
`{<prefix>:c<slot>}:e:<event_id>`, and the customer's contact history under
`{<prefix>:c<slot>}:h:<customer_id>`. Without the customer, an event_id is looked for in every
state slot, in one pipelined round trip.
"""

from __future__ import annotations

import time

import orjson
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis.exceptions import ResponseError

from streams import kafka, redis_client
from streams.settings import Settings
from streams.worker import layout
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


def _loads(raw: bytes | None) -> Decision | None:
    if not raw:
        return None  # '' marks an event seen whose decision is not stored yet
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return d if isinstance(d, dict) else None


async def _slots(r: redis_client.Client, settings: Settings) -> int:
    found = await r.hget(layout.layout_key(settings.redis_prefix), "slots")  # type: ignore[misc]
    return int(found) if found is not None else settings.state_slots


async def from_redis(settings: Settings, event_id: str,
                     customer_id: str | None = None) -> tuple[Decision, int] | None:
    """The stored decision of `event_id` and its customer's state slot, or None.

    With the customer, one GET; without, one pipelined round trip of GETs, one per slot.
    """
    r = redis_client.client(settings)
    try:
        slots = await _slots(r, settings)
        tried = [layout.slot_of(customer_id, slots)] if customer_id else list(range(slots))
        pipe = r.pipeline(transaction=False)
        for s in tried:
            pipe.get(f"{layout.tag(settings.redis_prefix, s)}:e:{event_id}")
        for s, raw in zip(tried, await pipe.execute(), strict=True):
            d = _loads(raw)
            if d is not None:
                return d, s
        return None
    finally:
        await r.aclose()


async def history(settings: Settings, customer_id: str) -> bytes | None:
    """The customer's stored contact history (oldest first, one entry a line), or None."""
    r = redis_client.client(settings)
    try:
        key = layout.history_key(settings.redis_prefix, await _slots(r, settings), customer_id)
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
