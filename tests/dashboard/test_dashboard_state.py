"""The dashboard's state and health without servers: records folded, redeliveries skipped,
silent workers named, /healthz 200 or 503 (the aiohttp app served on loopback)."""

from __future__ import annotations

import time

import orjson
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from streams.dashboard.prom import exposition, registry
from streams.dashboard.server import build_app
from streams.dashboard.state import DashboardState
from streams.settings import Settings


def record(worker: str, ts_s: float, n: int = 10, action: int = 6) -> bytes:
    return orjson.dumps({
        "ts": int(ts_s * 1000), "worker": worker, "rules_version": "v1", "interval_s": 5.0,
        "events": {"in": n, "per_s": n / 5, "deadletter": 1, "duplicates": 0},
        "decisions": {"action": action, "suppressed": n - 1 - action, "no_candidate": 0,
                      "no_mot": 0},
        "latency_ms": {"p50": 4.0, "p95": 9.0, "p99": 12.0, "max": 20.0},
        "programs": {"retention": action}, "channels": {"sms": action},
        "arms": {"champion": {"decisions": n - 3, "actions": action - 1},
                 "control": {"decisions": 2, "actions": 1}},
        "mots": [{"mot": "cancellation", "product_line": "home", "rank": 1, "value": 5.0,
                  "risk": 9.0, "counts": {"5m": 1, "1h": 1, "24h": 1, "30d": 1}}],
    })


def test_records_add_up_and_a_redelivery_counts_once() -> None:
    s = DashboardState(5.0)
    now = time.time()
    assert s.fold_metrics(record("w1", now - 5))
    assert s.fold_metrics(record("w1", now - 5))  # the same record again: skipped
    assert s.fold_metrics(record("w2", now, n=20, action=10))
    assert not s.fold_metrics(b"not json") and s.unreadable == 1
    assert (s.events_in, s.deadletter, s.outcomes["action"], s.channels["sms"]) == (30, 2, 16, 16)
    snap = s.snapshot(now)
    assert (snap["workers"]["reporting"], snap["workers"]["silent"]) == (2, [])
    assert snap["mots_from"]["worker"] == "w2"  # the newest record's ranking
    # Records 5 s apart fall in two chart buckets: events in over each worker's interval.
    assert snap["series"]["events_per_s"] == [2.0, 4.0]
    assert snap["series"]["outcomes_per_s"]["action"] == [6 / 5, 10 / 5]
    # Per experiment arm, summed over the workers' records (the redelivery once).
    assert snap["arms"] == {"champion": {"decisions": 7 + 17, "actions": 5 + 9},
                            "control": {"decisions": 4, "actions": 2}}
    families = {f.name: f for f in text_string_to_metric_families(
        exposition(registry(s)).decode())}
    arms = {x.labels["arm"]: x.value for x in families["arbiter_arm_decisions"].samples
            if x.name.endswith("_total")}
    assert arms == {"champion": 24, "control": 4}


def test_a_worker_unheard_for_three_intervals_is_silent() -> None:
    s = DashboardState(5.0)
    now = time.time()
    s.fold_metrics(record("old", now - 16))
    s.fold_metrics(record("new", now - 1))
    assert s.silent(now) == ["old"]
    assert s.snapshot(now)["workers"]["reporting"] == 1
    assert s.healthy(now) and not s.healthy(now + 20)


async def test_healthz_answers_503_until_a_fresh_record_then_200() -> None:
    state = DashboardState(5.0)
    async with TestClient(TestServer(build_app(Settings(), state))) as client:
        r = await client.get("/healthz")
        assert r.status == 503
        state.fold_metrics(record("w1", time.time() - 30))  # read, but written too long ago
        assert (await client.get("/healthz")).status == 503
        state.fold_metrics(record("w1", time.time()))
        r = await client.get("/healthz")
        assert r.status == 200 and (await r.json())["healthy"] is True
