"""The pipeline's state in memory: the Redis store's INGEST, RECORD and COUNTS, same semantics.

What streams/worker/scripts.py does in Lua, keyed the same way (per state slot: event ids,
customer histories and MoT bucket counters), with expiry on the store's clock, which in a simulation
is the event time: a key set at t with a TTL of s seconds is gone from t + s on, as in Redis.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from streams.worker import layout
from streams.worker.store import (
    FIRST,
    REPEAT,
    RETRY,
    Ingested,
    IngestItem,
    RecordItem,
    buckets,
)

# The bucket counters' lifetimes in seconds, as INGEST sets them (EXPIRE after each bump).
_MINUTE_TTL_S, _HOUR_TTL_S, _DAY_TTL_S = 7200, 93600, 2764800
_APPEND, _REWRITE = 1, 2  # rules.history's modes


class _Bucket:
    """One MoT bucket counter hash of a slot: "mot|line" -> count, and when it expires (ms)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.expires = 0


class _Part:
    """One state slot's keys (what the hash tag `{nba:cN}` groups in Redis)."""

    def __init__(self) -> None:
        # Values in dicts of atomic values only: the collector does not track such dicts,
        # and a million lists would make every full collection walk them.
        self.events: dict[str, bytes] = {}  # event id -> stored decision (b"": none yet)
        self.event_expiry: dict[str, int] = {}  # event id -> expires at, ms
        self.expiring: deque[tuple[int, str]] = deque()  # (expires ms, event id), in order
        self.histories: dict[str, bytes] = {}  # customer -> the stored history
        self.history_expiry: dict[str, int] = {}
        # minute, hour and day buckets: bucket number -> its counter, oldest bucket first
        self.minutes: dict[int, _Bucket] = {}
        self.hours: dict[int, _Bucket] = {}
        self.days: dict[int, _Bucket] = {}


