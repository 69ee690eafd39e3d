"""The dashboard's view: every metrics record, the latest dead letters and recent decisions
folded into one state, and the JSON the page reads from it.

Counters are totals over the metrics records read (each record carries one worker's figures
for one interval, so the totals are their sums); the MoT ranking is the newest record's, as
every worker reads the same cluster-wide counts from Redis.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from rules import OUTCOMES

HISTORY_S = 15 * 60  # the charts' span
SILENT_INTERVALS = 3  # a worker unheard for this many intervals is silent
DEADLETTERS_KEPT = 50
DECISIONS_KEPT = 20_000  # recent decisions kept (as bytes, about 1 KB each) for the search


def epoch_s(ts: object) -> float | None:
    """A record's `ts` (RFC 3339 string or epoch ms) in epoch seconds; None when unreadable."""
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        return ts / 1000 if ts > 1e11 else float(ts)
    if isinstance(ts, str):
        try:
            return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _num(v: object) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def _dict(v: object) -> dict[str, object]:
    return v if isinstance(v, dict) else {}


@dataclass(slots=True)
class WorkerView:
    """The newest figures of one worker."""

    last_ts: float  # its newest record's ts, epoch s
    interval_s: float
    per_s: float
    latency_ms: dict[str, float]
    rules_version: str


@dataclass(slots=True)
class Point:
    """One chart bucket (one metrics interval), summed over the workers reporting in it."""

    t: int  # bucket start, epoch s
    per_s: float = 0.0  # events in per second, summed over the workers
    outcomes: Counter[str] = field(default_factory=Counter)
    p50: float = 0.0  # the slowest worker's, in ms
    p99: float = 0.0


