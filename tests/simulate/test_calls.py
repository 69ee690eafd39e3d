"""A replay's pipeline calls hold several slices of event time (streams/simulate/run.py): they
decide exactly as one call per slice, byte for byte, in the same order."""

from __future__ import annotations

import asyncio
import io
import random

import orjson
import pytest

from rules import load_catalogue
from streams import synthetic
from streams.simulate.run import Replay, calls, repeated_ids, replay
from streams.simulate.source import Events, from_lines

T0 = 1_735_689_600_000  # 2025-01-01T00:00Z


def _stream() -> list[bytes]:
    """Two days of a small base (customers come back within minutes: histories, policies),
    with copies of events (next to the first, minutes and more than a day later: the dedupe
    and its TTL) and unreadable lines."""
    pop = synthetic.Population(300, seed=3)
    evs = list(synthetic.events(4000, seed=3, customers=pop, start_ms=T0, step_ms=45_000.0))
    rng = random.Random(7)
    lines = [orjson.dumps(e) for e in evs]
    out: list[bytes] = []
    for i, line in enumerate(lines):
        out.append(line)
        r = rng.random()
        if r < 0.01:
            out.append(line)  # a retried send, next to the first
        elif r < 0.02:
            out.append(b'{"not": "an event"')
        elif r < 0.03 and i >= 5:
            out.append(lines[i - 5])  # an earlier event again, its ts a few minutes back
    for line in lines[:100]:  # again, more than a day later than the first copies
        ev = orjson.loads(line)
        ev["ts"] = T0 + 30 * 3_600_000
        out.append(orjson.dumps(ev))
    return out


def _run(events: Events, merge: bool) -> tuple[Replay, bytes]:
    buf = io.BytesIO()
    r = replay(load_catalogue(), events, keep=True, decisions=buf, merge=merge)
    return r, buf.getvalue()


def test_merged_calls_decide_as_one_call_per_slice() -> None:
    events = from_lines("stream", _stream())
    merged, merged_out = _run(events, True)
    sliced, sliced_out = _run(events, False)
    n_merged = sum(1 for _ in calls(events, {}))
    n_sliced = sum(1 for _ in calls(events, {}, merge=False))
    assert n_merged < n_sliced / 3  # the case the merging is for: calls hold several slices
    assert merged.stats.duplicates > 0 and merged.stats.deadletter > 0
    assert merged_out == sliced_out
    assert merged_out.count(b"\n") == merged.stats.events_in - merged.stats.deadletter
    a, b = merged.tally, sliced.tally
    assert (a.event_ids, a.decided, a.values) == (b.event_ids, b.decided, b.values)
    assert (a.outcomes, a.held, a.contacts, a.deadletters) == (b.outcomes, b.held, b.contacts,
                                                               b.deadletters)
    assert merged.store.totals == sliced.store.totals
    for at in (T0 + 20 * 3_600_000, max(events.times)):  # the MoT windows, as COUNTS reads them
        assert asyncio.run(merged.store.counts(at)) == asyncio.run(sliced.store.counts(at))


def test_decisions_left_unmade_are_the_same_when_a_repeat_renders_them() -> None:
    """Without a decisions file the replay leaves each decision's JSON unmade (the memory
    store keeps the decision itself, rendered for a repeat): same counts, and every stored
    decision renders to the bytes the replay that wrote them all out stored."""
    events = from_lines("stream", _stream())
    made, _ = _run(events, True)
    unmade = replay(load_catalogue(), events, keep=True)
    assert made.stats.duplicates > 0  # repeats, in the same call and later: the case at stake
    # Repeats are counted from their stored decision's JSON: outcomes, programs, channels.
    fields = ("events_in", "deadletter", "duplicates", "outcomes", "programs", "channels",
              "seen")
    assert [getattr(unmade.stats, f) for f in fields] == [getattr(made.stats, f) for f in fields]
    a, b = made.tally, unmade.tally
    assert (a.event_ids, a.decided, a.values) == (b.event_ids, b.decided, b.values)
    assert (a.outcomes, a.held, a.contacts, a.deadletters) == (b.outcomes, b.held, b.contacts,
                                                               b.deadletters)
    stored = 0
    again = repeated_ids(events.ids)
    for p, part in made.store.parts.items():
        kept = unmade.store.parts[p].events
        assert kept.keys() == part.events.keys()
        assert kept.keys() <= again  # an id the input holds once is never keyed
        for eid, seen in part.events.items():
            body, got = seen.stored, kept[eid].stored
            assert isinstance(body, bytes) and not isinstance(got, bytes)
            assert got.to_json() == body
            stored += 1
    assert stored > 50


