"""A short version of every `arbiter chaos` scenario, on the real local stack, each ending with
the audit: every event decided, repeats byte-identical, nothing lost, MoT counts exact, lag 0.

The broker restart runs last: it stops the local stack's Kafka and must leave it answering.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.chaos.run import Outcome, Timings, run_scenario
from streams.chaos.scenarios import SCENARIOS, Scenario
from streams.settings import Settings
from streams.stack import control

pytestmark = pytest.mark.integration

# 3,000 events at 1,000/s; faults scaled down, the pause still past the 10 s socket timeout.
SHORT = Timings(events=3000, rate=1000.0, fault_s=2.0, pause_s=11.0, full_s=3.0, kills=2,
                joins=1, commit_timeout_s=120.0)


def _scenario(name: str) -> Scenario:
    return next(sc for group in SCENARIOS.values() for sc in group if sc.name == name)


async def _run(stack, tmp_path: Path, name: str) -> Outcome:
    base = Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url)
    sc = _scenario(name)
    out = await run_scenario(sc.name, sc.fault, base, tmp_path / name, SHORT, sc.private_redis,
                             seed=7)
    a = out.audit
    assert a.sent == SHORT.events, out
    assert a.decided == a.sent and a.lost == 0, out
    assert a.repeated_different == 0 and a.action_conflicts == 0 and a.unexpected == 0, out
    assert a.lag == 0, out
    assert out.faults > 0, "no fault was injected"
    assert out.ok(), out
    return out


async def test_worker_kills(stack, tmp_path: Path) -> None:
    out = await _run(stack, tmp_path, "worker_kills")
    assert out.faults == SHORT.kills
    assert out.audit.count_errors == 0
    # Killed without a commit, each successor re-read and re-emitted byte for byte.
    assert out.audit.repeated_same > 0, "nothing re-read: the kills proved nothing"


@pytest.mark.parametrize("name", ["redis_restart", "script_flush", "redis_pause", "redis_full"])
async def test_redis_faults_count_exactly(stack, tmp_path: Path, name: str) -> None:
    out = await _run(stack, tmp_path, name)
    assert not out.counts_reset and out.audit.count_errors == 0


async def test_redis_back_empty_keeps_the_per_event_invariants(stack, tmp_path: Path) -> None:
    out = await _run(stack, tmp_path, "redis_restart_empty")
    assert out.counts_reset, "the empty restart must say the counts were reset"
    assert out.as_dict()["count_errors"] is None


async def test_rebalance(stack, tmp_path: Path) -> None:
    out = await _run(stack, tmp_path, "rebalance")
    assert out.faults == SHORT.joins and out.crashes == 0
    assert out.audit.count_errors == 0


def test_refuses_servers_other_than_the_local_stack() -> None:
    env = {**os.environ, "ARBITER_KAFKA": "10.255.0.1:9092",
           "ARBITER_REDIS_URL": "redis://10.255.0.1:6379/0"}
    done = subprocess.run([sys.executable, "-m", "streams.cli", "chaos", "--events", "10"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "local stack only" in lines[0], done.stderr


async def test_kafka_restart_last(stack, tmp_path: Path) -> None:
    """Stops the local stack's broker: needs the local stack, and leaves it answering."""
    assert stack.local, "the broker restart needs the local stack (arbiter stack up)"
    out = await _run(stack, tmp_path, "kafka_restart")
    assert out.audit.count_errors == 0
    # A broker away past the producer's delivery timeout may end the worker (exit 1, nothing
    # committed); restarted, it re-reads: the audit above holds either way.
    now = control.status()
    assert now.kafka.up and stack.kafka == f"127.0.0.1:{now.kafka.port}"
