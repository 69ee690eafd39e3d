"""The Redis side of the pipeline: dedupe, MoT counters and contact history, batched per poll."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import orjson
import redis.asyncio as aioredis
from redis.exceptions import BusyLoadingError, NoScriptError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from streams import scripts

log = logging.getLogger(__name__)
T = TypeVar("T")
_Call = tuple[str, str, list[EncodableT]]  # script name, hash tag, ARGV

# Redis being away or busy is weather: wait and try again, never drop the batch.
TRANSIENT = (
    NoScriptError, RedisConnectionError, RedisTimeoutError, BusyLoadingError, TryAgainError, OSError
)

FIRST, REPEAT, RETRY = 1, 2, 3  # INGEST's reply kinds


# (event_id, customer_id, ["mot|product_line" counters to bump]), a plain tuple because the
# batch goes to INGEST as one JSON array.
IngestItem = tuple[str, str, list[str]]


# Plain classes (built in C once compiled), not NamedTuples: one of each per event.
class Ingested:
    def __init__(self, kind: int, history: bytes, stored: bytes | None) -> None:
        self.kind = kind  # FIRST, REPEAT or RETRY
        self.history = history  # the stored contact history (rules.history's form)
        self.stored = stored  # the stored decision, for REPEAT


class RecordItem:
    def __init__(self, event_id: str, decision: bytes, customer_id: str, history_mode: int,
                 history_text: str) -> None:
        self.event_id = event_id
        self.decision = decision
        self.customer_id = customer_id
        self.history_mode = history_mode  # rules.history's KEEP, APPEND or REWRITE
        self.history_text = history_text  # what to append, or the whole history to store


def buckets(now_ms: int) -> tuple[int, int, int]:
    minute = now_ms // 60_000
    return minute, minute // 60, minute // 1440


def field(mot: str, product_line: str) -> str:
    return f"{mot}|{product_line}"


class StateStore(Protocol):
    """What the pipeline keeps between events: the Redis Store (the worker) or the memory
    one (streams/simulate/memory.py, the simulation), with the same semantics.

    `ingest`: per partition, in order, each event's (event_id, customer_id, counter fields)
    -> an Ingested each: FIRST (event_id new: its fields counted in the minute, hour and day
    buckets of `now_ms`, epoch ms), REPEAT (seen and its decision stored: that decision) or
    RETRY (seen, no decision stored yet: counted nothing). `record`: stores each decision
    under its event_id for the dedupe TTL and writes the customer's contact history (KEEP,
    APPEND or REWRITE), kept `retain_ms` after its last write. `counts`: per "mot|line" the
    counts over 5m, 1h, 24h and 30d ending at `now_ms`.
    """

    async def ingest(
        self, groups: dict[int, list[IngestItem]], now_ms: int
    ) -> dict[int, list[Ingested]]: ...

    async def record(self, groups: dict[int, list[RecordItem]], retain_ms: int) -> None: ...

    async def counts(self, partitions: int, now_ms: int) -> dict[str, list[int]]: ...

    async def close(self) -> None: ...


class Store:
    """The worker's StateStore: Redis, each step one pipelined round trip of Lua scripts."""

    def __init__(self, url: str, prefix: str, dedupe_ttl_s: int) -> None:
        self.redis = aioredis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.prefix = prefix
        self.dedupe_ttl_s = dedupe_ttl_s
        self._sha: dict[str, str] = {}

    async def _load(self) -> None:
        # Loaded once; a pipeline of EVALSHA then needs no SCRIPT EXISTS round trip per batch.
        for name in ("INGEST", "RECORD", "COUNTS"):
            self._sha[name] = await self.redis.script_load(getattr(scripts, name))

    async def _run(self, calls: list[_Call], what: str) -> list:
        """Run (script, tag, args) calls as one pipelined round trip, with retries."""

        async def once() -> list:
            if not self._sha:
                await self._load()
            pipe = self.redis.pipeline(transaction=False)
            for name, tag, args in calls:
                pipe.evalsha(self._sha[name], 1, tag, *args)
            try:
                return await pipe.execute()
            except NoScriptError:
                self._sha.clear()  # Redis restarted or flushed its scripts: load again
                raise

        return await retry(once, what)

    def tag(self, partition: int) -> str:
        return f"{{{self.prefix}:p{partition}}}"

    async def close(self) -> None:
        await self.redis.aclose()

    async def ingest(
        self, groups: dict[int, list[IngestItem]], now_ms: int
    ) -> dict[int, list[Ingested]]:
        """Dedupe, count and read history for every partition's events in one round trip."""
        minute, hour, day = buckets(now_ms)
        parts = list(groups)

        calls: list[_Call] = [
            ("INGEST", self.tag(p),
             [minute, hour, day, self.dedupe_ttl_s, orjson.dumps(groups[p])])
            for p in parts
        ]
        replies = await self._run(calls, "ingest")
        out: dict[int, list[Ingested]] = {}
        for p, reply in zip(parts, replies, strict=True):
            out[p] = [
                Ingested(REPEAT, b"", r[1]) if r[0] == REPEAT else Ingested(r[0], r[1], None)
                for r in reply
            ]
        return out

    async def record(self, groups: dict[int, list[RecordItem]], retain_ms: int) -> None:
        """Store decisions and write contact history for every partition in one round trip."""
        parts = [p for p in groups if groups[p]]
        if not parts:
            return

        calls: list[_Call] = []
        for p in parts:
            items = groups[p]
            meta = orjson.dumps([(it.event_id, it.customer_id, it.history_mode, it.history_text)
                                 for it in items])
            calls.append(("RECORD", self.tag(p), [self.dedupe_ttl_s, retain_ms, meta,
                                                  *(it.decision for it in items)]))
        await self._run(calls, "record")

    async def counts(self, partitions: int, now_ms: int) -> dict[str, list[int]]:
        """Cluster-wide rolling counts per "mot|product_line": [5m, 1h, 24h, 30d]."""
        minute, hour, day = buckets(now_ms)

        calls: list[_Call] = [
            ("COUNTS", self.tag(p), [minute, hour, day]) for p in range(partitions)
        ]
        totals: dict[str, list[int]] = {}
        for flat in await self._run(calls, "counts"):
            for i in range(0, len(flat), 5):
                key = flat[i].decode() if isinstance(flat[i], bytes) else str(flat[i])
                t = totals.setdefault(key, [0, 0, 0, 0])
                for k in range(4):
                    t[k] += int(flat[i + 1 + k])  # type: ignore[call-overload]
        return totals


async def retry(fn: Callable[[], Awaitable[T]], what: str, max_delay: float = 5.0) -> T:
    delay = 0.1
    while True:
        try:
            return await fn()
        except TRANSIENT as exc:
            log.warning("redis %s failed (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)
