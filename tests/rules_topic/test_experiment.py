"""An experiment through a real worker: stable arms in their shares, control sends nothing,
each arm decides with its own catalogue."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path

import orjson
import pytest
from harness import Worker, isolated, prepare
from rules_kit import arbiter, catalogue_dir, drained, metrics, renewal, send

from rules import load_catalogue
from rules.experiments import CHALLENGER, CHAMPION, CONTROL
from streams import kafka
from streams.settings import Settings
from streams.synthetic_responses import responses as synthetic_responses

pytestmark = pytest.mark.integration
CUSTOMERS = 10_000


async def test_arms_split_stably_and_control_reaches_no_channel(stack, tmp_path: Path) -> None:
    s = isolated(Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url),
                 metrics_interval=1.0, partitions=4)
    await prepare(s)
    challenger = load_catalogue(catalogue_dir(tmp_path, "challenger", lifecycle_priority=10))
    exp_dir = catalogue_dir(tmp_path, "champion", experiments=(
        "experiments:\n  - name: lifecycle_low\n    challenger: " + challenger.version
        + "\n    challenger_share: 0.2\n    control_share: 0.1\n"))
    champion = load_catalogue(exp_dir)
    for d in (tmp_path / "challenger", exp_dir):
        done = arbiter(s, "rules", "publish", str(d))
        assert done.returncode == 0, done.stderr
    worker = Worker(s, tmp_path).start()
    try:
        firsts = [renewal(f"x{i:05d}") for i in range(CUSTOMERS)]
        again = [renewal(f"x{i:05d}") for i in range(0, CUSTOMERS, 5)]  # a second event
        await send(s, firsts)
        await send(s, again)
        topics = [s.topics.decisions, *s.topics.all_actions()]
        seen = await drained(s, topics)
        record = await metrics(s, lambda r: CONTROL in r.get("arms", {}))
        decisions = [d for _, _, d in seen[s.topics.decisions]]
        await _responses(s, decisions)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    assert len(decisions) == len(firsts) + len(again)
    arm_of: dict[str, str] = {}
    for d in decisions:
        assert arm_of.setdefault(d["customer_id"], d["arm"]) == d["arm"], "a customer moved arm"
    assert champion.experiment is not None
    assert all(champion.experiment.arm(c) == a for c, a in arm_of.items())
    for arm, share in ((CHALLENGER, 0.2), (CONTROL, 0.1), (CHAMPION, 0.7)):
        n = sum(1 for a in arm_of.values() if a == arm)
        assert abs(n - CUSTOMERS * share) < 4 * math.sqrt(CUSTOMERS * share * (1 - share)), (
            arm, n)
    first_ids = {e["event_id"] for e in firsts}
    by_arm: dict[str, list[dict]] = {CHAMPION: [], CHALLENGER: [], CONTROL: []}
    for d in decisions:
        if d["event_id"] in first_ids:
            by_arm[d["arm"]].append(d)
    want = {CHAMPION: (champion.version, "lifecycle"), CONTROL: (champion.version, "lifecycle"),
            CHALLENGER: (challenger.version, "converged")}
    for arm, ds in by_arm.items():
        assert {(d["rules_version"], d["outcome"], d["action"]["program"]) for d in ds} == {
            (want[arm][0], "action", want[arm][1])}, arm
    sent = {d["decision_id"] for t in s.topics.all_actions() for _, _, d in seen[t]}
    assert not sent & {d["decision_id"] for d in decisions if d["arm"] == CONTROL}
    assert {d["decision_id"] for d in decisions
            if d["arm"] != CONTROL and d["outcome"] == "action"} == sent
    assert set(record["arms"]) == {CHAMPION, CHALLENGER, CONTROL}
    assert record["rules"]["experiment"]["name"] == "lifecycle_low"


def within(true: float, low: float, high: float, widen: float = 1.7) -> bool:
    mid, half = (low + high) / 2, (high - low) / 2
    return abs(true - mid) <= widen * half


RATES = {CHAMPION: (0.30, 0.15), CHALLENGER: (0.30, 0.25), CONTROL: (0.0, 0.05)}


async def _responses(s: Settings, decisions: list[dict]) -> None:
    """Responses at known rates per arm, joined by the worker; the report measures them."""
    drawn = list(synthetic_responses(decisions, RATES, seed=7, now_ms=int(time.time() * 1000)))
    unknown = {"decision_id": "no-such-decision", "response": "accepted", "ts": 1}
    records = [(k, v) for k, v, _ in drawn] + [
        (b"c1", orjson.dumps(unknown)), (b"c2", b'{"decision_id": 5}'), drawn[0][:2]]
    producer = kafka.producer(s)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(s.topics.responses, v, key=k)
                               for k, v in records])
    finally:
        await producer.stop()
    seen = await drained(s, [s.topics.deadletter], source=s.topics.responses,
                         group=f"{s.group}.responses")
    errors = [d["error"] for _, _, d in seen[s.topics.deadletter]]
    assert len(errors) == 2, errors
    assert any("unknown or expired decision_id 'no-such-decision'" in e for e in errors)
    assert any("decision_id" in e and "missing or not a string" in e for e in errors)

    done = arbiter(s, "rules", "experiment", "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["experiment"] == "lifecycle_low"
    arm_of = {d["decision_id"]: d["arm"] for d in decisions if d["action"]}
    for arm, (accept, convert) in RATES.items():
        mine = [r for _, _, r in drawn if arm_of[r["decision_id"]] == arm]
        a = got["arms"][arm]
        assert a["decisions"] == len(mine)  # each decision with a (would-be) action, once
        for kind in ("accepted", "converted"):
            assert a["responses"][kind] == sum(1 for r in mine if r["response"] == kind)
        # A 95 % interval misses the true rate one time in twenty: with six of them a run would
        # fail one time in four. Held to 1.7 x its half-width (about 3.3 standard errors).
        for kind, true in (("accepted", accept), ("converted", convert)):
            low, high = a[f"{kind}_rate"]["ci95"]
            assert within(true, low, high) or (true == 0 and a[f"{kind}_rate"]["p"] == 0), \
                (arm, kind, low, high)
        if arm != CONTROL:
            low, high = a["uplift_vs_control"]["ci95"]
            assert within(convert - RATES[CONTROL][1], low, high), (arm, low, high)
            assert low > 0, "a 10-20 point uplift on thousands of decisions is significant"
