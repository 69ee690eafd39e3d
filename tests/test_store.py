"""The Redis side against a real Redis: contact history kept newest first, capped, expiring."""

from __future__ import annotations

import pytest

from streams.settings import Settings
from streams.store import FIRST, REPEAT, RecordItem, Store

pytestmark = pytest.mark.integration

RETAIN_MS = 60_000


async def _history(store: Store, event_id: str, customer: str) -> list[bytes]:
    got = (await store.ingest({0: [(event_id, customer, [])]}, 1_700_000_000_000))[0][0]
    assert got.kind == FIRST
    return got.history


async def test_history_is_newest_first_and_capped(settings: Settings) -> None:
    store = Store(settings.redis_url, settings.redis_prefix, 3600)
    try:
        # One event with two entries (a risk moment, then the action), then three more.
        await store.record({0: [RecordItem("e0", b"{}", "c1", ("r|1|churn", "a|1|p|sms|1|x"))]},
                           RETAIN_MS, 4)
        assert await _history(store, "q0", "c1") == [b"a|1|p|sms|1|x", b"r|1|churn"]
        for i in range(2, 5):
            await store.record({0: [RecordItem(f"e{i}", b"{}", "c1", (f"r|{i}|m",))]},
                               RETAIN_MS, 4)
        # Five entries written, four kept: the oldest one went.
        assert await _history(store, "q1", "c1") == [b"r|4|m", b"r|3|m", b"r|2|m",
                                                      b"a|1|p|sms|1|x"]
        ttl = await store.redis.pttl(f"{store.tag(0)}:h:c1")
        assert 0 < ttl <= RETAIN_MS
        # An event with nothing to remember leaves the history as it was.
        await store.record({0: [RecordItem("e9", b"{}", "c1", ())]}, RETAIN_MS, 4)
        assert len(await _history(store, "q2", "c1")) == 4
        # The decisions are kept for the dedupe: a repeat gets its stored decision back.
        again = (await store.ingest({0: [("e9", "c1", [])]}, 1_700_000_000_000))[0][0]
        assert (again.kind, again.stored) == (REPEAT, b"{}")
    finally:
        await store.close()
