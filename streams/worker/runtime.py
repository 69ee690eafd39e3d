"""The worker's moving parts, started once and shared by the Faust agent and timer."""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from aiokafka import AIOKafkaProducer

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
            self.store = Store(self.settings.redis_url, self.settings.redis_prefix,
                               self.settings.dedupe_ttl_s)
            counts = self.partition_counts = {
                t: len(await self.producer.partitions_for(t)) for t in topics}
            self.pipelines = [
                Pipeline(active, self.store,
                         Emitter(self.producer, self.settings.topics, counts), self.stats)
                for _ in range(self.settings.lanes)
            ]
            self.follower.on_change(self._switch)
            self._switch(self.follower.active or active)  # in case one came meanwhile
            self._started = True
            log.info("arbiter runtime started: rules %s, redis prefix %s",
                     self.catalogue.version, self.settings.redis_prefix)

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
        if not self._started or self.producer is None or self.store is None:
            return None
        now_ms = int(time.time() * 1000)
        counts = await self.store.counts(self.settings.partitions, now_ms)
        snap = self.stats.take()
        record = metrics.build(snap, self.catalogue, counts, self.settings.worker_name, now_ms)
        record["rules"] = metrics.rules_entry(self.follower)
        if self.responses is not None:
            record["responses"] = self.responses.stats.to_dict()
        active = self.follower.active
        name = active.experiment.name if active and active.experiment else NO_EXPERIMENT
        record["experiment"] = report(name, await responses.counts(self.store, name))
        # Its own send, not the emitter's batches, which belong to the batch in flight.
        await self.producer.send_and_wait(self.settings.topics.metrics, orjson.dumps(record),
                                          key=self.settings.worker_name.encode())
        return record

    async def stop(self) -> None:
        await self.follower.stop()
        if self.producer is not None:
            await self.producer.stop()
        if self.store is not None:
            await self.store.close()
        self._started = False
