"""The audit every reliability run ends with, on the real topics and Redis.

Read only once the group has committed the input's end: then every output topic is read from
its beginning to the end offsets it has at that moment (never "until every id was seen once":
a late second copy would go unseen), and counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from rules import classify, load_catalogue, parse_event
from streams import kafka
from streams.settings import Settings
from streams.worker.store import Store


async def partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """A topic's partitions, metadata fetched first (the client's cache may not know it)."""
    # consumer.topics() fetches it but keeps it to itself; the client's fetch returns it.
    cluster = await consumer._client.fetch_all_metadata()
    return set(cluster.partitions_for_topic(topic) or ())


async def lag(settings: Settings) -> int:
    """Records of the events topic past the group's committed offsets (0: all committed)."""
    # A consumer that never subscribes only reads the group's offsets: it does not join.
    consumer = kafka.consumer(settings, group_id=settings.group)
    await consumer.start()
    try:
        parts = await partitions(consumer, settings.topics.events)
        tps = [TopicPartition(settings.topics.events, p) for p in sorted(parts)]
        ends = await consumer.end_offsets(tps)
        total = 0
        for tp in tps:
            total += max(0, ends[tp] - ((await consumer.committed(tp)) or 0))
        return total
    finally:
        await consumer.stop()


async def wait_committed(settings: Settings, timeout_s: float = 120.0) -> int:
    """Wait until the group has committed the events topic's end; returns the lag left."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = await lag(settings)
        if left == 0 or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


async def read_to_end(settings: Settings, topics: Iterable[str]) -> dict[str, list[bytes]]:
    """Every record value of the topics, from the beginning to their end offsets now."""
    names = list(topics)
    out: dict[str, list[bytes]] = {t: [] for t in names}
    consumer = kafka.consumer(settings, group_id=None, auto_offset_reset="earliest",
                              isolation_level="read_committed")
    await consumer.start()
    try:
        tps = []
        for t in names:
            parts = await partitions(consumer, t)
            tps += [TopicPartition(t, p) for p in sorted(parts)]
        ends = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        if not todo:
            return out
        consumer.assign(sorted(todo, key=lambda tp: (tp.topic, tp.partition)))
        await consumer.seek_to_beginning(*todo)
        while todo:
            got = await consumer.getmany(*todo, timeout_ms=1000)
            for tp, msgs in got.items():
                out[tp.topic].extend(m.value for m in msgs if m.offset < ends[tp])
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
        return out
    finally:
        await consumer.stop()


@dataclass(frozen=True, slots=True)
class Audit:
    """What a run sent and what came out; ok() when nothing is lost, doubled or in conflict.

    sent: distinct event_ids produced. decided: of those, how many have a decision.
    repeated_same: event_ids decided more than once, every copy byte-identical.
    repeated_different: event_ids whose copies differ (another decision_id, or other bytes).
    lost: sent but never decided. unexpected: decisions of event_ids never sent.
    action_conflicts: event_ids with actions under two decision_ids, or an action without its
    decision. count_errors: (MoT, product line) whose Redis count is not the events sent.
    lag: events not committed by the group.
    """

    sent: int
    decided: int
    repeated_same: int
    repeated_different: int
    lost: int
    unexpected: int
    action_conflicts: int
    count_errors: int
    lag: int

    def ok(self) -> bool:
        return not (self.repeated_different or self.lost or self.unexpected
                    or self.action_conflicts or self.count_errors or self.lag)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def expected_counts(sent: Iterable[dict[str, object]]) -> Counter[str]:
    """(MoT|product_line) -> events that carry it, by the bundled catalogue."""
    cat = load_catalogue()
    expected: Counter[str] = Counter()
    for e in sent:
        ev = parse_event(e)
        for mot in classify(cat, ev):
            expected[f"{mot}|{ev.product_line}"] += 1
    return expected


def tally(sent_ids: set[str], decisions: list[bytes],
          actions: list[bytes]) -> dict[str, int]:
    """The per-event part of the audit, from raw output values."""
    copies: dict[str, set[bytes]] = {}
    for raw in decisions:
        copies.setdefault(orjson.loads(raw)["event_id"], set()).add(raw)
    decided_ids = set(copies)
    seen_twice = Counter(orjson.loads(raw)["event_id"] for raw in decisions)
    decision_of = {eid: {orjson.loads(r)["decision_id"] for r in rs}
                   for eid, rs in copies.items()}
    action_ids: dict[str, set[str]] = {}
    for raw in actions:
        d = orjson.loads(raw)
        action_ids.setdefault(d["event_id"], set()).add(d["decision_id"])
    conflicts = sum(1 for eid, ids in action_ids.items()
                    if len(ids) > 1 or not ids <= decision_of.get(eid, set()))
    return {
        "decided": len(decided_ids & sent_ids),
        "repeated_same": sum(1 for eid, n in seen_twice.items()
                             if n > 1 and len(copies[eid]) == 1),
        "repeated_different": sum(1 for rs in copies.values() if len(rs) > 1),
        "lost": len(sent_ids - decided_ids),
        "unexpected": len(decided_ids - sent_ids),
        "action_conflicts": conflicts,
    }


async def audit(settings: Settings, sent: list[dict[str, object]],
                commit_timeout_s: float = 120.0) -> tuple[Audit, dict[str, list[bytes]]]:
    """Wait for the group's commit of the input's end, read every output to its end, count.

    sent: the valid events produced (each once). Returns the audit and the outputs read.
    Redis counts are compared over the 30-day window under settings.redis_prefix, which must
    hold this run's counters alone.
    """
    left = await wait_committed(settings, commit_timeout_s)
    t = settings.topics
    outputs = await read_to_end(settings, [t.decisions, *t.all_actions()])
    actions = [v for name in t.all_actions() for v in outputs[name]]
    per_event = tally({str(e["event_id"]) for e in sent}, outputs[t.decisions], actions)
    store = Store(settings)
    try:
        await store.open()
        counts = await store.counts(int(time.time() * 1000))
    finally:
        await store.close()
    got = {k: v[3] for k, v in counts.items() if v[3]}
    want = expected_counts(sent)
    count_errors = sum(1 for k in set(got) | set(want) if got.get(k, 0) != want.get(k, 0))
    return Audit(sent=len({e["event_id"] for e in sent}), count_errors=count_errors, lag=left,
                 **per_event), outputs
