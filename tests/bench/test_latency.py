"""The latency phase reads each decision's batch start from its JSON without parsing it all."""

from __future__ import annotations

from rules import History, arbitrate, classify, load_catalogue, parse_event
from streams.bench.latency import _decided_ms, _event_id

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