class MemoryStore:
    """A StateStore (streams/store.py) in one process's memory.

    `clock()` is seconds since the epoch, as the pipeline's clock: the simulation passes the
    event time of the batch in hand. `when` (event_id -> epoch ms), filled by the replay for
    the call in hand, overrides that time per event: one call then holds several slices of
    the replay, each at its own time (streams/simulate/run.py). `totals` counts every MoT
    field ever ingested (the whole replay), which no Redis window keeps.
    """

    prefix = "simulate"

    def __init__(self, dedupe_ttl_s: int, clock: Callable[[], float] = time.time,
                 slots: int = 64) -> None:
        self.dedupe_ttl_ms = dedupe_ttl_s * 1000
        self.clock = clock
        self.slots = slots
        self.parts: dict[int, _Part] = {}
        self.totals: dict[str, int] = {}
        self.when: dict[str, int] = {}

    def slot(self, customer_id: str) -> int:
        return layout.slot_of(customer_id, self.slots)

    def group(self, slot: int) -> int:
        return 0  # as on a single Redis node: one call for the whole batch

    def _part(self, p: int) -> _Part:
        part = self.parts.get(p)
        if part is None:
            part = self.parts[p] = _Part()
        return part

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    @staticmethod
    def _expire(part: _Part, now: int) -> None:
        """Drop the event ids whose TTL has run out (Redis would on access or by sampling)."""
        q, events, expiry = part.expiring, part.events, part.event_expiry
        while q and q[0][0] <= now:
            _, eid = q.popleft()
            e = expiry.get(eid)
            if e is not None and e <= now:
                del events[eid], expiry[eid]

    async def ingest(
        self, groups: dict[int, list[IngestItem]], now_ms: int
    ) -> dict[int, list[Ingested]]:
        ttl = self.dedupe_ttl_ms
        when = self.when
        out: dict[int, list[Ingested]] = {}
        for p, items in groups.items():
            bumped: dict[int, dict[str, int]] = {}
            at = -1  # the time of the bumps in `bumped`
            replies: list[Ingested] = []
            for item in items:
                eid, cust, fields, slot = item[0], item[1], item[2], item[3]
                now = when.get(eid, now_ms)
                if now != at:
                    if bumped:
                        self._bump(bumped, at)
                        bumped = {}
                    at = now
                part = self._part(slot)
                self._expire(part, now)
                events, expiry, expiring = part.events, part.event_expiry, part.expiring
                e = expiry.get(eid)
                if e is None or e <= now:  # SET NX EX
                    events[eid] = b""
                    expiry[eid] = now + ttl
                    expiring.append((now + ttl, eid))
                    if fields:
                        bumps = bumped.get(slot)
                        if bumps is None:
                            bumps = bumped[slot] = {}
                        for f in fields:
                            bumps[f] = bumps.get(f, 0) + 1
                    replies.append(Ingested(FIRST, _history(part, cust, now), None))
                else:
                    stored = events[eid]
                    if stored:
                        replies.append(Ingested(REPEAT, b"", stored))
                    else:
                        replies.append(Ingested(RETRY, _history(part, cust, now), None))
            if bumped:
                self._bump(bumped, at)
            out[p] = replies
        return out

    def _bump(self, bumped: dict[int, dict[str, int]], now_ms: int) -> None:
        """Add each slot's bumps to the minute, hour and day buckets of `now_ms`."""
        minute, hour, day = buckets(now_ms)
        totals = self.totals
        for slot, bumps in bumped.items():
            part = self.parts[slot]
            for f, n in bumps.items():
                totals[f] = totals.get(f, 0) + n
            _add(part.minutes, minute, now_ms, _MINUTE_TTL_S * 1000, bumps)
            _add(part.hours, hour, now_ms, _HOUR_TTL_S * 1000, bumps)
            _add(part.days, day, now_ms, _DAY_TTL_S * 1000, bumps)

    async def record(self, groups: dict[int, list[RecordItem]], retain_ms: int,
                     index: dict[str, list[list[object]]] | None = None,
                     joins: dict[str, list[list[object]]] | None = None) -> list[object]:
        """As RECORD; `index`, `joins` and the items' watches (the responses' join, which a
        replay has no responses for) are not kept, so INGEST reaches no watched decision."""
        batch_now = self._now_ms()
        ttl = self.dedupe_ttl_ms
        when = self.when
        for items in groups.values():
            for it in items:
                now = when.get(it.event_id, batch_now)
                part = self._part(it.slot)
                events, expiry, expiring = part.events, part.event_expiry, part.expiring
                histories, kept = part.histories, part.history_expiry
                eid, cust, mode = it.event_id, it.customer_id, it.history_mode
                events[eid] = bytes(memoryview(it.decision))  # SET EX; exact size (source.py)
                expiry[eid] = now + ttl
                expiring.append((now + ttl, eid))
                if mode == _APPEND:
                    text = it.history_text.encode()
                    h = kept.get(cust)
                    histories[cust] = text if h is None or h <= now else histories[cust] + text
                    kept[cust] = now + retain_ms  # PEXPIRE
                elif mode == _REWRITE:
                    histories[cust] = it.history_text.encode()
                    kept[cust] = now + retain_ms
        return []

    async def counts(self, now_ms: int) -> dict[str, list[int]]:
        """As COUNTS over every state slot: [5m, 1h, 24h, 30d] per "mot|line"."""
        minute, hour, day = buckets(now_ms)
        totals: dict[str, list[int]] = {}

        for part in self.parts.values():
            for m in range(minute - 59, minute + 1):
                _sum(totals, part.minutes.get(m), now_ms, (0, 1) if m > minute - 5 else (1,))
            for h in range(hour - 23, hour + 1):
                _sum(totals, part.hours.get(h), now_ms, (2,))
            for d in range(day - 29, day + 1):
                _sum(totals, part.days.get(d), now_ms, (3,))
        return totals

    async def close(self) -> None:
        self.parts.clear()


def _add(held: dict[int, _Bucket], bucket: int, now: int, life_ms: int,
         bumps: dict[str, int]) -> None:
    """HINCRBY each field of one bucket, then EXPIRE it `life_ms` from `now`."""
    got = held.get(bucket)
    if got is None or got.expires <= now:
        _drop_expired(held, now)  # a new bucket: older ones may be gone
        got = held[bucket] = _Bucket()
    counts = got.counts
    for f, n in bumps.items():
        counts[f] = counts.get(f, 0) + n
    got.expires = now + life_ms


def _sum(totals: dict[str, list[int]], got: _Bucket | None, now: int,
         slots: tuple[int, ...]) -> None:
    if got is None or got.expires <= now:
        return
    for f, n in got.counts.items():
        t = totals.setdefault(f, [0, 0, 0, 0])
        for k in slots:
            t[k] += n


def _drop_expired(held: dict[int, _Bucket], now: int) -> None:
    """Drop the oldest buckets while expired: buckets are created in time order, and each
    one's expiry only moves later, so the expired ones are at the front."""
    while held:
        bucket = next(iter(held))
        if held[bucket].expires > now:
            return
        del held[bucket]


def _history(part: _Part, cust: str, now: int) -> bytes:
    h = part.history_expiry.get(cust)
    if h is None:
        return b""
    if h <= now:
        del part.histories[cust], part.history_expiry[cust]
        return b""
    return part.histories[cust]
