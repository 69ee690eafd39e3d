"""The events a simulation replays: JSON lines from a file or stdin, or the synthetic stream,
sorted by event time (ties keep their input order).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import BinaryIO

import orjson

from rules import InvalidEvent
from rules.event import parse_ts
from streams import synthetic

DAY_MS = 86_400_000
# The synthetic stream starts here (2025-01-01T00:00Z): the same seed gives the same events.
SYNTHETIC_START_MS = 1_735_689_600_000


class SourceError(Exception):
    """The input cannot be read at all (a missing file): one line for the person."""


class Events:
    """The values to replay in event-time order, with each one's time (epoch ms), its
    position in the input (the dead letters' `offset`), and its event_id and customer_id
    (None when unreadable: such a record is a dead letter), which tell the replay which
    events may share a call to the pipeline (streams/simulate/run.py)."""

    def __init__(self, name: str, values: list[bytes], times: list[int],
                 ids: list[str | None], customers: list[str | None]) -> None:
        self.name = name  # the dead letters' `topic`: the file, "-" or "synthetic"
        order = sorted(range(len(values)), key=times.__getitem__)  # stable: ties keep order
        self.values = [values[i] for i in order]
        self.times = [times[i] for i in order]
        self.ids = [ids[i] for i in order]
        self.customers = [customers[i] for i in order]
        self.offsets = order

    def __len__(self) -> int:
        return len(self.values)


def _read(value: bytes) -> tuple[int | None, str | None, str | None]:
    """(ts ms, event_id, customer_id), each None when it cannot be read."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None, None, None
    if type(obj) is not dict:
        return None, None, None
    eid, cust = obj.get("event_id"), obj.get("customer_id")
    eid = eid if type(eid) is str else None
    cust = cust if type(cust) is str else None
    try:
        return (parse_ts(obj["ts"]) if "ts" in obj else None), eid, cust
    except InvalidEvent:
        return None, eid, cust


def from_lines(name: str, lines: Iterable[bytes]) -> Events:
    """Every non-blank line is one record. A line whose time cannot be read (it will be a dead
    letter) keeps its place after the line before it."""
    values: list[bytes] = []
    times: list[int] = []
    ids: list[str | None] = []
    customers: list[str | None] = []
    last = 0
    for line in lines:
        value = line.rstrip(b"\r\n")
        if not value.strip():
            continue
        ts, eid, cust = _read(value)
        if ts is not None:
            last = ts
        values.append(value)
        times.append(last)
        ids.append(eid)
        customers.append(cust)
    return Events(name, values, times, ids, customers)


def from_path(path: str) -> Events:
    """A JSON-lines file, or stdin for "-". Raises SourceError when it cannot be opened."""
    if path == "-":
        return from_lines("-", sys.stdin.buffer)
    try:
        f: BinaryIO = open(path, "rb")  # noqa: SIM115  closed below
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    with f:
        return from_lines(path, f)


def from_synthetic(count: int, days: float, seed: int, customers: int) -> Events:
    """`arbiter send`'s stream, `count` events spread evenly over `days` from
    SYNTHETIC_START_MS, over a base of `customers`."""
    step = days * DAY_MS / max(1, count)
    pop = synthetic.Population(customers, seed=seed)
    dumps = orjson.dumps
    values: list[bytes] = []
    times: list[int] = []
    ids: list[str | None] = []
    owners: list[str | None] = []
    for ms, ev in synthetic.timed_events(count, seed=seed, customers=pop,
                                         start_ms=SYNTHETIC_START_MS, step_ms=step):
        # A copy of exactly its size: orjson's bytes keep the allocation they were built in
        # (about 4 KiB whatever their length), 20 times what a million events need.
        values.append(bytes(memoryview(dumps(ev))))
        times.append(ms)
        ids.append(str(ev["event_id"]))
        owners.append(str(ev["customer_id"]))
    return Events("synthetic", values, times, ids, owners)
