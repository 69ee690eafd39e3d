"""Latency over time: decisions grouped by the second their event was sent in (pure).

One figure for a whole run hides a stall in its first seconds; per-second windows of send
time show when the late decisions were offered, and the steady state (sends after the first
few seconds) is reported apart from the whole run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from streams.worker.stats import quantile

STEADY_AFTER_S = 5  # sends from this second on are the steady state


@dataclass(frozen=True, slots=True)
class Spread:
    """Nearest-rank p50 and p99 and the maximum of some latencies, ms."""
    p50: float
    p99: float
    max: float


@dataclass(frozen=True, slots=True)
class Window:
    """The events sent in one second of the offered load and the decisions seen of them."""
    second: int  # seconds from the first send: [second, second + 1)
    sent: int  # events sent in the window
    decided: int  # of those, decisions seen (the rest missing)
    spread: Spread | None  # their latencies; None when none was decided


def spread(latencies: Iterable[float]) -> Spread | None:
    """p50 / p99 / max of the latencies (any order); None for none."""
    s = sorted(latencies)
    return Spread(quantile(s, 0.50), quantile(s, 0.99), float(s[-1])) if s else None


def windows(sent_ms: Iterable[int], decided: Iterable[tuple[int, int]],
            start_ms: int) -> list[Window]:
    """Per-second windows from `start_ms` (the first send), up to the last send's window.

    `sent_ms`: each offered event's send time (epoch ms); `decided`: (send time, latency ms)
    of each decision seen. A window with no send in it still appears (the pacer fell
    behind), so the seconds are contiguous. ValueError for a time before `start_ms`.
    """
    sends: Counter[int] = Counter(_second(t, start_ms) for t in sent_ms)
    lat: defaultdict[int, list[int]] = defaultdict(list)
    for t, ms in decided:
        lat[_second(t, start_ms)].append(ms)
    last = max([*sends, *lat], default=-1)
    return [Window(i, sends[i], len(lat.get(i, ())), spread(lat.get(i, ())))
            for i in range(last + 1)]


def steady(decided: Sequence[tuple[int, int]], start_ms: int,
           after_s: int = STEADY_AFTER_S) -> Spread | None:
    """p50 / p99 / max of the decisions whose event was sent `after_s` seconds or more after
    `start_ms`; None when the run was shorter."""
    cut = start_ms + 1000 * after_s
    return spread(ms for t, ms in decided if t >= cut)


@dataclass(frozen=True, slots=True)
class Parts:
    """Where the latency of the decisions went, each part over the same decisions.

    `to_batch`: the event's send to the start of the worker batch that decided it (the
    decision's `decided_ts`): the producer and broker, the worker's fetch, and the wait for
    its lane to finish the batch before. `in_batch`: that start to the broker appending the
    decision: Redis (INGEST, RECORD), deciding, and producing. The two add up to the whole
    latency; `decided_ts` is the worker's clock, the sends the bench's and the append the
    broker's, so on one machine the parts are exact and across machines off by the skew.
    """
    to_batch: Spread
    in_batch: Spread


def parts(decided: Iterable[tuple[int, int, int]], cut_ms: int) -> Parts | None:
    """The parts of the decisions whose event was sent at `cut_ms` or later; `decided`:
    (send time, batch start, appended time) of each, epoch ms. None for none."""
    to_batch, in_batch = [], []
    for t, batch, appended in decided:
        if t >= cut_ms:
            to_batch.append(batch - t)
            in_batch.append(appended - batch)
    a, b = spread(to_batch), spread(in_batch)
    return Parts(a, b) if a is not None and b is not None else None


def _second(t_ms: int, start_ms: int) -> int:
    if t_ms < start_ms:
        raise ValueError(f"a send at {t_ms} ms is before the first one at {start_ms} ms")
    return (t_ms - start_ms) // 1000
