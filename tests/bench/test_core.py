"""The core benchmark decides every pre-built event and reports its rate."""

from __future__ import annotations

import json

from rules import PRODUCT_LINES, load_catalogue
from streams.bench.core import build_events, main_core_bench, run_core_bench


def test_bench_reports_decisions_per_second() -> None:
    got = run_core_bench(count=5_000, seed=3)
    assert set(got) == {"decisions", "seconds", "decisions_per_s"}
    assert got["decisions"] == 5_000 and got["seconds"] > 0
    assert abs(got["decisions_per_s"] - 5_000 / got["seconds"]) / got["decisions_per_s"] < 0.01


def test_bench_events_cover_every_type_and_product_line() -> None:
    cat = load_catalogue()
    events = build_events(3_000, 1, sorted(cat.event_types))
    assert {e.type for e in events} == set(cat.event_types)
    assert {e.product_line for e in events} == set(PRODUCT_LINES)


def test_main_prints_json(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import streams.bench.core as bench

    monkeypatch.setattr(bench, "run_core_bench", lambda: {"decisions": 1, "seconds": 0.5,
                                                          "decisions_per_s": 2.0})
    assert main_core_bench(True) == 0
    assert json.loads(capsys.readouterr().out)["decisions_per_s"] == 2.0
