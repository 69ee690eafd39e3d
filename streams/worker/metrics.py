"""The periodic metrics record: this worker's figures plus cluster-wide MoT counts from Redis."""

from __future__ import annotations

import time
from typing import Protocol

from rules import OUTCOMES, Catalogue, incremental_risk, incremental_value
from rules.arms import ActiveRules
from rules.decision import rfc3339_ms
from rules.experiments import CHALLENGER, CHAMPION, CONTROL
from streams.worker.stats import WorkerStats, percentiles

WINDOWS = ("5m", "1h", "24h", "30d")
VALUE_WINDOW = 3  # the texts count MoTs "over a period of time, say, a month": the 30d window


def mot_entries(catalogue: Catalogue, counts: dict[str, list[int]]) -> list[dict[str, object]]:
    """One entry per (MoT, product line) seen, ranked by incremental value plus risk."""
    out: list[dict[str, object]] = []
    for key, c in counts.items():
        mot, _, line = key.partition("|")
        if mot not in catalogue.mots:
            continue  # counted under an older catalogue
        econ = catalogue.economics(mot, line)
        n = c[VALUE_WINDOW]
        out.append({
            "mot": mot,
            "product_line": line,
            "counts": dict(zip(WINDOWS, c, strict=True)),
            "value": round(incremental_value(n, econ), 2),
            "risk": round(incremental_risk(n, econ), 2),
        })
    out.sort(key=lambda e: (-(e["value"] + e["risk"]), e["mot"], e["product_line"]))  # type: ignore[operator]
    for rank, e in enumerate(out, 1):
        e["rank"] = rank
    return out


def build(stats: WorkerStats, catalogue: Catalogue, counts: dict[str, list[int]],
          worker: str, now_ms: int) -> dict[str, object]:
    interval = max(time.monotonic() - stats.started, 1e-6)
    latency: dict[str, float] = percentiles(stats.latencies)
    latency["max"] = round(stats.max_latency, 2)
    return {
        "ts": rfc3339_ms(now_ms),
        "worker": worker,
        "rules_version": catalogue.version,
        "interval_s": round(interval, 3),
        "events": {
            "in": stats.events_in,
            "per_s": round(stats.events_in / interval, 1),
            "deadletter": stats.deadletter,
            "duplicates": stats.duplicates,
            "forwarded": stats.forwarded,
        },
        "decisions": {o: stats.outcomes.get(o, 0) for o in OUTCOMES},
        "latency_ms": latency,
        "programs": dict(stats.programs),
        "channels": dict(stats.channels),
        "mots": mot_entries(catalogue, counts),
        "arms": arm_entries(stats),
    }


def arm_entries(stats: WorkerStats) -> dict[str, dict[str, int]]:
    """Decisions and actions per arm (control: would-be actions, none sent). Only the other
    arms are counted per decision; the champion's are what remains of the outcomes."""
    total = sum(stats.outcomes.values())
    actions = stats.outcomes.get("action", 0)
    out = {CHAMPION: {"decisions": total - sum(stats.arms.values()),
                      "actions": actions - sum(stats.arm_actions.values())}}
    for arm in (CHALLENGER, CONTROL):
        if stats.arms.get(arm):
            out[arm] = {"decisions": stats.arms[arm], "actions": stats.arm_actions.get(arm, 0)}
    return out


class _Following(Protocol):
    active: ActiveRules | None
    source: str
    rejected: int
    switches: int


def rules_entry(follower: _Following) -> dict[str, object]:
    """Which catalogue this worker runs (per arm), where it came from, and how many rules
    records it could not use."""
    active = follower.active
    exp = active.experiment if active is not None else None
    return {
        "versions": active.versions if active is not None else {},
        "experiment": None if exp is None else {
            "name": exp.name, "challenger": exp.challenger,
            "challenger_share": exp.challenger_share, "control_share": exp.control_share},
        "source": follower.source,
        "switches": follower.switches,
        "rejected": follower.rejected,
    }
