"""The memory store answers as the Redis store (the Lua scripts) for the same calls, and
expires on its own clock."""

from __future__ import annotations

import pytest

from rules.history import APPEND, KEEP, REWRITE
from streams.settings import Settings
from streams.simulate.memory import MemoryStore
from streams.worker.store import FIRST, REPEAT, RETRY, RecordItem, Store

NOW = 1_700_000_000_000
RETAIN_MS = 3_600_000

# (ingest batch, record batch): event ids repeat within and across batches, a customer's
# history is appended to, rewritten, and read back.
STEPS = [
    ([("e1", "c1", ["complaint|home"]), ("e2", "c2", ["store_visit|prepaid"]),
      ("e1", "c1", ["complaint|home"])],
     [("e1", b'{"d":1}', "c1", APPEND, "r|1|complaint\n"),
      ("e2", b'{"d":2}', "c2", KEEP, "")]),
    ([("e1", "c1", ["complaint|home"]), ("e3", "c1", ["bill_shock|home", "invoice_received|home"]),
      ("e4", "c2", [])],
     [("e3", b'{"d":3}', "c1", APPEND, "a|2|p|sms|1|x\n"),
      ("e4", b'{"d":4}', "c2", REWRITE, "a|3|q|push|0|y\n")]),
    ([("e5", "c1", []), ("e6", "c2", ["store_visit|prepaid"]), ("e3", "c9", [])], []),
]


def _items(st: MemoryStore | Store, rows: list) -> list:
    return [(e, c, f, st.slot(c)) for e, c, f in rows]


def _records(st: MemoryStore | Store, rows: list) -> list[RecordItem]:
    return [RecordItem(e, d, c, m, t, st.slot(c)) for e, d, c, m, t in rows]


def _shape(replies: dict) -> list:
    return [(r.kind, r.history, r.stored) for rs in replies.values() for r in rs]


@pytest.mark.integration
async def test_same_replies_and_counts_as_redis(settings: Settings) -> None:
    redis_store = Store(settings)
    await redis_store.open()
    memory = MemoryStore(settings.dedupe_ttl_s, clock=lambda: NOW / 1000,
                         slots=redis_store.slots)
    try:
        for ingest, record in STEPS:
            got = [_shape(await st.ingest({0: _items(st, ingest)}, NOW))
                   for st in (redis_store, memory)]
            assert got[0] == got[1]
            for st in (redis_store, memory):
                await st.record({0: _records(st, record)}, RETAIN_MS)
        counts = [await st.counts(NOW) for st in (redis_store, memory)]
        assert counts[0] == counts[1]
        assert counts[1]["complaint|home"] == [1, 1, 1, 1]  # e1 counted once
    finally:
        await redis_store.close()


@pytest.mark.integration
async def test_one_call_at_each_events_time_counts_as_redis_per_slice(
        settings: Settings) -> None:
    """The replay's calls hold several slices (MemoryStore.when): the same replies and counts
    as Redis called once per slice at its own time (minutes and hours apart). No event_id is
    in two slices of a call (streams/simulate/run.py)."""
    slices = [(NOW, [("s1", "c1", ["complaint|home"]), ("s2", "c2", ["store_visit|prepaid"])]),
              (NOW + 61_000, [("s3", "c3", ["complaint|home"]), ("s5", "c1", [])]),
              (NOW + 3_700_000, [("s4", "c4", ["complaint|home", "bill_shock|home"])])]
    redis_store = Store(settings)
    await redis_store.open()
    memory = MemoryStore(settings.dedupe_ttl_s, clock=lambda: NOW / 1000,
                         slots=redis_store.slots)
    try:
        live: list = []
        for at, rows in slices:
            live += _shape(await redis_store.ingest({0: _items(redis_store, rows)}, at))
        memory.when = {e: at for at, rows in slices for e, _, _ in rows}
        rows = [r for _, rs in slices for r in rs]
        assert _shape(await memory.ingest({0: _items(memory, rows)}, NOW)) == live
        for at in (NOW + 3_700_000, NOW + 5 * 60_000):
            assert await memory.counts(at) == await redis_store.counts(at)
    finally:
        await redis_store.close()


async def test_dedupe_and_history_expire_on_the_store_clock() -> None:
    now = [NOW / 1000]
    st = MemoryStore(10, clock=lambda: now[0])
    c1 = st.slot("c1")
    first = (await st.ingest({0: [("e1", "c1", ["complaint|home"], c1)]}, NOW))[0][0]
    assert first.kind == FIRST
    await st.record({0: [RecordItem("e1", b"{}", "c1", APPEND, "r|1|complaint\n", c1)]}, 60_000)
    again = (await st.ingest({0: [("e1", "c1", [], c1), ("e2", "c1", [], c1)]}, NOW + 9_999))[0]
    assert (again[0].kind, again[0].stored) == (REPEAT, b"{}")
    assert (again[1].kind, again[1].history) == (FIRST, b"r|1|complaint\n")
    # Ten seconds on, e1 is forgotten (a new first sighting); a minute on, so is the history.
    later = (await st.ingest({0: [("e1", "c1", [], c1)]}, NOW + 10_000))[0][0]
    assert later.kind == FIRST and later.history == b"r|1|complaint\n"
    gone = (await st.ingest({0: [("e9", "c1", [], c1)]}, NOW + 60_000))[0][0]
    assert gone.history == b""
    assert (await st.ingest({0: [("e9", "c1", [], c1)]}, NOW + 60_000))[0][0].kind == RETRY
    assert (await st.counts(NOW + 4 * 60_000))["complaint|home"] == [1, 1, 1, 1]
    assert (await st.counts(NOW + 5 * 60_000))["complaint|home"] == [0, 1, 1, 1]


async def test_an_append_to_a_history_gone_since_ingest_is_the_text_alone() -> None:
    """The pipeline's read of a history after a write (RecordItem.read) is built on what
    INGEST returned; if the history expired before RECORD (a clock that moved between the
    calls), the store keeps what its text reads, as Redis would, not the older entries."""
    from rules.history import History, PastRisk, decode_stored

    now = [NOW / 1000]
    st = MemoryStore(3600, clock=lambda: now[0], history_cap=64)
    c1 = st.slot("c1")
    await st.ingest({0: [("e1", "c1", [], c1)]}, NOW)
    await st.record({0: [RecordItem("e1", b"{}", "c1", APPEND, "r|1|complaint\n", c1)]}, 1_000)
    got = (await st.ingest({0: [("e2", "c1", [], c1)]}, NOW + 500))[0][0]
    assert got.read is not None and len(got.read.entries) == 1
    stale = History.of([PastRisk(NOW + 500, "bill_shock"), *got.read.entries])
    now[0] = (NOW + 2_000) / 1000  # the history's second of life is over before RECORD
    await st.record({0: [RecordItem("e2", b"{}", "c1", APPEND, f"r|{NOW + 500}|bill_shock\n",
                                    c1, read=stale)]}, 1_000)
    kept = st.parts[c1].histories["c1"]
    assert kept.read == decode_stored(kept.text, 64)
    assert [e.mot for e in kept.read.entries] == ["bill_shock"]  # the expired one forgotten
