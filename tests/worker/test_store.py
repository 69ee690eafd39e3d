"""The Redis side against a real Redis: contact history appended, capped, expiring, and read
from the list form an earlier version stored."""

from __future__ import annotations

import pytest

from rules import History, HistoryUpdate, decode_stored, stored_write
from rules.history import APPEND, REWRITE
from streams.settings import Settings
from streams.worker.store import FIRST, REPEAT, RecordItem, Store

pytestmark = pytest.mark.integration

RETAIN_MS = 60_000
NOW = 1_700_000_000_000


async def _open(settings: Settings) -> Store:
    store = Store(settings.with_(dedupe_ttl_s=3600))
    await store.open()
    return store


async def _stored(store: Store, event_id: str, customer: str) -> bytes:
    slot = store.slot(customer)
    got = (await store.ingest({0: [(event_id, customer, [], slot)]}, NOW))[0][0]
    assert got.kind == FIRST
    return got.history


async def _write(store: Store, event_id: str, customer: str, *entries: str, cap: int = 2) -> int:
    """Decide-and-record as the pipeline does: read, then write the update its way."""
    stored = await _stored(store, f"read-{event_id}", customer)
    mode, text, _ = stored_write(stored.count(b"\n"), decode_stored(stored, cap),
                                 HistoryUpdate(entries, RETAIN_MS, cap))
    await store.record({0: [RecordItem(event_id, b"{}", customer, mode, text,
                                       store.slot(customer))]}, RETAIN_MS)
    return mode


async def test_history_is_appended_then_rewritten_and_expires(settings: Settings) -> None:
    store = await _open(settings)
    try:
        assert await _write(store, "e0", "c1", "r|1|churn", "a|1|p|sms|1|x") == APPEND
        assert await _stored(store, "q0", "c1") == b"r|1|churn\na|1|p|sms|1|x\n"
        assert await _write(store, "e1", "c1", "r|2|m") == APPEND
        assert await _write(store, "e2", "c1", "r|3|m") == APPEND  # 4 lines: twice the cap
        assert await _write(store, "e3", "c1", "r|4|m") == REWRITE
        assert await _stored(store, "q1", "c1") == b"r|3|m\nr|4|m\n"
        ttl = await store.redis.pttl(f"{store.tag(store.slot('c1'))}:h:c1")
        assert 0 < ttl <= RETAIN_MS
        # An event with nothing to remember leaves the history as it was.
        await _write(store, "e9", "c1")
        assert await _stored(store, "q2", "c1") == b"r|3|m\nr|4|m\n"
        # The decisions are kept for the dedupe: a repeat gets its stored decision back.
        again = (await store.ingest({0: [("e9", "c1", [], store.slot("c1"))]}, NOW))[0][0]
        assert (again.kind, again.stored) == (REPEAT, b"{}")
    finally:
        await store.close()


async def test_a_history_stored_as_a_list_is_read_and_carried_over(settings: Settings) -> None:
    store = await _open(settings)
    key = f"{store.tag(store.slot('old'))}:h:old"
    try:
        # An earlier version's form: a list, newest first.
        await store.redis.lpush(key, "r|1|churn", "a|2|retention|sms|1|rt_a")
        stored = await _stored(store, "q0", "old")
        assert stored == b"r|1|churn\na|2|retention|sms|1|rt_a\n"
        assert [e.ts for e in decode_stored(stored, 64).entries] == [2, 1]
        # Its first write turns it into the string, with what was there kept.
        await store.record({0: [RecordItem("e1", b"{}", "old", APPEND, "r|3|complaint\n",
                                       store.slot("old"))]}, RETAIN_MS)
        assert await store.redis.type(key) == b"string"
        assert await _stored(store, "q1", "old") == stored + b"r|3|complaint\n"
        assert 0 < await store.redis.pttl(key) <= RETAIN_MS
        assert decode_stored(b"", 64) is History.empty()
    finally:
        await store.close()


