"""`arbiter bench --json` runs every phase on the stack and prints exactly the contract's keys.

Tiny numbers: this checks that the bench works, not how fast anything is.
"""

from __future__ import annotations

import json

import pytest

from streams import bench

pytestmark = pytest.mark.integration

KEYS = {"raw_passthrough_eps", "arbiter_eps", "naive_faust_eps", "arbiter_vs_raw",
        "arbiter_vs_naive", "latency_ms", "offered_eps", "worker_rss_mb"}
SMALL = ["--json", "--events", "4000", "--naive-events", "1500", "--offered-eps", "300",
         "--latency-seconds", "2", "--rss-customers", "2000"]


@pytest.mark.timeout(240)
def test_bench_json_has_every_figure(stack: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(SMALL) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == KEYS
    for key in KEYS - {"latency_ms"}:
        assert isinstance(result[key], int | float) and result[key] > 0, key
    assert set(result["latency_ms"]) == {"p50", "p99"}
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert result["offered_eps"] == 300


def test_bench_rejects_a_latency_phase_without_samples() -> None:
    with pytest.raises(SystemExit):
        bench.main(["--latency-seconds", "1"])
