"""An event repeated inside one batch (a retried send landing next to the first copy) gets
one decision, emitted byte for byte the same each time, counted once."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import orjson
import pytest
from harness import isolated, prepare
from kit import EnvWorker

from streams import kafka
from streams.chaos.audit import audit
from streams.settings import Settings

pytestmark = pytest.mark.integration


def ev(customer: str, type_: str, line: str, **attrs: object) -> dict[str, object]:
    return {"event_id": uuid.uuid4().hex, "customer_id": customer, "type": type_,
            "product_line": line, "ts": int(time.time() * 1000), "attrs": attrs}


async def test_a_repeat_in_the_same_batch_reuses_the_first_decision(stack,
                                                                   tmp_path: Path) -> None:
    s = isolated(Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url),
                 partitions=1)
    await prepare(s)
    c1, c2 = f"bx-{uuid.uuid4().hex[:6]}", f"cx-{uuid.uuid4().hex[:6]}"
    # Two such pairs: each first copy ends in an action that the second copy, decided
    # again against the first's history, would turn into "suppressed".
    twice = [ev(c1, "balance_exhausted", "prepaid", balance=0),
             ev(c2, "contract_ending", "postpaid", days_left=30)]
    once = [ev(f"o-{i}", "complaint_submitted", "home", topic="billing") for i in range(5)]
    records = [once[0], twice[0], twice[0], once[1], twice[1], twice[1], *once[2:]]
    producer = kafka.producer(s)
    await producer.start()
    try:
        batch = producer.create_batch()  # one record batch: one fetch, one decided batch
        for e in records:
            assert batch.append(key=str(e["customer_id"]).encode(), value=orjson.dumps(e),
                                timestamp=None) is not None
        await (await producer.send_batch(batch, s.topics.events, partition=0))
    finally:
        await producer.stop()
    worker = EnvWorker(s, tmp_path).start()
    try:
        result, outputs = await audit(s, twice + once, commit_timeout_s=90)
    finally:
        code = worker.stop()
    assert code == 0, worker.log_tail()
    assert result.ok(), result  # counted once: count_errors would show a second count
    assert result.repeated_same == 2 and result.repeated_different == 0, result
    for e in twice:
        copies = [v for v in outputs[s.topics.decisions]
                  if orjson.loads(v)["event_id"] == e["event_id"]]
        assert len(copies) == 2 and copies[0] == copies[1], copies
        assert orjson.loads(copies[0])["outcome"] == "action", copies[0]
        acts = [v for name in s.topics.all_actions() for v in outputs[name]
                if orjson.loads(v)["event_id"] == e["event_id"]]
        assert acts == copies, "the channel got other bytes than the audit topic"