async def test_a_watched_decision_is_reached_within_its_window_only(settings: Settings) -> None:
    """RECORD keeps a watch for a decision whose MoT has positive outcomes; INGEST returns it
    to an outcome event decided within the window after it, and to no other."""
    store = await _open(settings)
    try:
        slot = store.slot("w1")
        summary = '["d1","-","control","lifecycle","renew",172800000]'
        await store.record({0: [RecordItem("w-e0", b"{}", "w1", 0, "", slot,
                                           ["balance_exhausted", summary, NOW, 172_800_000])]},
                           RETAIN_MS)
        assert 0 < await store.redis.pttl(f"{store.tag(slot)}:o:w1") <= 172_800_000

        async def reach(event_id: str, mot: str, within: int, at: int) -> list[bytes] | None:
            item = (event_id, "w1", [], slot, [[mot, within]], at)
            return (await store.ingest({0: [item]}, NOW))[0][0].reached

        assert await reach("w-e1", "balance_exhausted", 3_600_000, NOW + 3_600_000) == [
            summary.encode()]
        assert await reach("w-e2", "balance_exhausted", 3_600_000, NOW + 3_600_001) is None
        assert await reach("w-e3", "balance_exhausted", 3_600_000, NOW - 1) is None  # before
        assert await reach("w-e4", "package_expired", 3_600_000, NOW + 1) is None  # other MoT
        # Not deleted: a redelivered outcome event finds it again (JOIN counts it once).
        assert await reach("w-e5", "balance_exhausted", 3_600_000, NOW + 5) == [summary.encode()]
    finally:
        await store.close()


async def _calls(store: Store, command: str) -> int:
    stats = await store.redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_a_calls_counts_are_summed_before_redis_counts_them(settings: Settings) -> None:
    """INGEST bumps each MoT field once per call, however many state slots its events are in
    (COUNTS sums every slot); INDEX counts a call's decisions once per field and stores each
    summary as given, which JOIN reads back."""
    from streams.worker.responses import join_tag

    store = await _open(settings)
    try:
        customers = {store.slot(f"k{i}"): f"k{i}" for i in range(400)}  # one per slot
        assert len(customers) > 20
        items = [(f"b-{c}", c, ["complaint|home", "store_visit|home"], s)
                 for s, c in customers.items()]
        replies = await store.ingest({0: items}, NOW)
        assert [r.kind for r in replies[0]] == [FIRST] * len(items)
        # One minute, hour and day hash for the call, not one per slot of its events.
        buckets = [k async for k in store.redis.scan_iter(match=f"{{{store.prefix}:c*}}:c[mhd]:*")]
        assert len(buckets) == 3
        n = len(items)
        assert (await store.counts(NOW))["complaint|home"] == [n, n, n, n]

        summaries = [f'["i{k}","-","champion","loyalty","loy_redeem_points",0]'.encode()
                     for k in range(30)]
        by_tag: dict[str, list[bytes]] = {}
        for k, s in enumerate(summaries):
            by_tag.setdefault(join_tag(store.prefix, f"i{k}"), []).append(s)
        before = await _calls(store, "hincrby")
        await store.record({}, RETAIN_MS, index=by_tag)
        await store.record({}, RETAIN_MS, index=by_tag)  # a redelivery: counted once
        assert await _calls(store, "hincrby") - before == len(by_tag)
        field = "decisions|champion|loyalty|loy_redeem_points"
        counted = 0
        for tag in by_tag:
            got = await store.redis.hget(f"{tag}:x:-", field)
            counted += int(got or 0)
        assert counted == 30
        tag = join_tag(store.prefix, "i7")
        assert await store.redis.get(f"{tag}:d:i7") == summaries[7]
    finally:
        await store.close()


async def test_an_outcome_event_reaches_each_watched_mot_it_may_convert(
        settings: Settings) -> None:
    """An event that may convert several MoTs reads all their watches at once (HMGET) and
    gets back each one within its own window."""
    store = await _open(settings)
    try:
        slot = store.slot("w2")
        a = '["d2","-","champion","lifecycle","renew",3600000]'
        b = '["d3","-","champion","loyalty","loy_redeem_points",3600000]'
        await store.record({0: [
            RecordItem("w2-e0", b"{}", "w2", 0, "", slot, ["balance_exhausted", a, NOW, 3_600_000]),
            RecordItem("w2-e1", b"{}", "w2", 0, "", slot, ["package_expired", b, NOW - 7_200_000,
                                                           3_600_000]),
        ]}, RETAIN_MS)
        watched = [["first_topup", 3_600_000], ["balance_exhausted", 3_600_000],
                   ["package_expired", 3_600_000]]
        got = (await store.ingest({0: [("w2-e2", "w2", [], slot, watched, NOW + 60_000)]},
                                  NOW))[0][0].reached
        assert got == [a.encode()]  # package_expired's is over its hour; first_topup has none
        watched[2][1] = 10_800_000
        got = (await store.ingest({0: [("w2-e3", "w2", [], slot, watched, NOW + 60_000)]},
                                  NOW))[0][0].reached
        assert got == [a.encode(), b.encode()]
    finally:
        await store.close()
