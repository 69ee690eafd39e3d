"""The pipeline's state in memory: the Redis store's INGEST, RECORD and COUNTS, same semantics.

What streams/worker/scripts.py does in Lua, keyed the same way (per state slot: event ids and
customer histories), with expiry on the store's clock, which in a simulation is the event
time: a key set at t with a TTL of s seconds is gone from t + s on, as in Redis. The MoT bucket
counters are kept once for all slots: COUNTS only ever answers their sum over every slot, and
a bucket within COUNTS' windows (the last 60 minutes, 24 hours, 30 days) never expires before
its window has passed (2 h, 26 h and 32 days of life after its last bump), so the sum is the
same.

Native structures throughout (dicts of bytes, ints and decisions, one small object per
customer): no JSON but a repeat's stored decision, rendered when asked for; no copies of a
customer's history but the one appended to it, and each customer's history kept as read
(the pipeline's own read after its write, RecordItem.read), so nothing parses a month of
entries again at every event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, cast

from rules.decision import Decision
from rules.history import History, append_stored, decode_stored
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
_MINUTE_TTL_S: Final = 7200
_HOUR_TTL_S: Final = 93600
_DAY_TTL_S: Final = 2764800
_APPEND: Final = 1  # rules.history's modes
_REWRITE: Final = 2
_EMPTY: Final = History((), (), ())


class _Bucket:
    """One MoT bucket counter hash: "mot|line" -> count, and when it expires (ms)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.expires = 0


class _History:
    """A customer's stored history: the string, when it expires (ms), and how it reads."""

    def __init__(self, text: bytes, expires: int, read: History, lines: int) -> None:
        self.text = text
        self.expires = expires
        self.read = read  # decode_stored(text, the store's history_cap)
        self.lines = lines  # text.count(b"\n")


class _Seen:
    """An event id's key: its stored decision (b"": none yet; as JSON, or the decision itself,
    rendered when a repeat asks for it: RecordItem.made) and when it expires (ms)."""

    def __init__(self, eid: str, expires: int) -> None:
        self.eid = eid
        self.stored: bytes | Decision = b""
        self.expires = expires


class _Part:
    """One state slot's keys (what the hash tag `{nba:cN}` groups in Redis)."""

    def __init__(self) -> None:
        # One object per event id, in one dict and in one queue by expiry (oldest first): no
        # per-event tuples or lists, which every full collection would walk (a replay turns
        # the collector off; tests and other callers do not).
        self.events: dict[str, _Seen] = {}
        # A list read from `head` on (a deque's methods are called by name from compiled
        # code); the expired front is cut off once it is half the list.
        self.expiring: list[_Seen] = []
        self.head = 0
        self.histories: dict[str, _History] = {}  # customer -> the stored history


