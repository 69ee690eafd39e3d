"""A worker follows the rules topic: the newest loadable catalogue at start, then each new one
within about a second of its publication.

The pipeline reads `follower.active` once per batch, so a switch always falls between two
batches and each decision names the version that made it. A record that does not load
(corrupt, invalid under this worker's code, or naming a challenger nobody published) is
logged, counted in `rejected`, and ignored: the worker keeps what it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from rules import Catalogue
from rules.arms import ActiveRules
from streams.rules_topic import topic
from streams.rules_topic.record import Published, RecordError
from streams.settings import Settings

log = logging.getLogger(__name__)
POLL_MS = 500  # how long one wait for a new record lasts: the switch comes within about this


class RulesFollower:
    def __init__(self, settings: Settings, fallback: Catalogue) -> None:
        self.settings = settings
        self.fallback = fallback  # $ARBITER_RULES or the bundled catalogue: the topic is empty
        self.active = ActiveRules(fallback) if fallback.experiment is None else None
        self.source = "local"  # or the offset of the record in use
        self.rejected = 0  # records that could not be used, since start
        self.switches = 0
        self.published: dict[str, Published] = {}  # readable records by version
        self._loaded: dict[str, Catalogue] = {fallback.version: fallback}
        self._listeners: list[Callable[[ActiveRules], None]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._tp: TopicPartition | None = None
        self._task: asyncio.Task[None] | None = None

    def on_change(self, listener: Callable[[ActiveRules], None]) -> None:
        self._listeners.append(listener)

    async def start(self) -> ActiveRules:
        """Read the topic to its end and take the newest record that loads; then follow."""
        self._consumer, self._tp = await topic.open_reader(self.settings)
        entries = await topic.read_to_end(self._consumer, self._tp)
        for _, got in entries:
            if isinstance(got, Published):
                self.published[got.version] = got
        # Newest first: the older records need not be loaded at all.
        for offset, got in reversed(entries):
            if self._use(offset, got, announce=False):
                break
        exp = self.fallback.experiment
        if self.active is None and exp is not None:  # the local catalogue runs an experiment
            other = self.published.get(exp.challenger)
            if other is None:
                raise RecordError(f"experiment {exp.name} of the local catalogue names "
                                  f"challenger {exp.challenger}, which is not published on "
                                  f"{self.settings.topics.rules}")
            self.active = ActiveRules(self.fallback, self._load(other))
        assert self.active is not None  # the fallback without an experiment, at least
        self._task = asyncio.create_task(self._follow(), name="rules-follower")
        return self.active

    async def _follow(self) -> None:
        assert self._consumer is not None and self._tp is not None
        while True:
            try:
                got = await self._consumer.getmany(self._tp, timeout_ms=POLL_MS)
            except KafkaError as exc:  # weather: the consumer reconnects by itself
                log.warning("reading %s failed (%s); retrying", self.settings.topics.rules, exc)
                await asyncio.sleep(1.0)
                continue
            for offset, entry in topic.entries(got.get(self._tp, [])):
                if isinstance(entry, Published):
                    self.published[entry.version] = entry
                # Loading validates a whole catalogue: off the event loop's thread.
                await asyncio.to_thread(self._use, offset, entry, True)

    def _use(self, offset: int, got: Published | RecordError, announce: bool) -> bool:
        """Switch to the record's catalogue; False (logged, counted) if it cannot be used."""
        try:
            if isinstance(got, RecordError):
                raise got
            active = ActiveRules(*self._resolve(got))
        except (RecordError, ValueError) as exc:
            self.rejected += 1
            log.error("rules record at offset %d ignored, keeping %s: %s", offset,
                      self.active.champion.version if self.active else "none", exc)
            return False
        self.active, self.source = active, str(offset)
        self.switches += 1
        if announce:
            log.warning("rules now %s (offset %d, %s)", got.version, offset, got.label or "-")
            for listener in self._listeners:
                listener(active)
        return True

    def _resolve(self, record: Published) -> tuple[Catalogue, Catalogue | None]:
        champion = self._load(record)
        exp = champion.experiment
        if exp is None:
            return champion, None
        other = self.published.get(exp.challenger)
        if other is None:
            raise RecordError(f"experiment {exp.name}: challenger {exp.challenger} is not "
                              "published")
        return champion, self._load(other)

    def _load(self, record: Published) -> Catalogue:
        cat = self._loaded.get(record.version)
        if cat is None:
            cat = self._loaded[record.version] = record.catalogue()
        return cat

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
