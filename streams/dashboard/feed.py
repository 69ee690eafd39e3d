"""Reads the output topics into the dashboard's state: a plain consumer without a group.

No group means no commits and no rebalances: the workers' group is never touched, and any
number of dashboards can run. Metrics are read from the oldest record kept (the counters are
totals over the topic's retention); dead letters and decisions only their latest records.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from streams import kafka
from streams.dashboard.state import DEADLETTERS_KEPT, DashboardState
from streams.settings import Settings

log = logging.getLogger(__name__)
POLL_RECORDS = 2000  # per getmany: the page and /metrics are served between two polls


async def _assigned(c: AIOKafkaConsumer, topics: list[str], wait_s: float = 30.0) -> None:
    c.subscribe(topics)  # without a group: every partition of every topic is assigned
    deadline = time.monotonic() + wait_s
    while {tp.topic for tp in c.assignment()} != set(topics):
        if time.monotonic() > deadline:
            raise KafkaError(f"no partitions assigned for {sorted(topics)} in {wait_s:.0f}s")
        await asyncio.sleep(0.05)


async def _seek_back(c: AIOKafkaConsumer, topic: str, keep: int) -> None:
    """Start each partition of `topic` `keep / partitions` records before its end."""
    tps = [tp for tp in c.assignment() if tp.topic == topic]
    per = max(1, keep // max(1, len(tps)))
    first, end = await c.beginning_offsets(tps), await c.end_offsets(tps)
    for tp in tps:
        c.seek(tp, max(first[tp], end[tp] - per))


class Feed:
    """Follows metrics, dead letters and decisions until `stop` is set."""

    def __init__(self, settings: Settings, state: DashboardState) -> None:
        self.settings = settings
        self.state = state
        self.ready = asyncio.Event()  # set once the start offsets are fixed

    async def run(self, stop: asyncio.Event) -> None:
        t = self.settings.topics
        topics = [t.metrics, t.deadletter, t.decisions]
        # Created here so that the broker does not auto-create them with its own defaults.
        await kafka.ensure_topics(self.settings, topics, self.settings.partitions)
        c = kafka.consumer(self.settings, group_id=None, enable_auto_commit=False,
                           auto_offset_reset="earliest")
        await c.start()
        try:
            await _assigned(c, topics)
            await _seek_back(c, t.deadletter, DEADLETTERS_KEPT)
            await _seek_back(c, t.decisions, self.state.decisions.maxlen or 1)
            for tp in c.assignment():
                await c.position(tp)
            self.ready.set()
            while not stop.is_set():
                try:
                    batches = await c.getmany(timeout_ms=300, max_records=POLL_RECORDS)
                except KafkaError as exc:  # the client reconnects by itself; say so, go on
                    log.warning("dashboard: reading the topics failed (%s); retrying", exc)
                    await asyncio.sleep(1.0)
                    continue
                self._fold(batches)
        finally:
            await c.stop()

    def _fold(self, batches: dict[TopicPartition, list]) -> None:  # type: ignore[type-arg]
        t, s = self.settings.topics, self.state
        for tp, records in batches.items():
            if tp.topic == t.metrics:
                for r in records:
                    if r.value is not None:
                        s.fold_metrics(r.value)
            elif tp.topic == t.deadletter:
                for r in records:
                    if r.value is not None:
                        s.fold_deadletter(r.value)
            else:
                for r in records:
                    if r.value is not None:
                        s.fold_decision(r.key, r.value)
