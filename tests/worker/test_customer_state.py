"""State follows the customer, not the partition: whatever key the producer used, however many
partitions the topic has, and across the upgrade from the partition layout. Real Kafka and
Redis."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import NewPartitions
from harness import Worker, collect, event, isolated, on_stack, prepare

from streams import kafka
from streams.settings import Settings
from streams.worker import layout
from streams.worker.emit import partition_for
from streams.worker.store import COUNTS_SLOTS, REPEAT, Store, buckets, field

pytestmark = pytest.mark.integration


async def _send(s: Settings, records: list[tuple[bytes | None, dict]],
                partition: int | None = None) -> None:
    producer = kafka.producer(s)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(s.topics.events, orjson.dumps(value), key=key,
                                         partition=partition)
    finally:
        await producer.stop()


def _decisions(seen: dict, s: Settings) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for _, d in seen[s.topics.decisions]:
        out.setdefault(d["event_id"], []).append(d)
    return out


async def test_a_customers_policies_hold_whatever_the_records_key(stack, tmp_path: Path) -> None:
    s = isolated(on_stack(stack), partitions=8)
    await prepare(s)
    worker = Worker(s, tmp_path).start()
    try:
        # The same three commercial moments for two customers: one keyed as the contract asks,
        # one keyed by nothing, by the event id, and by the customer.
        keyed, mixed = f"k-{uuid.uuid4().hex[:8]}", f"m-{uuid.uuid4().hex[:8]}"
        a = [event(keyed, "balance_exhausted", "prepaid") for _ in range(3)]
        b = [event(mixed, "balance_exhausted", "prepaid") for _ in range(3)]
        await _send(s, [(keyed.encode(), e) for e in a])
        await _send(s, [(None, b[0]), (str(b[1]["event_id"]).encode(), b[1]),
                        (mixed.encode(), b[2])])
        # The same event twice, under two keys (a retried send with another key).
        twice = event(f"t-{uuid.uuid4().hex[:8]}", "contract_ending", "postpaid",
                      attrs={"days_left": 20})
        await _send(s, [(str(twice["customer_id"]).encode(), twice), (b"other-key", twice)])
        ids = {e["event_id"] for e in (*a, *b, twice)}
        seen = await collect(s, [s.topics.decisions],
                             lambda seen: ids <= set(_decisions(seen, s)), worker)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    got = _decisions(seen, s)
    outcome = Counter(got[e["event_id"]][0]["outcome"] for e in a)
    assert outcome == Counter(got[e["event_id"]][0]["outcome"] for e in b)
    assert outcome["action"] == 1 and outcome["suppressed"] == 2, outcome
    copies = got[str(twice["event_id"])]
    assert len({d["decision_id"] for d in copies}) == 1
    assert len({orjson.dumps(d) for d in copies}) == 1  # the repeat is the stored decision
    store = Store(s)
    await store.open()
    try:
        # Counted in the minute each was decided: read the last hour, from now.
        counts = await store.counts(int(time.time() * 1000))
    finally:
        await store.close()
    assert counts[field("contract_ending", "postpaid")][1] == 1, "counted twice"
    assert counts[field("balance_exhausted", "prepaid")][1] == 6


async def test_partitions_added_under_a_running_worker(stack, tmp_path: Path) -> None:
    s = isolated(on_stack(stack), partitions=8)
    await prepare(s)
    # Customers whose partition moves when the topic grows from 8 to 12.
    moving = [c for c in (f"p-{uuid.uuid4().hex[:8]}" for _ in range(400))
              if partition_for(c.encode(), 8) != partition_for(c.encode(), 12)][:20]
    first = [event(c, "balance_exhausted", "prepaid") for c in moving]
    second = [event(c, "balance_exhausted", "prepaid") for c in moving]
    worker = Worker(s, tmp_path).start()
    try:
        await _send(s, [(str(e["customer_id"]).encode(), e) for e in first])
        await collect(s, [s.topics.decisions],
                      lambda seen: {e["event_id"] for e in first} <= set(_decisions(seen, s)),
                      worker)
        admin = kafka.admin(s)
        await admin.start()
        try:
            await admin.create_partitions({s.topics.events: NewPartitions(total_count=12)})
        finally:
            await admin.close()
        # Keyed by customer, by the Java partitioner over 12 partitions: the new ones.
        producer = kafka.producer(s)
        await producer.start()
        try:
            for e in second:
                part = partition_for(str(e["customer_id"]).encode(), 12)
                await producer.send_and_wait(s.topics.events, orjson.dumps(e),
                                             key=str(e["customer_id"]).encode(), partition=part)
        finally:
            await producer.stop()
        ids = {e["event_id"] for e in first + second}
        seen = await collect(s, [s.topics.decisions],
                             lambda seen: ids <= set(_decisions(seen, s)), worker, timeout=120)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    got = _decisions(seen, s)
    assert all(got[e["event_id"]][0]["outcome"] == "action" for e in first)
    # Ten minutes' burst guard still holds for customers whose partition changed.
    assert [got[e["event_id"]][0]["outcome"] for e in second] == ["suppressed"] * len(second)


async def test_state_of_the_partition_layout_is_moved_on_upgrade(settings: Settings) -> None:
    """What an earlier version stored under `{prefix:pN}` (history, stored decision, counters)
    is found by the slot layout: policies keep holding, a redelivery gets its decision back,
    and the counts keep what was counted."""
    p, now = settings.redis_prefix, int(time.time() * 1000)
    minute, hour, day = buckets(now)
    decision = orjson.dumps({"event_id": "old-e1", "customer_id": "old-c1", "outcome": "action",
                             "decision_id": "d-1"})
    store = Store(settings)
    r = store.redis
    try:
        await r.set(f"{{{p}:p3}}:h:old-c1", f"a|{now - 1000}|lifecycle|sms|1|lc_auto_top_up\n",
                    px=600_000)
        await r.lpush(f"{{{p}:p5}}:h:old-c2", f"a|{now - 2000}|retention|sms|0|rt_call")
        await r.set(f"{{{p}:p3}}:e:old-e1", decision, ex=3600)
        await r.set(f"{{{p}:p3}}:e:old-bare", "", ex=3600)  # no decision stored: dropped
        for tag in ("p3", "p5"):
            await r.hincrby(f"{{{p}:{tag}}}:cm:{minute}", "cancellation|home", 2)
            await r.hincrby(f"{{{p}:{tag}}}:ch:{hour}", "cancellation|home", 2)
            await r.hincrby(f"{{{p}:{tag}}}:cd:{day}", "cancellation|home", 2)
        await store.open()
        assert [k async for k in r.scan_iter(match=f"{{{p}:p*")] == []
        assert await r.hget(layout.layout_key(p), "slots") == str(settings.state_slots).encode()
        got = await store.ingest({0: [("old-e1", "old-c1", [], store.slot("old-c1")),
                                      ("new-e2", "old-c1", [], store.slot("old-c1")),
                                      ("new-e3", "old-c2", [], store.slot("old-c2"))]}, now)
        repeat, first, listed = got[0]
        assert (repeat.kind, repeat.stored) == (REPEAT, decision)
        assert first.history.startswith(b"a|") and b"lc_auto_top_up" in first.history
        assert b"rt_call" in listed.history
        assert (await store.counts(now))[field("cancellation", "home")] == [4, 4, 4, 4]
        # A second worker finds the layout recorded and moves nothing again.
        again = Store(settings.with_(state_slots=settings.state_slots * 2))
        await again.open()
        assert again.slots == settings.state_slots
        assert (await again.counts(now))[field("cancellation", "home")] == [4, 4, 4, 4]
        await again.close()
    finally:
        await store.close()


def _one_event_each(store: Store, customers: list[str], counter: str) -> dict[int, list]:
    """INGEST groups with one event per customer, each counting `counter`."""
    groups: dict[int, list] = {}
    for i, c in enumerate(customers):
        slot = store.slot(c)
        groups.setdefault(store.group(slot), []).append((f"ev-{i}", c, [counter], slot))
    return groups


async def test_every_slot_is_one_hash_slot_and_scripts_run_on_the_cluster(stack) -> None:
    """On the real Redis Cluster: every key of a state slot hashes to one cluster slot, and
    the scripts (which build keys of their declared tag) run there, redirections included."""
    s = isolated(on_stack(stack, "redis-cluster"))
    store = Store(s)
    await store.open()
    try:
        now = int(time.time() * 1000)
        customers = [f"cl-{i}" for i in range(200)]
        groups = _one_event_each(store, customers, field("cancellation", "home"))
        assert len(groups) > 1  # one call per state slot on a cluster
        replies = await store.ingest(groups, now)
        assert sum(len(v) for v in replies.values()) == len(customers)
        assert (await store.counts(now))[field("cancellation", "home")][0] == len(customers)
        keys = [k async for k in store.redis.scan_iter(match=f"{{{s.redis_prefix}:*")]
        by_tag: dict[str, set[int]] = {}
        for k in keys:
            name = k.decode()
            by_tag.setdefault(name.split("}")[0], set()).add(
                await store.redis.cluster_keyslot(name))  # type: ignore[attr-defined]
        assert by_tag and all(len(v) == 1 for v in by_tag.values())
    finally:
        await store.close()


async def test_counts_read_in_several_calls_add_up_every_slot(settings: Settings) -> None:
    """On a single Redis the slots are read a few per call: a slot count that is not a
    multiple of the call's size still has every slot, the last one included, counted once."""
    s = settings.with_(state_slots=2 * COUNTS_SLOTS + 1)
    store = Store(s)
    await store.open()
    try:
        now = int(time.time() * 1000)
        customers = [f"cnt-{i}" for i in range(300)]
        groups = _one_event_each(store, customers, field("complaint", "home"))
        slots = {store.slot(c) for c in customers}
        assert slots == set(range(s.state_slots))  # every slot has customers, the last too
        await store.ingest(groups, now)
        assert (await store.counts(now))[field("complaint", "home")] == [len(customers)] * 4
    finally:
        await store.close()
