"""The Redis side of the pipeline: dedupe, MoT counters and contact history, batched per poll.

State is keyed by the customer's state slot (streams.worker.layout). On a single node a
batch's events go to Redis in one call per script; on a Redis Cluster, in one call per state
slot of the batch (`group`), all pipelined in one round trip (redis-py routes each call to
the shard of its tag, and follows MOVED and ASK).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, cast

import orjson
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    BusyLoadingError,
    ClusterError,
    NoScriptError,
    OutOfMemoryError,
    RedisClusterException,
    RedisError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from rules import Decision, History
from streams import redis_client
from streams.settings import Settings
from streams.worker import layout, scripts

log = logging.getLogger(__name__)
_Call = tuple[str, str, list[EncodableT]]  # script name, hash tag, ARGV

# Redis being away or busy is weather: wait and try again, never drop the batch. OSError too:
# a socket error redis-py has not wrapped (its annotation asks for RedisError types only).
# On a Redis Cluster, a failover is weather too: the shard is down (CLUSTERDOWN, MASTERDOWN,
# a slot without a master for a moment) until a replica takes over. A Redis at its maxmemory
# with noeviction (OOM) refuses a script at its first write, before it changed anything: weather
# until memory is freed.
TRANSIENT = (
    NoScriptError, RedisConnectionError, RedisTimeoutError, BusyLoadingError, TryAgainError,
    ClusterError, RedisClusterException, OutOfMemoryError, OSError,
)

# INGEST's reply kinds
FIRST: Final = 1
REPEAT: Final = 2
RETRY: Final = 3
COUNTS_SLOTS = 4  # state slots per COUNTS call on a single Redis (see Store.counts)


# (event_id, customer_id, ["mot|product_line" counters to bump], state slot), a plain tuple
# because the batch goes to INGEST as one JSON array; an event that may be a positive outcome
# adds ([[mot, within_ms], ...], its decision time in ms) (scripts.INGEST).
IngestItem = tuple[str, str, list[str], int] | tuple[str, str, list[str], int, list[list[object]],
                                                       int]


# Plain classes (built in C once compiled), not NamedTuples: one of each per event.
class Ingested:
    def __init__(self, kind: int, history: bytes, stored: bytes | None,
                 reached: list[bytes] | None = None, read: History | None = None,
                 lines: int = 0) -> None:
        self.kind = kind  # FIRST, REPEAT or RETRY
        self.history = history  # the stored contact history (rules.history's form)
        self.stored = stored  # the stored decision, for REPEAT
        self.reached = reached  # summaries of the watched decisions this event converts
        # A store that keeps each history read (the memory store) gives it, with the stored
        # line count: decode_stored(history, the catalogue's history_max_entries) and
        # history.count(b"\n"). None: the pipeline decodes `history` itself (Redis).
        self.read = read
        self.lines = lines


class RecordItem:
    def __init__(self, event_id: str, decision: bytes, customer_id: str, history_mode: int,
                 history_text: str, slot: int, watch: list[object] | None = None,
                 made: Decision | None = None, read: History | None = None,
                 text_lines: int = -1) -> None:
        self.watch = watch  # [mot, summary, decided_ms, window_ms]: see scripts.RECORD
        # What the customer's history reads as after this write, for a store that keeps it
        # read (StateStore.keeps_reads): the pipeline's own, so the store parses nothing.
        self.read = read
        # The decision itself, with `decision` b"", for a store that renders its JSON only
        # when a repeat asks for it (StateStore.renders_later).
        self.made = made
        self.slot = slot  # the customer's state slot
        self.event_id = event_id
        self.decision = decision
        self.customer_id = customer_id
        self.history_mode = history_mode  # rules.history's KEEP, APPEND or REWRITE
        self.history_text = history_text  # what to append, or the whole history to store
        self.text_lines = text_lines  # the lines in history_text; -1: not counted


def buckets(now_ms: int) -> tuple[int, int, int]:
    minute = now_ms // 60_000
    return minute, minute // 60, minute // 1440


_FIELDS: Final[dict[str, dict[str, str]]] = {}  # line -> MoT -> field


def field(mot: str, product_line: str) -> str:
    """A MoT counter's field in the bucket hashes: "mot|line"; the same string each time, so
    the counters' dicts (streams/simulate/memory.py) compare it by identity and hash it once."""
    by_line = _FIELDS.get(product_line)
    if by_line is None:
        by_line = {}
        if len(_FIELDS) < 64:  # product lines are the vocabulary's few
            _FIELDS[product_line] = by_line
    got = by_line.get(mot)
    if got is None:
        got = f"{mot}|{product_line}"
        if len(by_line) < 4096:  # MoT ids are the catalogue's
            by_line[mot] = got
    return got



