"""The baseline: the arbiter's work written the way the Faust docs show, one event at a time.

`python -m streams.bench.naive worker` (or `faust -A streams.bench.naive worker`), configured
by the same ARBITER_* variables as the worker. Per event: decode and validate, classify,
one Redis round trip (the INGEST script for this event alone), arbitrate, then an awaited
`topic.send` for the decision and one for the action. The decision is not stored back
(no RECORD round trip), which only flatters this baseline.
"""

from __future__ import annotations

import time
from typing import Any

import faust
import orjson

from rules import (
    InvalidEvent,
    arbitrate,
    classify,
    decode_stored,
    history_update,
    load_catalogue,
    stored_write,
)
from rules.vocab import CHANNELS
from streams.settings import Settings
from streams.worker.codec import Record, dead_letter, decode_event
from streams.worker.faust_conf import app_options
from streams.worker.store import REPEAT, RecordItem, Store, field

settings = Settings.from_env()
app = faust.App(
    settings.group,
    **app_options(settings, f"naive-{settings.group}"),
)
events = app.topic(settings.topics.events, key_type=bytes, value_type=bytes)
decisions = app.topic(settings.topics.decisions, key_type=bytes, value_type=bytes)
deadletters = app.topic(settings.topics.deadletter, key_type=bytes, value_type=bytes)
actions = {c: app.topic(settings.topics.action(c), key_type=bytes, value_type=bytes)
           for c in CHANNELS}
catalogue = load_catalogue(settings.rules_dir)
store = Store(settings)
store_open: list[bool] = []  # the layout is read at the first event (a running loop)


@app.agent(events)
async def decide(stream: faust.StreamT) -> None:
    async for value in stream:
        msg = stream.current_event.message  # type: ignore[union-attr]
        now_ms = int(time.time() * 1000)
        try:
            event = decode_event(value)
        except InvalidEvent as exc:
            rec = Record(msg.topic, msg.partition, msg.offset, msg.key, value, now_ms)
            await deadletters.send(key=msg.key, value=dead_letter(rec, str(exc), now_ms))
            continue
        mots = classify(catalogue, event)
        if not store_open:
            await store.open()
            store_open.append(True)
        slot = store.slot(event.customer_id)
        item = (event.event_id, event.customer_id, [field(m, event.product_line) for m in mots],
                slot)
        got = (await store.ingest({slot: [item]}, now_ms))[slot][0]
        key = event.customer_id.encode()
        if got.kind == REPEAT:
            await decisions.send(key=key, value=got.stored)
            continue
        history = decode_stored(got.history, catalogue.history_max_entries)
        decision = arbitrate(catalogue, event, mots, history, now_ms)
        body = orjson.dumps(decision.to_dict())
        update = history_update(catalogue, event, mots, decision, now_ms)
        # The same state as the real worker keeps: the decision and the contact history.
        mode, text, _ = stored_write(got.history.count(b"\n"), history, update)
        await store.record(
            {slot: [RecordItem(event.event_id, body, event.customer_id, mode, text, slot)]},
            catalogue.history_retain_ms)
        await decisions.send(key=key, value=body)
        if decision.action is not None:
            await actions[decision.action.channel].send(key=key, value=body)


@app.on_before_shutdown.connect
async def _close(app: Any, /, *_: Any, signal: Any, **__: Any) -> None:
    await store.close()


if __name__ == "__main__":
    app.main()
