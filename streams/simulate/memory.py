"""The pipeline's state in memory: the Redis store's INGEST, RECORD and COUNTS, same semantics.

What streams/worker/scripts.py does in Lua, keyed the same way (per state slot: event ids,
customer histories and MoT bucket counters), with expiry on the store's clock, which in a simulation
is the event time: a key set at t with a TTL of s seconds is gone from t + s on, as in Redis.
"""

from __future__ import annotations

import time
from collections import Counter, deque
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


class _Part:
    """One state slot's keys (what the hash tag `{nba:cN}` groups in Redis)."""

    __slots__ = ("buckets", "event_expiry", "events", "expiring", "histories",
                 "history_expiry")

    def __init__(self) -> None:
        # Values in dicts of atomic values only: the collector does not track such dicts,
        # and a million lists would make every full collection walk them.
        self.events: dict[str, bytes] = {}  # event id -> stored decision (b"": none yet)
        self.event_expiry: dict[str, int] = {}  # event id -> expires at, ms
        self.expiring: deque[tuple[int, str]] = deque()  # (expires ms, event id), in order
        self.histories: dict[str, bytes] = {}  # customer -> the stored history
        self.history_expiry: dict[str, int] = {}
        # "m"|"h"|"d" -> bucket -> [Counter of "mot|line", expires ms], oldest bucket first
        self.buckets: dict[str, dict[int, list[object]]] = {"m": {}, "h": {}, "d": {}}


class MemoryStore:
    """A StateStore (streams/store.py) in one process's memory.

    `clock()` is seconds since the epoch, as the pipeline's clock: the simulation passes the
    event time of the batch in hand. `totals` counts every MoT field ever ingested (the whole
    replay), which no Redis window keeps.
    """

    prefix = "simulate"

    def __init__(self, dedupe_ttl_s: int, clock: Callable[[], float] = time.time,
                 slots: int = 64) -> None:
        self.dedupe_ttl_ms = dedupe_ttl_s * 1000
        self.clock = clock
        self.slots = slots
        self.parts: dict[int, _Part] = {}
        self.totals: Counter[str] = Counter()

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
        minute, hour, day = buckets(now_ms)
        ttl = self.dedupe_ttl_ms
        out: dict[int, list[Ingested]] = {}
        for p, items in groups.items():
            bumped: dict[int, Counter[str]] = {}
            replies: list[Ingested] = []
            for eid, cust, fields, slot in items:
                part = self._part(slot)
                self._expire(part, now_ms)
                events, expiry, expiring = part.events, part.event_expiry, part.expiring
                e = expiry.get(eid)
                if e is None or e <= now_ms:  # SET NX EX
                    events[eid] = b""
                    expiry[eid] = now_ms + ttl
                    expiring.append((now_ms + ttl, eid))
                    if fields:
                        bumps = bumped.get(slot)
                        if bumps is None:
                            bumps = bumped[slot] = Counter()
                        for f in fields:
                            bumps[f] += 1
                    replies.append(Ingested(FIRST, _history(part, cust, now_ms), None))
                else:
                    stored = events[eid]
                    if stored:
                        replies.append(Ingested(REPEAT, b"", stored))
                    else:
                        replies.append(Ingested(RETRY, _history(part, cust, now_ms), None))
            for slot, bumps in bumped.items():
                part = self.parts[slot]
                self.totals.update(bumps)
                for kind, bucket, life in (("m", minute, _MINUTE_TTL_S), ("h", hour, _HOUR_TTL_S),
                                           ("d", day, _DAY_TTL_S)):
                    held = part.buckets[kind]
                    got = held.get(bucket)
                    if got is None or got[1] <= now_ms:  # type: ignore[operator]
                        _drop_expired(held, now_ms)  # a new bucket: older ones may be gone
                        got = held[bucket] = [Counter(), 0]
                    got[0].update(bumps)  # type: ignore[attr-defined]
                    got[1] = now_ms + life * 1000
            out[p] = replies
        return out

    async def record(self, groups: dict[int, list[RecordItem]], retain_ms: int,
                     index: dict[str, list[list[str]]] | None = None) -> None:
        """As RECORD; `index` (the responses' join, which a replay has no responses for) is
        not kept."""
        now = self._now_ms()
        ttl = self.dedupe_ttl_ms
        for items in groups.values():
            for it in items:
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

    async def counts(self, now_ms: int) -> dict[str, list[int]]:
        """As COUNTS over every state slot: [5m, 1h, 24h, 30d] per "mot|line"."""
        minute, hour, day = buckets(now_ms)
        totals: dict[str, list[int]] = {}

        def add(part: _Part, key: tuple[str, int], slots: tuple[int, ...]) -> None:
            got = part.buckets[key[0]].get(key[1])
            if got is None or got[1] <= now_ms:  # type: ignore[operator]
                return
            for f, n in got[0].items():  # type: ignore[attr-defined]
                t = totals.setdefault(f, [0, 0, 0, 0])
                for k in slots:
                    t[k] += n

        for part in self.parts.values():
            for m in range(minute - 59, minute + 1):
                add(part, ("m", m), (0, 1) if m > minute - 5 else (1,))
            for h in range(hour - 23, hour + 1):
                add(part, ("h", h), (2,))
            for d in range(day - 29, day + 1):
                add(part, ("d", d), (3,))
        return totals

    async def close(self) -> None:
        self.parts.clear()


def _drop_expired(held: dict[int, list[object]], now: int) -> None:
    """Drop the oldest buckets while expired: buckets are created in time order, and each
    one's expiry only moves later, so the expired ones are at the front."""
    while held:
        bucket = next(iter(held))
        if held[bucket][1] > now:  # type: ignore[operator]
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
