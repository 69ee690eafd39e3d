"""The memory store answers as the Redis store (the Lua scripts) for the same calls, and
expires on its own clock."""

from __future__ import annotations

import pytest

from rules.history import APPEND, KEEP, REWRITE
from streams.settings import Settings
from streams.simulate.memory import MemoryStore
from streams.worker import layout
from streams.worker.store import FIRST, REPEAT, RETRY, RecordItem, Store

NOW = 1_700_000_000_000
SLOTS = 64


def S(customer: str) -> int:  # the customer's state slot, short for the tables
    return layout.slot_of(customer, SLOTS)
RETAIN_MS = 3_600_000

# (ingest batch, record batch): event ids repeat within and across batches, a customer's
# history is appended to, rewritten, and read back.
STEPS = [
    ([("e1", "c1", ["complaint|home"], S("c1")), ("e2", "c2", ["store_visit|prepaid"], S("c2")),
      ("e1", "c1", ["complaint|home"], S("c1"))],
     [RecordItem("e1", b'{"d":1}', "c1", APPEND, "r|1|complaint\n", S("c1")),
      RecordItem("e2", b'{"d":2}', "c2", KEEP, "", S("c2"))]),
    ([("e1", "c1", ["complaint|home"], S("c1")),
      ("e3", "c1", ["bill_shock|home", "invoice_received|home"], S("c1")),
      ("e4", "c2", [], S("c2"))],
     [RecordItem("e3", b'{"d":3}', "c1", APPEND, "a|2|p|sms|1|x\n", S("c1")),
      RecordItem("e4", b'{"d":4}', "c2", REWRITE, "a|3|q|push|0|y\n", S("c2"))]),
    ([("e5", "c1", [], S("c1")), ("e6", "c2", ["store_visit|prepaid"], S("c2")),
      ("e3", "c9", [], S("c9"))], []),
]


def _shape(replies: dict) -> dict:
    return {p: [(r.kind, r.history, r.stored) for r in rs] for p, rs in replies.items()}


@pytest.mark.integration
async def test_same_replies_and_counts_as_redis(settings: Settings) -> None:
    redis_store = Store(settings.with_(dedupe_ttl_s=3600, state_slots=SLOTS))
    await redis_store.open()
    memory = MemoryStore(3600, clock=lambda: NOW / 1000, slots=SLOTS)
    try:
        for ingest, record in STEPS:
            got = [_shape(await st.ingest({0: ingest}, NOW)) for st in (redis_store, memory)]
            assert got[0] == got[1]
            for st in (redis_store, memory):
                await st.record({0: record}, RETAIN_MS)
        counts = [await st.counts(NOW) for st in (redis_store, memory)]
        assert counts[0] == counts[1]
        assert counts[1]["complaint|home"] == [1, 1, 1, 1]  # counted once
    finally:
        await redis_store.close()


async def test_dedupe_and_history_expire_on_the_store_clock() -> None:
    now = [NOW / 1000]
    st = MemoryStore(10, clock=lambda: now[0])
    first = (await st.ingest({0: [("e1", "c1", ["complaint|home"], S("c1"))]}, NOW))[0][0]
    assert first.kind == FIRST
    await st.record({0: [RecordItem("e1", b"{}", "c1", APPEND, "r|1|complaint\n", S("c1"))]},
                    60_000)
    pair = [("e1", "c1", [], S("c1")), ("e2", "c1", [], S("c1"))]
    again = (await st.ingest({0: pair}, NOW + 9_999))[0]
    assert (again[0].kind, again[0].stored) == (REPEAT, b"{}")
    assert (again[1].kind, again[1].history) == (FIRST, b"r|1|complaint\n")
    # Ten seconds on, e1 is forgotten (a new first sighting); a minute on, so is the history.
    later = (await st.ingest({0: [("e1", "c1", [], S("c1"))]}, NOW + 10_000))[0][0]
    assert later.kind == FIRST and later.history == b"r|1|complaint\n"
    gone = (await st.ingest({0: [("e9", "c1", [], S("c1"))]}, NOW + 60_000))[0][0]
    assert gone.history == b""
    assert (await st.ingest({0: [("e9", "c1", [], S("c1"))]}, NOW + 60_000))[0][0].kind == RETRY
    assert (await st.counts(NOW + 4 * 60_000))["complaint|home"] == [1, 1, 1, 1]
    assert (await st.counts(NOW + 5 * 60_000))["complaint|home"] == [0, 1, 1, 1]