class StateStore(Protocol):
    """What the pipeline keeps between events: the Redis Store (the worker) or the memory
    one (streams/simulate/memory.py, the simulation), with the same semantics.

    `slot(customer_id)`: the customer's state slot; `group(slot)`: the call it goes in.
    `ingest`: per group, in order, each event's (event_id, customer_id, counter fields, slot)
    -> an Ingested each: FIRST (event_id new: its fields counted in the minute, hour and day
    buckets of `now_ms`, epoch ms), REPEAT (seen and its decision stored: that decision) or
    RETRY (seen, no decision stored yet: counted nothing). `record`: stores each decision
    under its event_id for the dedupe TTL and writes the customer's contact history (KEEP,
    APPEND or REWRITE), kept `retain_ms` after its last write, and the watches of decisions
    whose MoT has positive outcomes (INGEST returns the ones an outcome event reaches, as
    `Ingested.reached`); `index` and `joins` (responses' join) ride along. `counts`: per
    "mot|line" the counts over 5m, 1h, 24h and 30d ending at
    `now_ms`, over every slot.
    """

    prefix: str
    keeps_join: bool  # whether `record` keeps `index` (the responses' join): else none is built
    # Whether `record` may be given the decision itself instead of its JSON (RecordItem.made),
    # and renders the JSON only for a repeat: the same bytes, made when needed.
    renders_later: bool
    # Whether `ingest` hands each history already read (Ingested.read) and `record` takes it
    # after the write (RecordItem.read) instead of parsing the text written.
    keeps_reads: bool

    def slot(self, customer_id: str) -> int: ...

    def group(self, slot: int) -> int: ...

    async def ingest(
        self, groups: dict[int, list[IngestItem]], now_ms: int
    ) -> dict[int, list[Ingested]]: ...

    async def record(self, groups: dict[int, list[RecordItem]], retain_ms: int,
                     index: dict[str, list[bytes]] | None = None,
                     joins: dict[str, list[list[object]]] | None = None) -> list[object]: ...

    async def counts(self, now_ms: int) -> dict[str, list[int]]: ...

    async def close(self) -> None: ...


