"""`arbiter bench --stages`: every step of the pipeline timed, adding up to the ceiling."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from streams.bench import stages as bench_stages


def test_every_stage_is_timed_and_they_add_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_stages.main_stages_bench(True, count=3000) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["events"] == 3000
    per = result["us_per_event"]
    assert tuple(per) == bench_stages.STAGES
    assert all(v > 0 for v in per.values()), per
    assert result["total_us"] == pytest.approx(sum(per.values()), abs=0.05)
    assert result["ceiling_eps"] == pytest.approx(1e6 / result["total_us"], rel=0.01)


def test_the_human_form_names_each_stage(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_stages.main_stages_bench(False, count=1000) == 0
    out = capsys.readouterr().out
    for name in (*bench_stages.STAGES, "total"):
        assert f"  {name} " in out
    assert "events/s per worker process before any I/O" in out


def test_arbiter_bench_stages_json() -> None:
    out = subprocess.run([sys.executable, "-m", "streams.cli", "bench", "--stages", "--json"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    result = json.loads(out)
    assert result["events"] == 100_000 and set(result["us_per_event"]) == set(bench_stages.STAGES)


def test_the_callers_collector_is_left_as_it_was() -> None:
    import gc

    before = gc.get_threshold(), gc.get_freeze_count()
    bench_stages.run_stages(500)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
