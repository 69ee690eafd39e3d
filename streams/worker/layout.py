"""Where a customer's state lives in Redis: a hash-tagged slot of the customer, not the Kafka
partition a record happened to arrive on.

A customer's contact history, the dedupe mark (and stored decision) of each of its events, and
the MoT counters its events bump all live under the tag of its *state slot*:
``{<prefix>:c<slot>}`` with ``slot = crc32(customer_id) % slots`` (zlib's CRC-32, the same on
every platform and version). So the state follows the customer whatever key the producer used,
whatever partition the record landed on and however many partitions the topic has; and one
Lua call can touch every key of a slot on a Redis Cluster (one hash slot per tag).

`slots` is fixed once state exists: the first worker records it in ``<prefix>:layout`` and
every later worker uses the recorded value, whatever its own `ARBITER_STATE_SLOTS` says. It
bounds how many Redis Cluster shards can share the load (one tag lives on one shard).

State written by earlier versions under the Kafka partition's tag (``{<prefix>:p<N>}``) is
moved into this layout once, by the first worker that finds no layout record (`settle`).
"""

from __future__ import annotations

import asyncio
import logging
import zlib

import orjson
from redis.exceptions import ResponseError

from streams.redis_client import Client

log = logging.getLogger(__name__)

LAYOUT_VERSION = 2  # 1 was the partition layout, which had no record
LOCK_TTL_S = 600
_COUNTER_TTL_S = {"cm": 7200, "ch": 93600, "cd": 2764800}  # as the INGEST script sets them


def slot_of(customer_id: str, slots: int) -> int:
    """The customer's state slot, 0 <= slot < slots."""
    return zlib.crc32(customer_id.encode()) % slots


SLOT_MEMO = 200_000  # customers whose slot a store keeps memoized (about 20 MB at most)


def tag_prefix(prefix: str) -> str:
    """What a slot's tag starts with; the tag is this, the slot number, and '}'."""
    return f"{{{prefix}:c"


def tag(prefix: str, slot: int) -> str:
    return f"{{{prefix}:c{slot}}}"


def decision_key(prefix: str, slots: int, customer_id: str, event_id: str) -> str:
    """The key holding an event's dedupe mark and stored decision (bytes; b'' until stored)."""
    return f"{tag(prefix, slot_of(customer_id, slots))}:e:{event_id}"


def history_key(prefix: str, slots: int, customer_id: str) -> str:
    return f"{tag(prefix, slot_of(customer_id, slots))}:h:{customer_id}"


def layout_key(prefix: str) -> str:
    return f"{prefix}:layout"


async def settle(redis: Client, prefix: str, wanted_slots: int, cluster: bool) -> int:
    """The number of state slots in force, recording `wanted_slots` if none is recorded yet,
    after moving any partition-layout state into the slot layout (once, under a lock; a
    single node only: the partition layout never ran on a Redis Cluster)."""
    key = layout_key(prefix)
    while True:
        found = await redis.hget(key, "slots")  # type: ignore[misc]
        if found is not None:
            slots = int(found)
            if slots != wanted_slots:
                log.info("state slots: %d as recorded in %s (ARBITER_STATE_SLOTS=%d ignored)",
                         slots, key, wanted_slots)
            return slots
        if await redis.set(f"{key}:lock", "1", nx=True, ex=LOCK_TTL_S):
            try:
                if not cluster:
                    moved = await migrate_partition_layout(redis, prefix, wanted_slots)
                    if moved:
                        log.info("moved %d keys of the partition layout into %d state slots",
                                 moved, wanted_slots)
                await redis.hset(key, mapping={"slots": wanted_slots,  # type: ignore[misc]
                                               "version": LAYOUT_VERSION})
            finally:
                await redis.delete(f"{key}:lock")
        else:
            await asyncio.sleep(0.2)  # another worker is settling it


async def migrate_partition_layout(redis: Client, prefix: str, slots: int) -> int:
    """Move every key of the partition layout (``{prefix:pN}:h|e|cm|ch|cd:...``) to the slot
    layout, a SCAN page at a time: histories and stored decisions keep their value, type and
    TTL (DUMP/RESTORE; a key the new layout already holds wins); counters are added to slot
    0's (their sum is what is read). Each page's writes and the old keys' deletion are one
    transaction, so a crash never counts a counter twice. Returns the number of keys moved."""
    moved, page = 0, []
    async for raw in redis.scan_iter(match=f"{{{prefix}:p*}}:*", count=1000):
        page.append(raw.decode() if isinstance(raw, bytes) else str(raw))
        if len(page) >= 500:
            moved += await _move_page(redis, prefix, slots, page)
            page = []
    if page:
        moved += await _move_page(redis, prefix, slots, page)
    return moved


def _parts(name: str, prefix: str) -> tuple[str, str] | None:
    head, _, rest = name.partition("}:")
    kind, _, ident = rest.partition(":")
    if not head.startswith(f"{{{prefix}:p") or not ident:
        return None
    if kind not in ("h", "e") and kind not in _COUNTER_TTL_S:
        return None
    return kind, ident


async def _move_page(redis: Client, prefix: str, slots: int, names: list[str]) -> int:
    keys = [(n, *parts) for n in names if (parts := _parts(n, prefix)) is not None]
    read = redis.pipeline(transaction=False)
    for name, kind, _ in keys:
        if kind in _COUNTER_TTL_S:
            read.hgetall(name)
        else:
            read.get(name) if kind == "e" else read.type(name)
            read.dump(name)
            read.pttl(name)
    got = iter(await read.execute())
    write = redis.pipeline(transaction=True)
    moved = 0
    for name, kind, ident in keys:
        if kind in _COUNTER_TTL_S:
            target = f"{tag(prefix, 0)}:{kind}:{ident}"
            for f, n in next(got).items():
                write.hincrby(target, f, int(n))
            write.expire(target, _COUNTER_TTL_S[kind])
        else:
            first, dumped, ttl = next(got), next(got), next(got)
            customer = ident if kind == "h" else _customer(first)
            if customer and dumped is not None:
                target = f"{tag(prefix, slot_of(customer, slots))}:{kind}:{ident}"
                write.restore(target, max(int(ttl), 0), dumped)
        write.delete(name)
        moved += 1
    results = await write.execute(raise_on_error=False)
    for r in results:
        if isinstance(r, ResponseError) and "BUSYKEY" not in str(r):
            raise r
    return moved


def _customer(stored: bytes | None) -> str:
    """The customer a stored decision names ('' for a bare dedupe mark: it cannot be placed,
    and is dropped; at worst its event is decided again if redelivered)."""
    try:
        return str(orjson.loads(stored)["customer_id"]) if stored else ""
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return ""