def test_keying_only_the_repeated_ids_decides_as_keying_every_id() -> None:
    """The replay keys only the event ids its input holds more than once (MemoryStore's
    `repeated`): the same decisions, byte for byte, and the same counts as keying them all."""
    assert repeated_ids(["a", "b", None, "a", None, "c", "a"]) == {"a"}
    assert repeated_ids(["a", "b"]) == frozenset()
    events = from_lines("stream", _stream())
    assert len(repeated_ids(events.ids)) > 50  # copies next to, after and a day after the first
    out: list[bytes] = []
    runs: list[Replay] = []
    for known in (True, False):
        buf = io.BytesIO()
        runs.append(replay(load_catalogue(), events, keep=True, decisions=buf,
                           repeats_known=known))
        out.append(buf.getvalue())
    assert out[0] == out[1]
    a, b = runs[0], runs[1]
    assert (a.stats.duplicates, a.stats.events_in) == (b.stats.duplicates, b.stats.events_in)
    assert (a.tally.decided, a.tally.held, a.tally.contacts) == (
        b.tally.decided, b.tally.held, b.tally.contacts)
    keyed = [sum(len(p.events) for p in r.store.parts.values()) for r in runs]
    assert keyed[0] < keyed[1] / 10  # the case it is for: far fewer keys held


def test_the_histories_kept_read_are_what_their_text_reads() -> None:
    """The memory store takes each history after a write from the pipeline (read already, not
    parsed again): at the end of a replay every customer's read history is what decoding the
    stored text gives."""
    from rules import decode_stored

    cat = load_catalogue()
    r = replay(cat, from_lines("stream", _stream()))
    histories = [h for part in r.store.parts.values() for h in part.histories.values()]
    assert len(histories) > 250 and sum(h.lines for h in histories) > 2_000
    for h in histories:
        assert h.read == decode_stored(h.text, cat.history_max_entries)
        assert h.lines == h.text.count(b"\n")


def test_the_most_actions_a_customer_got_in_a_day_and_a_week() -> None:
    """The tally's running maxima against counting every (customer, day) and (customer,
    week) of the decisions written out."""
    from collections import Counter
    from datetime import datetime

    r, out = _run(from_lines("stream", _stream()), True)
    days: Counter[tuple[str, int]] = Counter()
    weeks: Counter[tuple[str, int]] = Counter()
    seen: set[str] = set()
    for line in out.splitlines():
        d = orjson.loads(line)
        if d["outcome"] != "action" or d["event_id"] in seen:  # a repeat's copy: counted once
            continue
        seen.add(d["event_id"])
        ms = int(datetime.fromisoformat(d["decided_ts"]).timestamp() * 1000)
        days[(d["customer_id"], ms // 86_400_000)] += 1
        weeks[(d["customer_id"], ms // (7 * 86_400_000))] += 1
    assert max(days.values()) >= 2  # some customer got more than one: the maximum means something
    assert (r.tally.max_per_day, r.tally.max_per_week) == (max(days.values()),
                                                           max(weeks.values()))


def test_decisions_out_of_time_order_are_refused_by_the_tally() -> None:
    """The tally's day and week maxima count each customer's decisions as they come, in time
    order (a replay sorts its events): a decision from an earlier day is an error, not a
    maximum counted wrong."""
    from rules import History, arbitrate, classify
    from rules.event import parse_event
    from streams.simulate.tally import Tally

    cat = load_catalogue()
    tally = Tally(cat)
    for raw in synthetic.events(500, seed=3, customers=50, start_ms=T0, step_ms=1_000.0):
        ev = parse_event(raw)
        mots = classify(cat, ev)
        later = arbitrate(cat, ev, mots, History.empty(), T0 + 2 * 86_400_000)
        if later.action is not None:
            break
    else:
        raise AssertionError("no action in the stream")
    tally.observe(ev, later)
    tally.observe(ev, later)
    assert tally.max_per_day == 2
    earlier = arbitrate(cat, ev, mots, History.empty(), T0)
    with pytest.raises(ValueError, match="out of time order"):
        tally.observe(ev, earlier)