class MemoryStore:
    """A StateStore (streams/worker/store.py) in one process's memory.

    `clock()` is seconds since the epoch, as the pipeline's clock: the simulation passes the
    event time of the batch in hand. `when` (event_id -> epoch ms), filled by the replay for
    the call in hand, overrides that time per event: one call then holds several slices of
    the replay, each at its own time (streams/simulate/run.py). `totals` counts every MoT
    field ever ingested (the whole replay), which no Redis window keeps. `history_cap`: the
    catalogue's history_max_entries, to hand the pipeline each history already read (None:
    the pipeline decodes the bytes, as from Redis).

    `repeated`: the event ids that may come more than once (None: any may). A replay reads
    its whole input first, so it knows them (streams/simulate/run.py): an id outside the set
    comes once, so INGEST can only find it new and no repeat ever reads its stored decision.
    Such an id gets no key at all, which is what a repeat would have read, and nothing else
    reads: the same replies, without holding a day of decisions to free a day later, out of
    the cache (freeing the expired keys alone was 8 % of a replay's time, by perf).
    """

    prefix = "simulate"
    keeps_join = False  # a replay has no responses to join: the pipeline builds no index
    renders_later = True  # a decision's JSON is made for a repeat only (RecordItem.made)

    def __init__(self, dedupe_ttl_s: int, clock: Callable[[], float] = time.time,
                 slots: int = 64, history_cap: int | None = None,
                 repeated: frozenset[str] | None = None) -> None:
        self.dedupe_ttl_ms = dedupe_ttl_s * 1000
        self.repeated = repeated
        self.clock = clock
        self.slots = slots
        self._slot_of: dict[str, int] = {}  # customer -> slot, memoized (layout.SLOT_MEMO)
        self.history_cap = history_cap
        self.keeps_reads = history_cap is not None  # histories kept read (Ingested.read)
        self.parts: dict[int, _Part] = {}
        self._totals: dict[str, int] = {}
        self.when: dict[str, int] = {}
        # minute, hour and day buckets of every slot: bucket number -> counter, oldest first
        self.minutes: dict[int, _Bucket] = {}
        self.hours: dict[int, _Bucket] = {}
        self.days: dict[int, _Bucket] = {}
        # The current hour's bumps, not yet in the hour and day buckets nor the totals: added
        # there once per hour (`_fold`) instead of at every bump, as if at the time of the
        # hour's last bump, which is when their expiry is set from anyway.
        self._pending: dict[str, int] = {}
        self._pending_hour = -1
        self._pending_at = -1  # the time of the last bump in `_pending`, ms

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
        return 0  # as on a single Redis node: one call for the whole batch

    def _part(self, p: int) -> _Part:
        part = self.parts.get(p)
        if part is None:
            part = self.parts[p] = _Part()
        return part

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def ingest(
        self, groups: dict[int, list[IngestItem]], now_ms: int
    ) -> dict[int, list[Ingested]]:
        ttl = self.dedupe_ttl_ms
        when = self.when
        read = self.history_cap is not None
        repeated = self.repeated
        out: dict[int, list[Ingested]] = {}
        for p, items in groups.items():
            bumps: dict[str, int] = {}
            at = -1  # the time of the bumps in `bumps`
            replies: list[Ingested] = []
            for item in items:
                # As a plain tuple: indexing the union of IngestItem's two shapes is a
                # generic __getitem__ per field once compiled.
                t = cast("tuple[object, ...]", item)
                eid, cust = cast(str, t[0]), cast(str, t[1])
                fields, slot = cast("list[str]", t[2]), cast(int, t[3])
                now = when.get(eid, now_ms)
                if now != at:
                    if bumps:
                        self._bump(bumps, at)
                        bumps = {}
                    at = now
                part = self._part(slot)
                if part.head < len(part.expiring) and part.expiring[part.head].expires <= now:
                    _expire(part, now)
                if repeated is not None and eid not in repeated:  # comes once: new, unkept
                    for f in fields:
                        bumps[f] = bumps.get(f, 0) + 1
                    replies.append(_history(part, cust, now, read, FIRST))
                    continue
                seen = part.events.get(eid)
                if seen is None or seen.expires <= now:  # SET NX EX
                    seen = part.events[eid] = _Seen(eid, now + ttl)
                    part.expiring.append(seen)
                    for f in fields:
                        bumps[f] = bumps.get(f, 0) + 1
                    replies.append(_history(part, cust, now, read, FIRST))
                else:
                    stored = seen.stored
                    if isinstance(stored, Decision):
                        replies.append(Ingested(REPEAT, b"", stored.to_json()))
                    elif stored:
                        replies.append(Ingested(REPEAT, b"", stored))
                    else:
                        replies.append(_history(part, cust, now, read, RETRY))
            if bumps:
                self._bump(bumps, at)
            out[p] = replies
        return out

    def _bump(self, bumps: dict[str, int], now_ms: int) -> None:
        """Add the bumps to the minute bucket of `now_ms`, and to the hour's pending bumps."""
        minute, hour, _ = buckets(now_ms)
        if hour != self._pending_hour:
            self._fold()
            self._pending_hour = hour
        self._pending_at = now_ms
        _add(self.minutes, minute, now_ms, _MINUTE_TTL_S * 1000, bumps)
        pending = self._pending
        for f, n in bumps.items():
            pending[f] = pending.get(f, 0) + n

    def _fold(self) -> None:
        """The pending bumps into their hour and day buckets and the totals, as bumped at the
        time of the last of them (bumps come in time order: a replay's slices)."""
        pending = self._pending
        if not pending:
            return
        at = self._pending_at
        _, hour, day = buckets(at)
        totals = self._totals
        for f, n in pending.items():
            totals[f] = totals.get(f, 0) + n
        _add(self.hours, hour, at, _HOUR_TTL_S * 1000, pending)
        _add(self.days, day, at, _DAY_TTL_S * 1000, pending)
        self._pending = {}

    @property
    def totals(self) -> dict[str, int]:
        """Every MoT field ever ingested, counted: "mot|line" -> events."""
        self._fold()
        return self._totals

    async def record(self, groups: dict[int, list[RecordItem]], retain_ms: int,
                     index: dict[str, list[bytes]] | None = None,
                     joins: dict[str, list[list[object]]] | None = None) -> list[object]:
        """As RECORD; `index`, `joins` and the items' watches (the responses' join, which a
        replay has no responses for) are not kept, so INGEST reaches no watched decision."""
        batch_now = self._now_ms()
        ttl = self.dedupe_ttl_ms
        when = self.when
        cap = self.history_cap
        repeated = self.repeated
        for items in groups.values():
            for it in items:
                eid = it.event_id
                now = when.get(eid, batch_now)
                part = self._part(it.slot)
                if repeated is None or eid in repeated:  # else comes once: no key (INGEST)
                    made = it.made
                    seen = part.events.get(eid)
                    if seen is None or seen.expires <= now:  # gone since INGEST: SET EX anew
                        seen = part.events[eid] = _Seen(eid, now + ttl)
                        part.expiring.append(seen)
                    else:
                        # In a replay the same time as its INGEST; a later one keeps the key's
                        # place in the queue, which then holds the keys behind it longer.
                        seen.expires = now + ttl
                    # SET EX; bytes copied to their exact size (source.py)
                    seen.stored = made if made is not None else bytes(memoryview(it.decision))
                mode = it.history_mode
                if mode != _APPEND and mode != _REWRITE:
                    continue
                cust = it.customer_id
                text = it.history_text.encode()
                added = it.text_lines if it.text_lines >= 0 else text.count(b"\n")
                h = part.histories.get(cust)
                read = it.read  # the pipeline's read of it after this write, if given
                if mode == _APPEND and h is not None and h.expires > now:
                    h.text += text
                    h.lines += added
                    if cap is not None:
                        h.read = read if read is not None else append_stored(h.read, text, cap)
                    h.expires = now + retain_ms  # PEXPIRE
                else:
                    # A new string: the pipeline's read is it only when the text is the whole
                    # history (REWRITE); an APPEND to a history gone since INGEST is the text
                    # alone, parsed here (a customer's first write: an entry or two).
                    if read is None or mode == _APPEND:
                        read = _EMPTY if cap is None else decode_stored(text, cap)
                    part.histories[cust] = _History(text, now + retain_ms, read, added)
        return []

    async def counts(self, now_ms: int) -> dict[str, list[int]]:
        """As COUNTS over every state slot: [5m, 1h, 24h, 30d] per "mot|line"."""
        self._fold()
        minute, hour, day = buckets(now_ms)
        totals: dict[str, list[int]] = {}
        for m in range(minute - 59, minute + 1):
            _sum(totals, self.minutes.get(m), now_ms, (0, 1) if m > minute - 5 else (1,))
        for h in range(hour - 23, hour + 1):
            _sum(totals, self.hours.get(h), now_ms, (2,))
        for d in range(day - 29, day + 1):
            _sum(totals, self.days.get(d), now_ms, (3,))
        return totals

    async def close(self) -> None:
        self.parts.clear()


def _expire(part: _Part, now: int) -> None:
    """Drop the event ids whose TTL has run out (Redis would on access or by sampling); one
    set anew since (a new object in the dict) stays."""
    q, events, i = part.expiring, part.events, part.head
    n = len(q)
    while i < n:
        seen = q[i]
        if seen.expires > now:
            break
        i += 1
        seen.stored = b""  # its decision freed now, not when the list is cut
        if events.get(seen.eid) is seen:
            del events[seen.eid]
    if i >= 1024 and 2 * i >= n:
        del q[:i]
        i = 0
    part.head = i


def _history(part: _Part, cust: str, now: int, read: bool, kind: int) -> Ingested:
    """The reply carrying the customer's history (expired: none, and forgotten)."""
    h = part.histories.get(cust)
    if h is None:
        return Ingested(kind, b"", None, read=_EMPTY if read else None)
    if h.expires <= now:
        del part.histories[cust]
        return Ingested(kind, b"", None, read=_EMPTY if read else None)
    return Ingested(kind, h.text, None, read=h.read if read else None, lines=h.lines)


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
