"""The replay's pipeline calls: which events go together, and their records.

Compiled (setup.py): a million events pass here one by one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from streams.simulate.source import Events
from streams.worker.codec import Record

BATCH: Final = 2000  # as the worker's ARBITER_BATCH_MAX default


def records(events: Events, start: int, end: int) -> list[Record]:
    """The records of events[start:end], as the worker's consumer would hand them over: the
    input's name as topic, partition 0, the input position as offset, no key."""
    values, times, offsets, topic = events.values, events.times, events.offsets, events.name
    return [Record(topic, 0, offsets[i], None, values[i], times[i]) for i in range(start, end)]


def calls(events: Events, when: dict[str, int], merge: bool = True
          ) -> Iterator[tuple[int, int]]:
    """The pipeline calls of a replay, as (start, end) positions in `events`, in order; before
    yielding one, fills `when` with each of its event_ids' slice time (epoch ms). `merge=False`:
    one call per slice."""
    times, ids, customers = events.times, events.ids, events.customers
    n = len(times)
    at = 0
    while at < n:
        start = at
        seen_ids: set[str] = set()
        seen_customers: set[str] = set()
        while at < n:
            # The next slice: [at, end).
            minute = times[at] // 60_000
            end = at + 1
            stop = min(n, at + BATCH)
            while end < stop and times[end] // 60_000 == minute:
                end += 1
            if at > start and (end - start > BATCH
                               or _shares(customers, ids, at, end, seen_customers, seen_ids)):
                break
            t = times[at]
            copies = False
            for i in range(at, end):
                # None (unreadable) is a dead letter: it touches no state.
                e = ids[i]
                if e is not None:
                    # The call's earlier slices hold none of this slice's ids (_shares).
                    if e in seen_ids:
                        copies = True
                    when[e] = t
                    seen_ids.add(e)
                c = customers[i]
                if c is not None:
                    seen_customers.add(c)
            at = end
            if not merge or copies:
                break  # copies of an event_id in this slice: see the module's docstring
        yield start, at


def _shares(customers: list[str | None], ids: list[str | None], at: int, end: int,
            seen_customers: set[str], seen_ids: set[str]) -> bool:
    """Whether events[at:end] share a customer or an event_id with the call so far."""
    for i in range(at, end):
        c = customers[i]
        if c is not None and c in seen_customers:
            return True
        e = ids[i]
        if e is not None and e in seen_ids:
            return True
    return False

