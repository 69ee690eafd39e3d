"""The simulation decides as the worker: the same events through `arbiter simulate` and through
a real worker on Kafka and Redis give the same outcome, action and decision_id for each."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from harness import Worker, collect, isolated, prepare, produce

from streams import synthetic
from streams.settings import Settings

pytestmark = pytest.mark.integration


async def test_same_decisions_as_the_worker(stack, tmp_path: Path) -> None:  # type: ignore
    # In the past, in ts order and close together (2.5 s): the worker decides them all at its
    # wall clock within seconds, the simulation each at its ts; every policy window (10
    # minutes and up) sees the same entries either way. 120 customers: histories and caps bite.
    count = 2500
    start = int(time.time() * 1000) - 120_000
    pop = synthetic.Population(120, seed=5)
    sent = sorted(synthetic.events(count, seed=5, customers=pop, start_ms=start, step_ms=1.0),
                  key=lambda e: synthetic_ms(e["ts"]))
    values = [orjson.dumps(e) for e in sent]
    base = Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url)
    s = isolated(base, partitions=1)
    await prepare(s)
    worker = Worker(s, tmp_path).start()
    try:
        await produce(s, [(str(e["customer_id"]).encode(), v) for e, v in zip(sent, values,
                                                                               strict=True)])
        ids = {e["event_id"] for e in sent}

        def done(seen: dict) -> bool:
            return len(seen[s.topics.decisions]) >= len(ids)

        seen = await collect(s, [s.topics.decisions], done, worker)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    live = {d["event_id"]: d for _, d in seen[s.topics.decisions]}
    assert set(live) == ids

    src = tmp_path / "events.jsonl"
    src.write_bytes(b"".join(v + b"\n" for v in values))
    out = tmp_path / "decisions.jsonl"
    # As a person runs it: the command, in its own process (this test's loop is running).
    run = subprocess.run([sys.executable, "-m", "streams.cli", "simulate", str(src),
                          "--decisions", str(out), "--json"], capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr.decode()
    simulated = {d["event_id"]: d for d in map(orjson.loads, out.read_bytes().splitlines())}
    assert set(simulated) == ids

    def key(d: dict) -> tuple[object, ...]:
        return d["outcome"], (d["action"] or {}).get("id"), (d["action"] or {}).get(
            "channel"), d["decision_id"], d["mots"]

    differ = [(key(live[e]), key(simulated[e])) for e in ids if key(live[e]) != key(simulated[e])]
    assert not differ, differ[:5]
    outcomes = {d["outcome"] for d in live.values()}
    assert {"action", "suppressed", "no_mot"} <= outcomes  # the policies had work to do


def synthetic_ms(ts: object) -> int:
    from rules.event import parse_ts

    return parse_ts(ts)