class DashboardState:
    """Folds records in; `snapshot()` is the page's JSON. Not thread-safe: one event loop."""

    def __init__(self, interval_s: float, decisions_kept: int = DECISIONS_KEPT) -> None:
        self.interval_s = interval_s
        self.events_in = self.deadletter = self.duplicates = 0
        self.metrics_records = 0
        self.outcomes: Counter[str] = Counter({o: 0 for o in OUTCOMES})
        self.programs: Counter[str] = Counter()
        self.channels: Counter[str] = Counter()
        # Per experiment arm (champion, challenger, control): decisions and (would-be) actions.
        self.arm_decisions: Counter[str] = Counter()
        self.arm_actions: Counter[str] = Counter()
        self.mots: list[dict[str, object]] = []
        self.mots_ts = 0.0
        self.mots_from = ""  # the worker whose record gave the ranking
        self.workers: dict[str, WorkerView] = {}
        self.points: dict[int, Point] = {}
        self.deadletters: deque[dict[str, object]] = deque(maxlen=DEADLETTERS_KEPT)
        self.deadletters_read = 0
        self.decisions: deque[tuple[bytes, bytes]] = deque(maxlen=decisions_kept)
        self.unreadable = 0  # records that were not JSON objects
        self.version = 0  # bumped by every fold: the live page sends only on change

    # --- folding ------------------------------------------------------------------------

    def fold_metrics(self, raw: bytes) -> bool:
        """One metrics record; False (and counted as unreadable) when it cannot be read.

        A record whose ts is not newer than its worker's last one is a redelivery: skipped.
        """
        m = self._load(raw)
        ts = epoch_s(m.get("ts")) if m else None
        worker = m.get("worker") if m else None
        if m is None or ts is None or not isinstance(worker, str):
            self.unreadable += 1
            return False
        seen = self.workers.get(worker)
        if seen is not None and ts <= seen.last_ts:
            return True
        events, latency = _dict(m.get("events")), _dict(m.get("latency_ms"))
        interval = _num(m.get("interval_s")) or self.interval_s
        n_in = int(_num(events.get("in")))
        self.events_in += n_in
        self.deadletter += int(_num(events.get("deadletter")))
        self.duplicates += int(_num(events.get("duplicates")))
        decisions = {str(k): int(_num(v)) for k, v in _dict(m.get("decisions")).items()}
        self.outcomes.update(decisions)
        self.programs.update({str(k): int(_num(v)) for k, v in _dict(m.get("programs")).items()})
        self.channels.update({str(k): int(_num(v)) for k, v in _dict(m.get("channels")).items()})
        for arm, figures in _dict(m.get("arms")).items():
            f = _dict(figures)
            self.arm_decisions[str(arm)] += int(_num(f.get("decisions")))
            self.arm_actions[str(arm)] += int(_num(f.get("actions")))
        lat = {k: _num(latency.get(k)) for k in ("p50", "p95", "p99", "max")}
        self.workers[worker] = WorkerView(ts, interval, _num(events.get("per_s")), lat,
                                          str(m.get("rules_version") or ""))
        mots = m.get("mots")
        if isinstance(mots, list) and ts >= self.mots_ts:
            self.mots = [e for e in mots if isinstance(e, dict)]
            self.mots_ts, self.mots_from = ts, worker
        self._chart(ts, interval, n_in, decisions, lat)
        self.metrics_records += 1
        self.version += 1
        return True

    def _chart(self, ts: float, interval: float, n_in: int, decisions: dict[str, int],
               lat: dict[str, float]) -> None:
        step = max(1, round(self.interval_s))
        t = int(ts // step * step)
        p = self.points.get(t)
        if p is None:
            p = self.points[t] = Point(t)
        p.per_s += n_in / interval if interval > 0 else 0.0
        p.outcomes.update(decisions)
        p.p50, p.p99 = max(p.p50, lat["p50"]), max(p.p99, lat["p99"])
        horizon = max(self.points) - HISTORY_S
        for old in [k for k in self.points if k < horizon]:
            del self.points[old]

    def fold_deadletter(self, raw: bytes) -> None:
        d = self._load(raw)
        self.deadletters_read += 1
        self.deadletters.appendleft(d if d is not None else {"error": "unreadable dead letter"})
        self.version += 1

    def fold_decision(self, key: bytes | None, raw: bytes) -> None:
        """Kept as bytes: parsing every decision would cost the dashboard a core at full rate."""
        self.decisions.append((key or b"", raw))

    def _load(self, raw: bytes) -> dict[str, object] | None:
        try:
            v = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return v if isinstance(v, dict) else None

    # --- reading ------------------------------------------------------------------------

    def recent_decisions(self, event_id: str | None = None, customer_id: str | None = None,
                         limit: int = 10) -> list[dict[str, object]]:
        """Newest first: the decision of `event_id`, or `customer_id`'s latest ones."""
        needle = orjson.dumps({"event_id": event_id})[1:-1] if event_id else None
        key = customer_id.encode() if customer_id else None
        out: list[dict[str, object]] = []
        for k, raw in reversed(self.decisions):
            if (needle is not None and needle in raw) or (key is not None and k == key):
                d = self._load(raw)
                if d is not None and (event_id is None or d.get("event_id") == event_id) \
                        and (customer_id is None or d.get("customer_id") == customer_id):
                    out.append(d)
                    if len(out) >= limit or event_id is not None:
                        break
        return out

    def newest_report(self) -> float | None:
        return max((w.last_ts for w in self.workers.values()), default=None)

    def healthy(self, now: float | None = None) -> bool:
        """A metrics record written within the last SILENT_INTERVALS intervals was read."""
        newest = self.newest_report()
        now = time.time() if now is None else now
        return newest is not None and now - newest <= SILENT_INTERVALS * self.interval_s

    def silent(self, now: float) -> list[str]:
        return sorted(w for w, v in self.workers.items()
                      if now - v.last_ts > SILENT_INTERVALS * max(v.interval_s, self.interval_s))

    def snapshot(self, now: float | None = None) -> dict[str, object]:
        """The page's JSON: totals, ranking, workers, 15-minute series, dead letters."""
        now = time.time() if now is None else now
        silent = self.silent(now)
        points = [self.points[t] for t in sorted(self.points) if t >= now - HISTORY_S]
        step = max(1, round(self.interval_s))  # a bucket's length, s
        return {
            "now": now,
            "interval_s": self.interval_s,
            "healthy": self.healthy(now),
            "totals": {"events": self.events_in, "deadletter": self.deadletter,
                       "duplicates": self.duplicates, "metrics_records": self.metrics_records},
            "decisions": dict(self.outcomes),
            "programs": dict(self.programs.most_common()),
            "channels": dict(self.channels.most_common()),
            "arms": {a: {"decisions": n, "actions": self.arm_actions.get(a, 0)}
                     for a, n in sorted(self.arm_decisions.items())},
            "mots": self.mots,
            "mots_from": {"worker": self.mots_from, "ts": self.mots_ts},
            "workers": {
                "reporting": len(self.workers) - len(silent),
                "silent": silent,
                "all": {w: {"last_ts": v.last_ts, "per_s": v.per_s, "latency_ms": v.latency_ms,
                            "rules_version": v.rules_version, "silent": w in silent}
                        for w, v in sorted(self.workers.items())},
            },
            "series": {
                "t": [p.t for p in points],
                "events_per_s": [round(p.per_s, 1) for p in points],
                "outcomes_per_s": {o: [round(p.outcomes.get(o, 0) / step, 2) for p in points]
                                   for o in OUTCOMES},
                "p50": [p.p50 for p in points],
                "p99": [p.p99 for p in points],
            },
            "deadletters": list(self.deadletters),
            "deadletters_read": self.deadletters_read,
        }

