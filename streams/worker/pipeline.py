"""One poll's worth of records in, exactly one decision or dead letter per record out.

decode -> classify (pure) -> Redis INGEST (one round trip) -> arbitrate (pure)
-> Redis RECORD (one round trip) -> produce without awaiting each record.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Final

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
from rules.arms import ActiveRules
from rules.experiments import CHAMPION, CONTROL
from rules.history import APPEND, KEEP
from rules.outcomes import reached, watched
from streams.worker.codec import Record, dead_letter, decode_event
from streams.worker.emit import Outputs, partition_for
from streams.worker.responses import NO_EXPERIMENT, join_tag
from streams.worker.stats import WorkerStats
from streams.worker.store import FIRST, REPEAT, IngestItem, RecordItem, StateStore, field

_NO_UPDATE: Final = HistoryUpdate((), 0, 0)  # a history already applied: nothing more to apply


class _Pending:  # a plain class: built in C once compiled (a NamedTuple's __new__ is Python)
    def __init__(self, record: Record, event: Event, mots: tuple[str, ...], arm: str,
                 slot: int) -> None:
        self.record = record
        self.event = event
        self.mots = mots
        self.arm = arm
        self.slot = slot  # the customer's state slot
        self.reach: list[list[object]] | None = None  # [[mot, within_ms], ...]: rules.outcomes
        self.body = b""  # its decision as emitted, once decided (or re-emitted)
        self.made: Decision | None = None  # its decision, when its JSON was left unmade


def _ingest_item(it: _Pending, at_ms: int) -> IngestItem:
    """INGEST's entry for an event; one that may be a positive outcome also carries the MoTs
    it may reach and its decision time (scripts.INGEST)."""
    ev = it.event
    fields = [field(m, ev.product_line) for m in it.mots]
    if it.reach is None:
        return (ev.event_id, ev.customer_id, fields, it.slot)
    return (ev.event_id, ev.customer_id, fields, it.slot, it.reach, at_ms)


class Pipeline:
    def __init__(
        self,
        catalogue: Catalogue | ActiveRules,
        store: StateStore,
        emitter: Outputs,
        stats: WorkerStats,
        clock: Callable[[], float] = time.time,
        event_time: bool = False,
        observe: Callable[[Event, Decision], None] | None = None,
        per_decision: bool = True,
    ) -> None:
        """`event_time`: decide each event at its own ts (the simulation's clock) instead of
        the batch's `clock()`; `observe` sees every decision made (not the stored ones a
        repeat re-emits), for the simulation's tallies. `per_decision=False` leaves `stats`'
        per-decision figures (outcomes, programs, channels, arms, latencies) uncounted, for a
        caller that counts them itself (the simulation's Tally, whose latencies would be in
        event time); events in, dead letters and duplicates are counted either way."""
        # Read once per batch: a new catalogue (streams.rules_topic) takes effect between two.
        self.active = catalogue if isinstance(catalogue, ActiveRules) else ActiveRules(catalogue)
        self.store = store
        self.emitter = emitter
        self.stats = stats
        self.clock = clock
        self.event_time = event_time
        self.per_decision = per_decision
        self.observe = observe
        # Records of this topic not on their customer's partition are forwarded there; the
        # partition count is the runtime's latest (it grows on a live topic). 0: never.
        self.events_topic = ""
        self.events_partitions = 0

    async def submit(self, records: Sequence[Record]) -> asyncio.Future[list[object]]:
        """Decide a batch; returns once Redis holds its state, with the future of its outputs.

        The caller may decide the next batch meanwhile, but commits this one's offsets only
        after the future is done.
        """
        now_ms = int(self.clock() * 1000)
        stats, emit, active, store = self.stats, self.emitter, self.active, self.store
        cat, exp = active.champion, active.experiment
        stats.events_in += len(records)
        times: list[int] = []  # event times of the batch's decisions, for their latencies
        pending: dict[int, list[_Pending]] = defaultdict(list)
        arms: dict[str, str] = {}  # customer -> arm, hashed once per batch
        # An event_id met again in the same batch (a producer's retried send lands next to
        # the first copy) takes the first copy's decision: INGEST would find it seen but not
        # yet stored and decide it a second time.
        firsts: dict[str, _Pending] = {}
        watching = store.keeps_join
        copies: list[tuple[_Pending, Record]] = []
        # Bound once per batch: a Protocol's method called per event is looked up by name each
        # time (the store is one of two classes).
        slot_of: Callable[[str], int] = store.slot
        group_of: Callable[[int], int] = store.group
        for rec in records:
            try:
                event = decode_event(rec.value)
            except InvalidEvent as exc:
                stats.deadletter += 1
                emit.deadletter(rec.key, dead_letter(rec, str(exc), now_ms))
                continue
            if self.events_partitions and rec.topic == self.events_topic:
                home = partition_for(event.customer_id.encode(), self.events_partitions)
                if rec.partition != home:
                    # Not keyed by its customer (or by another partitioner): re-keyed onto
                    # the customer's partition and decided there, so one lane of one worker
                    # owns each customer. The copy carries the same bytes and event_id.
                    emit.forward(rec.topic, event.customer_id.encode(), rec.value or b"", home)
                    stats.forwarded += 1
                    stats.events_in -= 1  # counted when its copy comes back
                    continue
            first = firsts.get(event.event_id)
            if first is not None:
                copies.append((first, rec))
                continue
            slot = slot_of(event.customer_id)
            if exp is None:
                item = _Pending(rec, event, classify(cat, event), CHAMPION, slot)
            else:
                arm = arms.get(event.customer_id)
                if arm is None:
                    arm = arms[event.customer_id] = exp.arm(event.customer_id)
                item = _Pending(rec, event, classify(active.catalogue(arm), event), arm, slot)
            if watching:  # a store that keeps the join keeps the watches too
                reach = reached(active.catalogue(item.arm), event)
                if reach:
                    item.reach = [[r.mot, r.within_ms] for r in reach]
            firsts[event.event_id] = item
            pending[group_of(slot)].append(item)
        if pending:
            await self._decide(active, pending, now_ms, times)
        for first, rec in copies:
            stats.duplicates += 1
            if not first.body and first.made is not None:  # left unmade (`_decide`)
                first.body = first.made.to_json()
            self._emit_stored(first.event, first.body)
            times.append(rec.timestamp_ms)
        if self.per_decision:
            stats.emitted(self.clock() * 1000, times)
        return await emit.submit()

    async def _decide(self, active: ActiveRules, pending: dict[int, list[_Pending]],
                      now_ms: int, times: list[int]) -> None:
        cat, stats, emit = active.champion, self.stats, self.emitter
        event_time = self.event_time
        groups: dict[int, list[IngestItem]] = {
            p: [_ingest_item(it, it.event.ts_ms if event_time else now_ms) for it in items]
            for p, items in pending.items()
        }
        replies = await self.store.ingest(groups, now_ms)
        writes: dict[int, list[RecordItem]] = {}
        cap = cat.history_max_entries
        observe = self.observe
        # Decisions with a (would-be) action, for the join of responses: join tag -> entries;
        # and the watched decisions this batch's events converted (rules.outcomes). A store
        # without the join (the simulation's) gets neither.
        indexing = self.store.keeps_join
        index: dict[str, list[bytes]] = {}
        joins: dict[str, list[list[object]]] = {}
        exp_name = active.experiment.name if active.experiment is not None else NO_EXPERIMENT
        prefix = self.store.prefix
        # A store that renders a decision's JSON only for a repeat, and outputs that do not
        # need it (the simulation's, unless it writes the decisions out): the JSON, a fifth
        # of a replay's time, is left unmade. The worker always makes it.
        unmade = self.store.renders_later and not emit.needs_bodies
        # A store that keeps each history read gets it after the write, applied here once
        # (from the update's own entries, nothing parsed), and so does the customer's next
        # event in the batch.
        reads = self.store.keeps_reads
        counting = self.per_decision
        for p, items in pending.items():
            # A customer's history, what this batch adds to it (applied only if the customer
            # comes again in the batch, or the store keeps histories read: most customers do
            # not come again) and the lines stored after it.
            histories: dict[str, tuple[History, HistoryUpdate, int]] = {}
            out: list[RecordItem] = []
            for it, got in zip(items, replies[p], strict=True):
                ev = it.event
                if got.kind == REPEAT:
                    stats.duplicates += 1
                    it.body = got.stored or b""
                    self._emit_stored(ev, it.body)
                    times.append(it.record.timestamp_ms)
                    continue
                if got.reached:
                    for summary in got.reached:
                        did = orjson.loads(summary)[0]
                        joins.setdefault(join_tag(prefix, did), []).append(
                            [did, "converted", False, summary.decode()])
                earlier = histories.get(ev.customer_id)
                if earlier is None:
                    read = got.read
                    if read is None:
                        history = decode_stored(got.history, cap)
                        lines = got.history.count(b"\n")
                    else:  # the memory store's own read of it
                        history, lines = read, got.lines
                else:
                    history, lines = earlier[0].apply(earlier[1]), earlier[2]
                arm = it.arm
                at = ev.ts_ms if event_time else now_ms
                if arm == CHAMPION:
                    decision = arbitrate(cat, ev, it.mots, history, at)
                    update = history_update(cat, ev, it.mots, decision, at)
                else:
                    by = active.catalogue(arm)
                    decision = arbitrate(by, ev, it.mots, history, at, arm)
                    # Control: the would-be action is recorded, but no contact happened.
                    update = history_update(by, ev, it.mots, decision.without_action()
                                            if arm == CONTROL else decision, at)
                before = lines
                mode, text, lines = stored_write(lines, history, update)
                after: History | None = None
                if reads and mode != KEEP:
                    after = history.apply(update)
                    histories[ev.customer_id] = (after, _NO_UPDATE, lines)
                else:
                    histories[ev.customer_id] = (history, update, lines)
                if unmade:
                    body, it.made = b"", decision
                else:
                    body = it.body = decision.to_json()
                action = decision.action
                watch: list[object] | None = None
                if action is not None and indexing:
                    did = decision.decision_id
                    window = watched(active.catalogue(arm), action.mot)
                    summary = orjson.dumps([did, exp_name, arm, action.program, action.id,
                                            window])
                    index.setdefault(join_tag(prefix, did), []).append(summary)
                    if window:
                        watch = [action.mot, summary.decode(), at, window]
                out.append(RecordItem(ev.event_id, body, ev.customer_id, mode, text, it.slot,
                                      watch, it.made, after,
                                      lines - before if mode == APPEND else lines))
                if got.kind != FIRST:
                    stats.duplicates += 1  # a redelivery whose first attempt stored nothing
                sent = action is not None and arm != CONTROL
                channel = action.channel if sent else None  # type: ignore[union-attr]
                program = action.program if sent else None  # type: ignore[union-attr]
                emit.decision(ev.customer_id, body, channel)
                if observe is not None:
                    observe(ev, decision)
                if counting:
                    stats.decided(decision.outcome, program, channel)
                    if arm != CHAMPION:  # the champion's are the rest (see metrics)
                        stats.armed(arm, action is not None)
                times.append(it.record.timestamp_ms)
            writes[p] = out
        # JOIN's replies need no reading here: it counts each conversion once in Redis.
        await self.store.record(writes, cat.history_retain_ms, index, joins)

    def _emit_stored(self, ev: Event, body: bytes) -> None:
        stored = orjson.loads(body)
        action = stored.get("action") or None
        arm = stored.get("arm", CHAMPION)
        # A control decision was never sent: its repeat is not either.
        channel = action.get("channel") if action and arm != CONTROL else None
        self.emitter.decision(ev.customer_id, body, channel)
        if not self.per_decision:
            return
        program = action.get("program") if action and channel else None
        self.stats.decided(stored.get("outcome", "?"), program, channel)
        if arm != CHAMPION:
            self.stats.armed(arm, action is not None)