class Store:
    """The worker's StateStore: Redis, each step one pipelined round trip of Lua scripts."""

    def __init__(self, settings: Settings) -> None:
        self.redis = redis_client.client(settings)
        self.cluster = settings.redis_cluster
        self.prefix = settings.redis_prefix
        self.keeps_join = True
        self.renders_later = False  # Redis stores the bytes
        self.keeps_reads = False  # Redis stores the text: the pipeline parses what it reads
        self.start = layout.tag_prefix(settings.redis_prefix)
        self.wanted_slots = settings.state_slots
        self.slots = settings.state_slots  # as recorded in Redis, once `open` has run
        self._slot_of: dict[str, int] = {}  # customer -> slot, memoized (layout.SLOT_MEMO)
        self.dedupe_ttl_s = settings.dedupe_ttl_s
        # Script name -> its SHA1 (fixed by the script's text); `_loaded` is whether Redis (every
        # master of a cluster) holds them: a restart, a failover or SCRIPT FLUSH makes it False.
        # The dict is only ever replaced whole: concurrent lanes read it while one reloads.
        self._sha: dict[str, str] = {}
        self._loaded = False
        # Never gives up (retries=-1): the batch stays uncommitted until Redis is back.
        self._retry = Retry(ExponentialBackoff(cap=5.0, base=0.1), retries=-1,
                            supported_errors=cast(tuple[type[RedisError], ...], TRANSIENT))

    async def open(self) -> None:
        """Read (or record) the state layout, moving an earlier version's state into it."""
        self.slots = await self._retry.call_with_retry(
            lambda: redis_client.guarded(
                layout.settle(self.redis, self.prefix, self.wanted_slots, self.cluster)),
            self._failed("layout"))
        self._slot_of = {}

    def slot(self, customer_id: str) -> int:
        # A dict lookup instead of encoding and hashing the id at every event.
        memo = self._slot_of
        got = memo.get(customer_id)
        if got is None:
            if len(memo) >= layout.SLOT_MEMO:
                memo.clear()
            got = memo[customer_id] = layout.slot_of(customer_id, self.slots)
        return got

    def group(self, slot: int) -> int:
        """The call a slot's events go in: all in one on a single node, one per slot on a
        Redis Cluster (every key of a call must be in one hash slot there)."""
        return slot if self.cluster else 0

    def _failed(self, what: str) -> Callable[[Exception], Awaitable[None]]:
        async def failed(exc: Exception) -> None:
            if isinstance(exc, NoScriptError):
                self._loaded = False  # a restart, a failover or SCRIPT FLUSH: load them again
            log.warning("redis %s failed (%s); retrying", what, exc)

        return failed

    async def _load(self) -> None:
        # Loaded once; a pipeline of EVALSHA then needs no SCRIPT EXISTS round trip per batch.
        sha: dict[str, str] = {}
        for name in ("INGEST", "RECORD", "COUNTS", "INDEX", "JOIN"):
            sha[name] = await self.redis.script_load(getattr(scripts, name))
        self._sha, self._loaded = sha, True

    async def _run(self, calls: list[_Call], what: str) -> list:
        """Run (script, tag, args) calls as one pipelined round trip, retried until Redis
        answers (never dropped: the batch stays uncommitted meanwhile)."""
        if self.cluster:
            return await self._run_cluster(calls, what)

        async def once() -> list:
            if not self._loaded:
                await redis_client.guarded(self._load())
            pipe = self.redis.pipeline(transaction=False)
            for name, tag, args in calls:
                pipe.evalsha(self._sha[name], 1, tag, *args)
            return await redis_client.guarded(pipe.execute())

        return await self._retry.call_with_retry(once, self._failed(what))

    async def _run_cluster(self, calls: list[_Call], what: str) -> list:
        """On a Redis Cluster: redis-py's cluster pipeline refuses EVALSHA, so the calls go
        concurrently, each to its tag's shard (redis-py follows MOVED and ASK, and finds the
        new master after a failover). Only the calls that failed are retried: a RECORD that
        went through must not append its history twice."""
        results: list[object] = [None] * len(calls)
        todo = list(range(len(calls)))
        backoff = ExponentialBackoff(cap=5.0, base=0.1)
        failures = 0
        while True:
            if not self._loaded:
                try:
                    await redis_client.guarded(self._load())
                except TRANSIENT as exc:
                    failures += 1
                    await self._failed(what)(exc)
                    await asyncio.sleep(backoff.compute(failures))
                    continue
            outs = await asyncio.gather(
                *(self.redis.evalsha(self._sha[calls[i][0]], 1, calls[i][1], *calls[i][2])
                  for i in todo),
                return_exceptions=True)
            failed: list[int] = []
            last: Exception | None = None
            for i, out in zip(todo, outs, strict=True):
                if isinstance(out, TRANSIENT) or (isinstance(out, Exception)
                                                  and redis_client.torn_connection(out)):
                    failed.append(i)
                    last = out
                elif isinstance(out, BaseException):
                    raise out
                else:
                    results[i] = out
            if last is None:
                return results
            failures += 1
            await self._failed(what)(last)
            todo = failed
            await asyncio.sleep(backoff.compute(failures))

    def tag(self, slot: int) -> str:
        return layout.tag(self.prefix, slot)

    async def close(self) -> None:
        await self.redis.aclose()

    async def ingest(
        self, groups: dict[int, list[IngestItem]], now_ms: int
    ) -> dict[int, list[Ingested]]:
        """Dedupe, count and read history for every group's events in one round trip."""
        minute, hour, day = buckets(now_ms)
        parts = list(groups)

        calls: list[_Call] = [
            ("INGEST", self.tag(groups[p][0][3]),
             [minute, hour, day, self.dedupe_ttl_s, orjson.dumps(groups[p]), self.start])
            for p in parts
        ]
        replies = await self._run(calls, "ingest")
        out: dict[int, list[Ingested]] = {}
        for p, reply in zip(parts, replies, strict=True):
            out[p] = [
                Ingested(REPEAT, b"", r[1]) if r[0] == REPEAT else Ingested(
                    r[0], r[1], None, r[2] or None)
                for r in reply
            ]
        return out

    async def record(self, groups: dict[int, list[RecordItem]], retain_ms: int,
                     index: dict[str, list[bytes]] | None = None,
                     joins: dict[str, list[list[object]]] | None = None) -> list[object]:
        """Store decisions and write contact history for every group in one round trip;
        `index` (join tag -> INDEX summaries, streams.worker.responses) and `joins` (join tag ->
        JOIN entries: conversions seen as events) ride along. Returns the JOIN replies, one
        list per `joins` tag in its order."""
        parts = [p for p in groups if groups[p]]
        calls: list[_Call] = [("JOIN", tag, [self.dedupe_ttl_s, orjson.dumps(entries)])
                              for tag, entries in (joins or {}).items()]
        njoins = len(calls)
        calls += [("INDEX", tag, [self.dedupe_ttl_s, *summaries])
                  for tag, summaries in (index or {}).items()]
        if not parts and not calls:
            return []

        for p in parts:
            items = groups[p]
            meta = orjson.dumps([
                (it.event_id, it.customer_id, it.history_mode, it.history_text, it.slot)
                if it.watch is None else
                (it.event_id, it.customer_id, it.history_mode, it.history_text, it.slot, it.watch)
                for it in items])
            calls.append(("RECORD", self.tag(items[0].slot),
                          [self.dedupe_ttl_s, retain_ms, self.start, meta,
                           *(it.decision for it in items)]))
        return (await self._run(calls, "record"))[:njoins]

    async def counts(self, now_ms: int) -> dict[str, list[int]]:
        """Rolling counts per "mot|product_line" over every state slot (all workers' events,
        whatever partition they came from): [5m, 1h, 24h, 30d].

        On a single Redis, COUNTS_SLOTS slots per call, one call at a time: a slot is 114
        HGETALLs in Lua, and Redis runs a script (and a client's whole pipeline) serving no
        one else meanwhile. All 64 slots in one call held every lane's INGEST and RECORD
        for 37-61 ms (2-core machine under load; 4 slots: 1.7-2.9 ms), once per metrics
        interval per worker. On a Redis Cluster each slot is a call of its own already.
        """
        minute, hour, day = buckets(now_ms)
        flats: list = []
        if self.cluster:
            flats = await self._run([("COUNTS", self.tag(s), [minute, hour, day, self.start, s])
                                     for s in range(self.slots)], "counts")
        else:
            for at in range(0, self.slots, COUNTS_SLOTS):
                slots = range(at, min(self.slots, at + COUNTS_SLOTS))
                flats += await self._run([("COUNTS", self.tag(0),
                                           [minute, hour, day, self.start, *slots])], "counts")
        totals: dict[str, list[int]] = {}
        for flat in flats:
            for i in range(0, len(flat), 5):
                key = flat[i].decode() if isinstance(flat[i], bytes) else str(flat[i])
                t = totals.setdefault(key, [0, 0, 0, 0])
                for k in range(4):
                    t[k] += int(flat[i + 1 + k])  # type: ignore[call-overload]
        return totals
