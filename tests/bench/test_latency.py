"""The latency phase reads each decision's batch start from its JSON without parsing it all."""

from __future__ import annotations

import pytest

from rules import History, arbitrate, classify, load_catalogue, parse_event
from streams.bench.latency import Cpu, _decided_ms, _event_id, per_event

T0 = 1_700_000_000_000


def test_a_decisions_batch_start_and_event_id_read_as_written() -> None:
    cat = load_catalogue()
    ev = parse_event({"event_id": "e-7", "customer_id": "c-42", "type": "interaction",
                      "product_line": "postpaid", "ts": T0, "channel": "store",
                      "segments": ["high_value"], "attrs": {"reason": "billing"}})
    body = arbitrate(cat, ev, classify(cat, ev), History.empty(), T0 + 1_234).to_json()
    assert _decided_ms(body) == T0 + 1_234
    assert _event_id(body) == "e-7"


def test_a_decision_without_a_readable_batch_start_gives_none() -> None:
    assert _decided_ms(None) is None
    assert _decided_ms(b'{"event_id":"e-1"}') is None
    assert _decided_ms(b'{"decided_ts":"yesterday"}') is None


def test_cpu_per_event_is_microseconds_over_the_events_sent() -> None:
    # 0.5 s of worker, 0.1 s of Redis and 0.25 s of broker CPU over 5,000 events.
    before, after = (10.0, 2.0, 30.0), (10.5, 2.1, 30.25)
    got = per_event(before, after, 5000, broker_pid=123)
    assert (got.worker, got.redis, got.broker) == pytest.approx((100.0, 20.0, 50.0))
    assert got.all == pytest.approx(170.0)
    # No broker of this machine's: its CPU is not read, and there is no total.
    alone = per_event(before, (10.5, 2.1, 0.0), 5000, broker_pid=None)
    assert alone == Cpu(pytest.approx(100.0), pytest.approx(20.0), None)  # type: ignore[arg-type]
    assert alone.all is None
