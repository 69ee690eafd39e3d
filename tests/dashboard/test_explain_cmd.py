"""`arbiter explain` on decided events: the outcome, every candidate's reason, the policies
that held anything back; from Redis, or from the decisions topic once Redis has forgotten."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from tests.dashboard.support import Running

pytestmark = pytest.mark.integration


def explain(running: Running, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", "explain", *args],
                          env={**os.environ, **running.settings.to_env(), **env},
                          capture_output=True, text=True, timeout=60)


def _decision(running: Running, event_id: object) -> dict[str, object]:
    [d] = [d for d in running.decisions if d["event_id"] == event_id]
    return d


@pytest.mark.parametrize(("index", "outcome"), [(0, "action"), (1, "suppressed"), (2, "no_mot")])
def test_explain_prints_the_outcome_and_every_reason(running: Running, index: int,
                                                     outcome: str) -> None:
    d = _decision(running, running.scripted[index]["event_id"])
    assert d["outcome"] == outcome
    done = explain(running, str(d["event_id"]))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"outcome    {outcome}:" in out
    assert f"customer   {d['customer_id']}" in out
    assert "found in   Redis" in out
    candidates = d["candidates"]
    assert isinstance(candidates, list)
    assert f"candidates {len(candidates)}" in out
    for c in candidates:
        assert c["reason"] in out and c["action"] in out
    if outcome == "action":
        action = d["action"]
        assert isinstance(action, dict) and f"action     {action['id']}" in out
    if outcome == "suppressed":
        # The first event's action an instant before holds the second back for ten minutes.
        assert "held back by contact policies" in out
        assert "burst_guard: releases" in out
    if outcome == "no_mot":
        assert "MoTs       (none)" in out and "candidates 0" in out


def test_explain_json_is_the_decision_as_written(running: Running) -> None:
    d = _decision(running, running.scripted[0]["event_id"])
    done = explain(running, str(d["event_id"]), "--json")
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == d


def test_explain_reads_the_topic_once_redis_has_forgotten(running: Running) -> None:
    d = _decision(running, running.scripted[1]["event_id"])
    # Another key prefix: Redis holds nothing for it, as after the dedupe window.
    done = explain(running, str(d["event_id"]), ARBITER_REDIS_PREFIX="forgotten")
    assert done.returncode == 0, done.stderr
    assert "outcome    suppressed:" in done.stdout
    assert f"found in   topic {running.settings.topics.decisions}" in done.stdout


def test_explain_customer_lists_the_latest_first(running: Running) -> None:
    first, second = running.scripted[0], running.scripted[1]
    done = explain(running, "--customer", str(first["customer_id"]), "--json")
    assert done.returncode == 0, done.stderr
    got = [orjson.loads(line)["event_id"] for line in done.stdout.splitlines()]
    assert got == [second["event_id"], first["event_id"]]


def test_explain_an_unknown_event_fails(running: Running) -> None:
    done = explain(running, "no-such-event-0123")
    assert done.returncode != 0
    assert "no decision found for event_id 'no-such-event-0123'" in done.stderr
    assert done.stdout == ""
