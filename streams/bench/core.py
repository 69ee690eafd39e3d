"""The pure core's throughput: classify + arbitrate on one core, no Kafka, no Redis.

Events and histories are built before the clock starts, so the figure is the decision core
alone: what one worker process can decide per second at most.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable

from rules import (
    INTERACTION_CHANNELS,
    PRODUCT_LINES,
    Event,
    History,
    arbitrate,
    classify,
    decode_history,
    load_catalogue,
    parse_event,
)
from rules.history import encode_action, encode_risk

_SEGMENTS = ("students", "seniors", "children", "5g_ready", "fibre_area", "high_value",
             "churn_risk", "converged")
_PROGRAMS = ("lifecycle", "upsell_cross_sell", "proactive_care", "retention", "loyalty")
_OUT = ("sms", "email", "push", "outbound_call")
_RISKS = ("complaint", "service_interruption", "bill_shock", "cancellation")
_DAY = 86_400_000


def _attrs(rng: random.Random, etype: str) -> dict[str, object]:
    r = rng.random
    builders: dict[str, Callable[[], dict[str, object]]] = {
        "top_up": lambda: {"first": r() < 0.1, "amount": 10},
        "package_purchased": lambda: {"first": r() < 0.1, "package": "data_5gb"},
        "invoice_issued": lambda: {"first": r() < 0.05, "amount": round(30 * (0.8 + r()), 2),
                                   "average_amount": 30.0},
        "contract_ending": lambda: {"days_left": rng.randint(1, 90)},
        "device_lease_expiring": lambda: {"days_left": rng.randint(1, 60)},
        "device_fault": lambda: {"kind": rng.choice(("malfunction", "misconfiguration"))},
        "interaction": lambda: {"reason": rng.choice(
            ("billing", "offer", "technical", "general", "cancellation"))},
        "service_outage": lambda: {"minutes": rng.randint(5, 600)},
        "payment_overdue": lambda: {"days_overdue": rng.randint(1, 60)},
        "complaint_submitted": lambda: {"topic": "network"},
    }
    return builders.get(etype, dict)()


def build_events(count: int, seed: int, types: list[str]) -> list[Event]:
    """Realistic events over every event type and the three product lines."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        etype = "interaction" if rng.random() < 0.25 else types[i % len(types)]
        obj: dict[str, object] = {
            "event_id": f"bench-{seed}-{i}", "customer_id": f"c{rng.randrange(50_000)}",
            "type": etype, "product_line": PRODUCT_LINES[rng.randrange(3)],
            "ts": 1_700_000_000_000 + i, "attrs": _attrs(rng, etype),
            "segments": rng.sample(_SEGMENTS, rng.choice((0, 0, 1, 1, 2))),
        }
        if etype == "interaction":
            obj["channel"] = rng.choice(INTERACTION_CHANNELS)
        out.append(parse_event(obj))
    return out


def history_entries(count: int, seed: int, now_ms: int) -> list[list[str]]:
    """Contact histories as entries newest first, from empty (most customers) to a few
    dozen entries over a week."""
    rng = random.Random(seed + 1)
    out = []
    for _ in range(count):
        size = rng.choice((0, 0, 0, 1, 2, 3, 5, 8, 13, 21, 34))
        entries = []
        for _ in range(size):
            ts = now_ms - rng.randrange(7 * _DAY)
            if rng.random() < 0.2:
                entries.append(encode_risk(ts, rng.choice(_RISKS)))
            else:
                entries.append(encode_action(ts, rng.choice(_PROGRAMS), rng.choice(_OUT),
                                             bool(rng.randrange(2)), "x"))
        out.append(entries)
    return out


def build_histories(count: int, seed: int, now_ms: int) -> list[History]:
    return [decode_history(e) for e in history_entries(count, seed, now_ms)]


def run_core_bench(count: int = 200_000, seed: int = 7) -> dict[str, float]:
    cat = load_catalogue()
    now = 1_700_000_100_000
    events = build_events(count, seed, [*sorted(cat.event_types), "usage_report"])
    histories = build_histories(1024, seed, now)
    mask = len(histories) - 1
    start = time.perf_counter()
    for i, ev in enumerate(events):
        arbitrate(cat, ev, classify(cat, ev), histories[i & mask], now)
    seconds = time.perf_counter() - start
    return {"decisions": count, "seconds": round(seconds, 6),
            "decisions_per_s": round(count / seconds, 1)}


def main_core_bench(as_json: bool) -> int:
    result = run_core_bench()
    if as_json:
        print(json.dumps(result))
    else:
        print(f"core: {result['decisions']:,} decisions in {result['seconds']:.2f} s = "
              f"{result['decisions_per_s']:,.0f} decisions/s on one core (classify + arbitrate)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_core_bench(False))
