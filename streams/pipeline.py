"""One poll's worth of records in, exactly one decision or dead letter per record out.

decode -> classify (pure) -> Redis INGEST (one round trip) -> arbitrate (pure)
-> Redis RECORD (one round trip) -> produce without awaiting each record.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

import orjson

from rules import (
    Catalogue,
    Decision,
    Event,
    History,
    HistoryUpdate,
    InvalidEvent,
    arbitrate,
    classify,
    decode_stored,
    history_update,
    stored_write,
)
from streams.codec import Record, dead_letter, decode_event
from streams.emit import Outputs
from streams.stats import WorkerStats
from streams.store import FIRST, REPEAT, RecordItem, StateStore, field


class _Pending:  # a plain class: built in C once compiled (a NamedTuple's __new__ is Python)
    def __init__(self, record: Record, event: Event, mots: tuple[str, ...]) -> None:
        self.record = record
        self.event = event
        self.mots = mots


class Pipeline:
    def __init__(
        self,
        catalogue: Catalogue,
        store: StateStore,
        emitter: Outputs,
        stats: WorkerStats,
        clock: Callable[[], float] = time.time,
        event_time: bool = False,
        observe: Callable[[Event, Decision], None] | None = None,
    ) -> None:
        """`event_time`: decide each event at its own ts (the simulation's clock) instead of
        the batch's `clock()`; `observe` sees every decision made (not the stored ones a
        repeat re-emits), for the simulation's tallies."""
        self.catalogue = catalogue
        self.store = store
        self.emitter = emitter
        self.stats = stats
        self.clock = clock
        self.event_time = event_time
        self.observe = observe

    async def submit(self, records: Sequence[Record]) -> asyncio.Future[list[object]]:
        """Decide a batch; returns once Redis holds its state, with the future of its outputs.

        The caller may decide the next batch meanwhile, but commits this one's offsets only
        after the future is done.
        """
        now_ms = int(self.clock() * 1000)
        stats, emit, cat = self.stats, self.emitter, self.catalogue
        stats.events_in += len(records)
        times: list[int] = []  # event times of the batch's decisions, for their latencies
        pending: dict[int, list[_Pending]] = defaultdict(list)
        for rec in records:
            try:
                event = decode_event(rec.value)
            except InvalidEvent as exc:
                stats.deadletter += 1
                emit.deadletter(rec.key, dead_letter(rec, str(exc), now_ms))
                continue
            pending[rec.partition].append(_Pending(rec, event, classify(cat, event)))
        if pending:
            await self._decide(pending, now_ms, times)
        stats.emitted(self.clock() * 1000, times)
        return await emit.submit()

    async def _decide(self, pending: dict[int, list[_Pending]], now_ms: int,
                      times: list[int]) -> None:
        cat, stats, emit = self.catalogue, self.stats, self.emitter
        groups = {
            p: [
                (
                    it.event.event_id,
                    it.event.customer_id,
                    [field(m, it.event.product_line) for m in it.mots],
                )
                for it in items
            ]
            for p, items in pending.items()
        }
        replies = await self.store.ingest(groups, now_ms)
        writes: dict[int, list[RecordItem]] = {}
        cap = cat.history_max_entries
        event_time, observe = self.event_time, self.observe
        for p, items in pending.items():
            # A customer's history, what this batch adds to it (applied only if the customer
            # comes again in the batch: most do not, and applying re-parses entries) and the
            # lines stored after it.
            histories: dict[str, tuple[History, HistoryUpdate, int]] = {}
            out: list[RecordItem] = []
            for it, got in zip(items, replies[p], strict=True):
                ev = it.event
                if got.kind == REPEAT:
                    stats.duplicates += 1
                    self._emit_stored(ev, got.stored or b"")
                    times.append(it.record.timestamp_ms)
                    continue
                earlier = histories.get(ev.customer_id)
                if earlier is None:
                    history = decode_stored(got.history, cap)
                    lines = got.history.count(b"\n")
                else:
                    history, lines = earlier[0].apply(earlier[1]), earlier[2]
                at = ev.ts_ms if event_time else now_ms
                decision = arbitrate(cat, ev, it.mots, history, at)
                update = history_update(cat, ev, it.mots, decision, at)
                mode, text, lines = stored_write(lines, history, update)
                histories[ev.customer_id] = (history, update, lines)
                body = decision.to_json()
                out.append(RecordItem(ev.event_id, body, ev.customer_id, mode, text))
                if got.kind != FIRST:
                    stats.duplicates += 1  # a redelivery whose first attempt stored nothing
                action = decision.action
                channel = action.channel if action is not None else None
                program = action.program if action is not None else None
                emit.decision(ev.customer_id, body, channel)
                if observe is not None:
                    observe(ev, decision)
                stats.decided(decision.outcome, program, channel)
                times.append(it.record.timestamp_ms)
            writes[p] = out
        await self.store.record(writes, cat.history_retain_ms)

    def _emit_stored(self, ev: Event, body: bytes) -> None:
        stored = orjson.loads(body)
        action = stored.get("action") or None
        channel = action.get("channel") if action else None
        self.emitter.decision(ev.customer_id, body, channel)
        self.stats.decided(stored.get("outcome", "?"), action.get("program") if action else None,
                           channel)
