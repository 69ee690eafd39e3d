"""The metrics topic: counts read back from Redis, value and risk by the texts' formulas."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conftest import REDIS_MODES
from harness import Worker, collect, encoded, event, isolated, on_stack, prepare, produce

from rules import incremental_risk, incremental_value, load_catalogue

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", REDIS_MODES)
async def test_metrics_count_what_was_sent(stack, tmp_path: Path, mode: str) -> None:
    base = on_stack(stack, mode)
    s = isolated(base, metrics_interval=1.0, partitions=4)
    await prepare(s)
    sent = (
        [event(f"m-{uuid.uuid4().hex[:8]}", "balance_exhausted", "prepaid") for _ in range(3)]
        + [event(f"m-{uuid.uuid4().hex[:8]}", "complaint_submitted", "home") for _ in range(2)]
        + [event(f"m-{uuid.uuid4().hex[:8]}", "usage_report", "home")]
    )
    expected = {("balance_exhausted", "prepaid"): 3, ("complaint", "home"): 2}
    worker = Worker(s, tmp_path).start()
    try:
        await produce(s, encoded(sent))

        def matches(m: dict) -> bool:
            got = {(e["mot"], e["product_line"]): e["counts"]["5m"] for e in m.get("mots", [])}
            return got == expected

        def done(seen: dict) -> bool:
            records = [m for _, m in seen[s.topics.metrics]]
            return (any(matches(m) for m in records)
                    and sum(m["events"]["in"] for m in records) >= len(sent))

        seen = await collect(s, [s.topics.metrics], done, worker)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    record = next(m for _, m in seen[s.topics.metrics] if matches(m))
    assert {"ts", "worker", "rules_version", "interval_s", "events", "decisions",
            "latency_ms", "programs", "channels", "mots"} <= set(record)
    total_in = sum(m["events"]["in"] for _, m in seen[s.topics.metrics])
    assert total_in == len(sent)
    cat = load_catalogue()
    assert record["rules_version"] == cat.version
    for entry in record["mots"]:
        n = entry["counts"]["30d"]
        assert n == expected[(entry["mot"], entry["product_line"])]
        econ = cat.economics(entry["mot"], entry["product_line"])
        assert entry["value"] == pytest.approx(round(incremental_value(n, econ), 2))
        assert entry["risk"] == pytest.approx(round(incremental_risk(n, econ), 2))
    ranks = [e["value"] + e["risk"] for e in record["mots"]]
    assert ranks == sorted(ranks, reverse=True)
