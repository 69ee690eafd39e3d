"""What one worker counts between two metrics records."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

LATENCY_SAMPLES: Final = 20_000  # reservoir size: bounded memory at any rate


@dataclass(slots=True)
class WorkerStats:
    events_in: int = 0
    deadletter: int = 0
    duplicates: int = 0
    forwarded: int = 0  # records re-keyed onto their customer's partition (not counted in)
    outcomes: Counter[str] = field(default_factory=Counter)
    programs: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    # Decisions and actions (control: would-be) of the challenger and control arms; the
    # champion's are the rest of `outcomes`.
    arms: Counter[str] = field(default_factory=Counter)
    arm_actions: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    seen: int = 0
    max_latency: float = 0.0
    started: float = field(default_factory=time.monotonic)
    _rng: random.Random = field(default_factory=lambda: random.Random(1))
    _w: float = 0.0  # Algorithm L's W, once the reservoir is full
    _next: int = 0  # the `seen` count of the next sample to keep (0: the reservoir fills)

    def decided(self, outcome: str, program: str | None, channel: str | None) -> None:
        self.outcomes[outcome] += 1
        if program is not None:
            self.programs[program] += 1
        if channel is not None:
            self.channels[channel] += 1

    def armed(self, arm: str, action: bool) -> None:
        self.arms[arm] += 1
        if action:
            self.arm_actions[arm] += 1

    def emitted(self, now_ms: float, event_times: list[int]) -> None:
        """A batch's decisions leave now: one clock reading gives all their latencies.

        A uniform sample of at most LATENCY_SAMPLES latencies per interval: reservoir sampling
        by Li's Algorithm L (ACM TOMS 20(4), 1994), which draws random numbers only for the
        samples it keeps (about k·ln(n/k) of n), not one per decision as Algorithm R."""
        k = LATENCY_SAMPLES
        for ts in event_times:
            latency = now_ms - ts
            if latency > self.max_latency:
                self.max_latency = latency
            self.seen += 1
            if self.seen <= k:
                self.latencies.append(latency)
                if self.seen == k:
                    self._w = self._shrink(1.0)
                    self._next = k + self._skip()
            elif self.seen == self._next:
                self.latencies[self._rng.randrange(k)] = latency
                self._w = self._shrink(self._w)
                self._next += self._skip()

    def _shrink(self, w: float) -> float:
        return w * math.exp(math.log(1.0 - self._rng.random()) / LATENCY_SAMPLES)

    def _skip(self) -> int:
        """How many decisions on the next sample is: 1 + a geometric skip of parameter W."""
        w = self._w
        if w >= 1.0:
            return 1
        return int(math.log(1.0 - self._rng.random()) / math.log(1.0 - w)) + 1

    def take(self) -> WorkerStats:
        """Hand over this interval's figures and start a new interval."""
        snap = WorkerStats(events_in=self.events_in, deadletter=self.deadletter,
                           duplicates=self.duplicates, forwarded=self.forwarded,
                           outcomes=self.outcomes,
                           programs=self.programs, channels=self.channels,
                           arms=self.arms, arm_actions=self.arm_actions,
                           latencies=self.latencies, seen=self.seen,
                           max_latency=self.max_latency, started=self.started)
        self.events_in = self.deadletter = self.duplicates = self.forwarded = self.seen = 0
        self.outcomes, self.programs, self.channels = Counter(), Counter(), Counter()
        self.arms, self.arm_actions = Counter(), Counter()
        self.latencies, self.max_latency, self.started = [], 0.0, time.monotonic()
        self._w, self._next = 0.0, 0
        return snap


def quantile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile (0 < q < 1) of samples sorted ascending (not empty)."""
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of the samples (nearest rank, 2 decimals); zeros when there are none."""
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    s = sorted(samples)
    return {f"p{round(q * 100)}": round(quantile(s, q), 2) for q in (0.50, 0.95, 0.99)}
