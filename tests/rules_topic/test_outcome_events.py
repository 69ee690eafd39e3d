"""The MoT's positive outcome arriving as an event converts a decision, in every arm: how the
control arm's conversions without any action are measured. Counted once per decision, with or
without a `converted` response too."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import orjson
import pytest
from harness import Worker, isolated, prepare
from rules_kit import arbiter, catalogue_dir, drained, renewal, send

from rules import load_catalogue
from rules.experiments import ARMS, CONTROL
from streams import kafka
from streams.settings import Settings

pytestmark = pytest.mark.integration
CUSTOMERS = 900


def signed(customer: str) -> dict[str, object]:
    """A contract signed: contract_ending's positive outcome (within 30d, mots.yaml)."""
    return {"event_id": uuid.uuid4().hex, "customer_id": customer, "type": "contract_signed",
            "product_line": "postpaid", "ts": int(time.time() * 1000), "attrs": {"months": 24}}


async def test_outcome_events_convert_decisions_once_in_every_arm(stack, tmp_path: Path) -> None:
    s = isolated(Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url),
                 partitions=2)
    await prepare(s)
    challenger = load_catalogue(catalogue_dir(tmp_path, "challenger", lifecycle_priority=10))
    champion_dir = catalogue_dir(tmp_path, "champion", experiments=(
        "experiments:\n  - name: renewals\n    challenger: " + challenger.version
        + "\n    challenger_share: 0.3\n    control_share: 0.3\n"))
    for d in (tmp_path / "challenger", champion_dir):
        done = arbiter(s, "rules", "publish", str(d))
        assert done.returncode == 0, done.stderr
    customers = [f"o{i:04d}" for i in range(CUSTOMERS)]
    by_event = set(customers[::3])  # sign a contract after the renewal decision
    by_response = set(customers[::3][::2]) | set(customers[1::3])  # a `converted` response
    worker = Worker(s, tmp_path).start()
    try:
        await send(s, [renewal(c) for c in customers])
        decided = (await drained(s, [s.topics.decisions]))[s.topics.decisions]
        renewals = {d["customer_id"]: d for _, _, d in decided}
        # Each customer signs twice, and some signatures are delivered twice (the same
        # event_id): the decision converts once. A customer never decided signs too.
        first = [signed(c) for c in sorted(by_event)]
        outcomes = first + [signed(c) for c in sorted(by_event)] + first[:50] + [signed("o-new")]
        await send(s, outcomes)
        seen = (await drained(s, [s.topics.decisions]))[s.topics.decisions]
        await _converted_responses(s, [renewals[c] for c in sorted(by_response)])
        done = arbiter(s, "rules", "experiment", "renewals", "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    assert len(renewals) == CUSTOMERS and all(d["action"] for d in renewals.values())
    decisions = [d for _, _, d in seen]
    assert len(decisions) == CUSTOMERS + len(outcomes)  # every record answered once
    unique = {d["event_id"]: d for d in decisions}
    assert len(unique) == CUSTOMERS + len(outcomes) - 50
    with_action = [d for d in unique.values() if d["action"]]
    arm_of = {c: d["arm"] for c, d in renewals.items()}
    for arm in ARMS:
        got = report["arms"][arm]
        assert got["decisions"] == sum(1 for d in with_action if d["arm"] == arm), arm
        mine = {c for c, a in arm_of.items() if a == arm}
        assert got["converted_by_event"] == len(mine & by_event), arm
        # A response after the event's conversion repeats it: still one conversion.
        assert got["responses"]["converted"] == len(mine & (by_event | by_response)), arm
        assert got["converted_by_event"] > 0, arm
    control = report["arms"][CONTROL]
    assert control["converted_rate"]["p"] > 0, "control converts without any action"


async def _converted_responses(s: Settings, decisions: list[dict]) -> None:
    producer = kafka.producer(s)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(s.topics.responses, orjson.dumps({
            "decision_id": d["decision_id"], "response": "converted", "ts": int(time.time() * 1000),
        }), key=d["customer_id"].encode()) for d in decisions])
    finally:
        await producer.stop()
    await drained(s, [s.topics.deadletter], source=s.topics.responses,
                  group=f"{s.group}.responses")
