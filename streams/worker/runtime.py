"""The worker's moving parts, started once and shared by the Faust agent and timer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from rules import Catalogue, load_catalogue
from rules.arms import ActiveRules
from streams import kafka
from streams.rules_topic.follower import RulesFollower
from streams.settings import Settings
from streams.worker import metrics, responses
from streams.worker.codec import Record
from streams.worker.emit import Emitter
from streams.worker.pipeline import Pipeline
from streams.worker.responses import (
    NO_EXPERIMENT,
    ResponseFollower,
    report,
    run_forever,
)
from streams.worker.stats import WorkerStats
from streams.worker.store import Store

log = logging.getLogger(__name__)
STOP_S = 28.0  # the whole stop, signal to exit, stays under 30 s
PRODUCER_STOP_S = 5.0
FOLLOWER_STOP_S = 3.0  # the rules topic's reader


class Runtime:
    def __init__(self, settings: Settings, catalogue: Catalogue | None = None) -> None:
        self.settings = settings
        # The local catalogue ($ARBITER_RULES or the bundled one) until the rules topic has one.
        self.follower = RulesFollower(settings, catalogue or load_catalogue(settings.rules_dir))
        self.stats = WorkerStats()
        self._lock = asyncio.Lock()
        self._started = False
        # Clients are made in start(): aiokafka wants a running loop.
        self.producer: AIOKafkaProducer | None = None
        self.store: Store | None = None
        self.pipelines: list[Pipeline] = []  # one per lane, each with its own record batches
        self.emitters: list[Emitter] = []  # the lanes' record batches
        self.consuming: asyncio.Task[None] | None = None  # the consuming loop, once running
        self.stopping = False
        self.partition_counts: dict[str, int] = {}
        self.responses: ResponseFollower | None = None

    async def start(self) -> None:
        async with self._lock:
            if self._started:
                return
            active = await self.follower.start()
            topics = kafka.all_topics(self.settings)
            await kafka.ensure_topics(self.settings, topics, self.settings.partitions)
            # The emitter builds whole batches itself: nothing is gained by lingering.
            self.producer = kafka.producer(self.settings, linger_ms=0)
            await self.producer.start()
            self.store = Store(self.settings)
            await self.store.open()
            counts = self.partition_counts = {
                t: len(await self.producer.partitions_for(t)) for t in topics}
            self.emitters = [Emitter(self.producer, self.settings.topics, counts)
                             for _ in range(self.settings.lanes)]
            self.pipelines = [Pipeline(active, self.store, e, self.stats) for e in self.emitters]
            self._set_events_partitions(counts[self.settings.topics.events])
            self.follower.on_change(self._switch)
            self._switch(self.follower.active or active)  # in case one came meanwhile
            self._started = True
            log.info("arbiter runtime started: rules %s, redis prefix %s",
                     self.catalogue.version, self.settings.redis_prefix)

    def _set_events_partitions(self, n: int) -> None:
        for p, e in zip(self.pipelines, self.emitters, strict=True):
            p.events_topic, p.events_partitions = self.settings.topics.events, n
            e.partitions[self.settings.topics.events] = n

    async def refresh_partitions(self) -> None:
        """After a rebalance: the events topic may have grown; records are forwarded to
        their customer's partition by the count the cluster has now."""
        if self.producer is None:
            return
        await self.producer.client.force_metadata_update()
        n = len(await self.producer.partitions_for(self.settings.topics.events))
        if self.pipelines and n != self.pipelines[0].events_partitions:
            log.info("events topic %s has %d partitions now", self.settings.topics.events, n)
            self._set_events_partitions(n)

    @property
    def catalogue(self) -> Catalogue:
        """The champion catalogue in use."""
        active = self.follower.active
        return active.champion if active is not None else self.follower.fallback

    def _switch(self, active: ActiveRules) -> None:
        # Each lane reads its pipeline's `active` once per batch: the switch falls between two.
        for p in self.pipelines:
            p.active = active

    async def submit(self, records: list[Record], lane: int = 0) -> asyncio.Future[list[object]]:
        """Decide a batch (Redis written); the future completes when Kafka has its outputs.

        Lanes may decide concurrently, each over partitions of its own: their Redis keys and
        record batches never overlap.
        """
        if not self.pipelines:
            await self.start()
        return await self.pipelines[lane].submit(records)

    async def join_responses(self) -> None:
        """Join the responses topic to the decisions until cancelled (streams.worker.responses)."""
        await self.start()
        assert self.producer is not None and self.store is not None
        self.responses = ResponseFollower(
            self.settings, self.store,
            Emitter(self.producer, self.settings.topics, self.partition_counts))
        await run_forever(self.responses)

    async def publish_metrics(self) -> dict[str, object] | None:
        if not self._started or self.stopping or self.producer is None or self.store is None:
            return None
        now_ms = int(time.time() * 1000)
        counts = await self.store.counts(now_ms)
        snap = self.stats.take()
        record = metrics.build(snap, self.catalogue, counts, self.settings.worker_name, now_ms)
        record["rules"] = metrics.rules_entry(self.follower)
        if self.responses is not None:
            record["responses"] = self.responses.stats.to_dict()
        active = self.follower.active
        name = active.experiment.name if active and active.experiment else NO_EXPERIMENT
        try:
            record["experiment"] = report(name, await responses.counts(self.store, name))
        except (RedisError, OSError) as exc:
            # Figures, not decisions: a Redis hiccup (or the store closing under a stop) skips
            # the experiment's report in this record rather than ending the worker.
            log.warning("experiment report left out of this metrics record (%s)", exc)
        # Its own send, not the emitter's batches, which belong to the batch in flight.
        try:
            await self.producer.send_and_wait(self.settings.topics.metrics, orjson.dumps(record),
                                              key=self.settings.worker_name.encode())
        except KafkaError as exc:
            # A record of figures is not worth the worker: a broker away skips one (it crashed
            # the app when the broker came back without leaders for a moment).
            log.warning("metrics record not sent (%s); the next one follows", exc)
            return None
        return record

    async def stop(self) -> None:
        """Drain, then close: the consuming loop finishes or drops its batches in hand and
        commits what the broker acknowledged (streams.worker.consume, bounded), then the producer
        flushes. Ends within STOP_S even with Redis or the broker away."""
        self.stopping = True
        task = self.consuming
        if task is not None and not task.done():
            task.cancel()  # its finally drains the lanes and leaves the group
            await asyncio.wait({task}, timeout=STOP_S - PRODUCER_STOP_S - FOLLOWER_STOP_S - 1)
        with contextlib.suppress(TimeoutError):  # bounded: the broker may be away
            await asyncio.wait_for(self.follower.stop(), FOLLOWER_STOP_S)
        if self.producer is not None:
            try:
                await asyncio.wait_for(self.producer.stop(), PRODUCER_STOP_S)
            except (TimeoutError, KafkaError) as exc:
                log.warning("stopping: the producer did not flush (%r); unacknowledged "
                            "outputs are sent again by whoever re-reads their events", exc)
        if self.store is not None:
            await self.store.close()
        self._started = False
