"""The synthetic stream and the tail formatters: pure, no servers."""

from __future__ import annotations

import random
from collections import Counter

import orjson
import pytest

from rules.event import parse_ts
from rules.vocab import INTERACTION_CHANNELS, PRODUCT_LINES
from streams import synthetic
from streams.cli.tail import (
    format_action,
    format_deadletter,
    format_decision,
    format_metrics,
    render,
)
from streams.synthetic import (
    MALFORMED_KINDS,
    MAX_EVENT_BYTES,
    REQUIRED_FIELDS,
    UNKNOWN_TYPE,
    Population,
)

CONTRACT_TYPES = {
    "lead_form_submitted", "sim_activated", "contract_signed", "top_up", "package_purchased",
    "balance_exhausted", "package_expired", "allowance_exhausted", "invoice_issued",
    "contract_ending", "addon_activated", "device_lease_expiring", "device_lost", "device_fault",
    "device_changed", "device_upgrade_due", "installation_completed", "quality_degraded",
    "interaction", "service_outage", "complaint_submitted", "payment_overdue",
    "technician_visit", "port_out_requested", "cancellation_requested",
}
START_MS = 1_750_000_000_000


@pytest.fixture(scope="module")
def sample() -> list[dict[str, object]]:
    return list(synthetic.events(50_000, seed=11, start_ms=START_MS))


def contract_problem(ev: object) -> str | None:
    """Why `ev` is not a valid event per the contract; None when it is valid."""
    if not isinstance(ev, dict):
        return "not an object"
    for name in ("event_id", "customer_id", "type"):
        value = ev.get(name)
        if not isinstance(value, str) or not value:
            return f"{name} missing or not a non-empty string"
        if name != "type" and len(value) > 128:
            return f"{name} longer than 128"
    if ev.get("product_line") not in PRODUCT_LINES:
        return "product_line"
    ts = ev.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | str):
        return "ts type"
    if isinstance(ts, str) and not (ts.endswith("Z") and "T" in ts):
        return "ts not RFC 3339"
    if "channel" in ev and ev["channel"] not in INTERACTION_CHANNELS:
        return "channel"
    segments = ev.get("segments", [])
    if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
        return "segments"
    if not isinstance(ev.get("attrs", {}), dict):
        return "attrs"
    return None


def test_every_event_is_valid_and_of_a_known_or_the_deliberate_type(sample):
    problems = [(ev, p) for ev in sample if (p := contract_problem(ev))]
    assert problems == []
    types = {ev["type"] for ev in sample}
    assert types <= CONTRACT_TYPES | {UNKNOWN_TYPE}
    assert UNKNOWN_TYPE in types
    assert len(types & CONTRACT_TYPES) >= 24  # nearly the whole table shows up


def test_encoded_records_are_small_valid_json_keyed_by_customer():
    for key, value in synthetic.records(2_000, seed=3, start_ms=START_MS):
        ev = orjson.loads(value)
        assert contract_problem(ev) is None
        assert key == ev["customer_id"].encode()
        assert len(value) < MAX_EVENT_BYTES


def test_same_seed_same_stream_other_seed_other_stream():
    a = list(synthetic.events(1_000, seed=5, start_ms=START_MS))
    b = list(synthetic.events(1_000, seed=5, start_ms=START_MS))
    c = list(synthetic.events(1_000, seed=6, start_ms=START_MS))
    assert a == b
    assert [e["event_id"] for e in a] != [e["event_id"] for e in c]
    ra = list(synthetic.records(500, seed=5, malformed_ratio=0.1, start_ms=START_MS))
    assert ra == list(synthetic.records(500, seed=5, malformed_ratio=0.1, start_ms=START_MS))


def test_unseeded_streams_differ_so_a_second_send_is_not_all_duplicates():
    first = {e["event_id"] for e in synthetic.events(100)}
    second = {e["event_id"] for e in synthetic.events(100)}
    assert not first & second


def test_event_ids_are_unique(sample):
    ids = [ev["event_id"] for ev in sample]
    assert len(set(ids)) == len(ids) == 50_000
    assert all(len(i) == 32 and i[12] == "4" for i in ids)  # uuid4 hex


def test_product_line_shares(sample):
    share = Counter(ev["product_line"] for ev in sample)
    assert 0.40 <= share["prepaid"] / len(sample) <= 0.50
    assert 0.35 <= share["postpaid"] / len(sample) <= 0.45
    assert 0.10 <= share["home"] / len(sample) <= 0.20
    customers = Population(10_000).shares()
    assert customers["prepaid"] == pytest.approx(0.45, abs=0.02)


def test_types_fit_their_product_line(sample):
    by_line: dict[str, Counter[str]] = {line: Counter() for line in PRODUCT_LINES}
    for ev in sample:
        by_line[ev["product_line"]][ev["type"]] += 1
    assert by_line["prepaid"]["invoice_issued"] == 0
    assert by_line["prepaid"]["top_up"] > by_line["prepaid"]["complaint_submitted"]
    assert by_line["home"]["top_up"] == 0
    assert by_line["home"]["quality_degraded"] > 0
    assert by_line["postpaid"]["installation_completed"] == 0
    assert by_line["postpaid"]["device_lost"] > 0
    # Cancellations are rare everywhere.
    for counts in by_line.values():
        assert counts["port_out_requested"] + counts["cancellation_requested"] < \
            0.03 * sum(counts.values())


def test_first_flags_bill_shocks_and_attrs(sample):
    firsts = [ev for ev in sample if ev["type"] in ("top_up", "package_purchased")
              and ev["attrs"]["first"] is True]
    top_ups = [ev for ev in sample if ev["type"] in ("top_up", "package_purchased")]
    assert 0 < len(firsts) < 0.1 * len(top_ups)
    invoices = [ev["attrs"] for ev in sample if ev["type"] == "invoice_issued"]
    shocks = [a for a in invoices if a["amount"] >= 1.5 * a["average_amount"]]
    assert 0.03 <= len(shocks) / len(invoices) <= 0.07
    for ev in sample:
        attrs = ev.get("attrs", {})
        if ev["type"] == "contract_ending":
            assert isinstance(attrs["days_left"], int) and attrs["days_left"] > 0
        elif ev["type"] == "device_fault":
            assert attrs["kind"] in ("malfunction", "misconfiguration")
        elif ev["type"] == "service_outage":
            assert isinstance(attrs["minutes"], int) and attrs["minutes"] > 0
        elif ev["type"] == "allowance_exhausted":
            assert attrs["resource"] in ("data", "voice", "sms")
        elif ev["type"] == "interaction":
            assert ev["channel"] in INTERACTION_CHANNELS


def test_channels_segments_and_ts_forms(sample):
    assert {ev["channel"] for ev in sample if ev["type"] == "interaction"} == \
        set(INTERACTION_CHANNELS)
    segments = Counter(s for ev in sample for s in ev.get("segments", []))
    assert {"students", "seniors", "children", "5g_ready", "fibre_area"} <= set(segments)
    kinds = Counter(type(ev["ts"]).__name__ for ev in sample)
    assert kinds["int"] > 0.3 * len(sample) and kinds["str"] > 0.3 * len(sample)
    epoch = [ev["ts"] for ev in sample if isinstance(ev["ts"], int)]
    assert min(epoch) >= START_MS - 300_000  # late events lag at most five minutes
    assert max(epoch) <= START_MS + 50_000


def test_customer_ids_and_custom_population():
    ids = {ev["customer_id"] for ev in synthetic.events(5_000, seed=1)}
    assert all(len(i) == 7 and i[0] == "c" and i[1:].isdigit() for i in ids)
    small = Population(50, seed=3, prefix="cust-")
    ids = {ev["customer_id"] for ev in synthetic.events(2_000, seed=1, customers=small)}
    assert ids <= {c.id for c in small.customers}
    assert len(ids) == 50 and all(i.startswith("cust-") for i in ids)


def test_malformed_ratio_mixes_in_every_invalid_kind():
    values = [v for _, v in synthetic.records(5_000, seed=2, malformed_ratio=0.2,
                                                start_ms=START_MS)]
    bad = [v for v in values if _invalid(v)]
    assert 0.15 <= len(bad) / len(values) <= 0.25
    assert {_kind_of(v) for v in bad} == set(MALFORMED_KINDS)
    assert not any(_invalid(v) for _, v in synthetic.records(2_000, seed=2))


@pytest.mark.parametrize("ratio", [-0.1, 1.5])
def test_malformed_ratio_out_of_range(ratio):
    with pytest.raises(ValueError, match="malformed_ratio"):
        next(synthetic.records(1, malformed_ratio=ratio))


def _invalid(raw: bytes) -> bool:
    if len(raw) > MAX_EVENT_BYTES:
        return True
    try:
        return contract_problem(orjson.loads(raw)) is not None
    except orjson.JSONDecodeError:
        return True


def _kind_of(raw: bytes) -> str:
    """Which invalid kind `raw` is, judged from the bytes alone."""
    if len(raw) > MAX_EVENT_BYTES:
        return "too_large"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not_utf8"
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "not_json"
    if not isinstance(obj, dict):
        return "not_object"
    if any(name not in obj for name in REQUIRED_FIELDS):
        return "missing_field"
    if isinstance(obj["product_line"], str) and obj["product_line"] not in PRODUCT_LINES:
        return "unknown_product_line"
    return "wrong_type"


def test_malformed_samples_cover_every_kind_and_are_each_invalid():
    samples = dict(synthetic.malformed_samples())
    assert set(samples) == set(MALFORMED_KINDS)
    for kind, raw in samples.items():
        assert isinstance(raw, bytes)
        assert _invalid(raw), kind
        assert _kind_of(raw) == kind
    assert len(samples["too_large"]) > 65_536
    with pytest.raises(UnicodeDecodeError):
        samples["not_utf8"].decode("utf-8")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(samples["not_json"])
    assert not isinstance(orjson.loads(samples["not_object"]), dict)


def test_malformed_rejects_an_unknown_kind():
    ev = next(synthetic.events(1, seed=1))
    with pytest.raises(ValueError, match="unknown malformed kind"):
        synthetic.malformed("bad_kind", ev, random.Random(1))


# --- tail formatters ------------------------------------------------------------------

DECISION = {
    "decision_id": "d1", "event_id": "e1", "customer_id": "c000123", "product_line": "postpaid",
    "event_type": "invoice_issued", "event_ts": 1_750_000_000_000,
    "decided_ts": "2025-06-15T15:06:40.250Z", "mots": ["invoice_received", "bill_shock"],
    "outcome": "action",
    "action": {"id": "explain_bill", "program": "proactive_care", "channel": "sms"},
    "candidates": [], "rules_version": "v1",
}


def test_format_decision_action():
    line = format_decision(DECISION)
    for part in ("15:06:40.250", "c000123", "postpaid", "invoice_issued",
                 "invoice_received,bill_shock", "action", "explain_bill", "proactive_care",
                 "sms"):
        assert part in line
    assert "\n" not in line


def test_format_decision_suppressed_shows_the_first_reason():
    d = {**DECISION, "outcome": "suppressed", "action": None, "candidates": [
        {"program": "retention", "action": "a", "status": "filtered",
         "reason": "contact cap reached (3 in 7d)"},
        {"program": "loyalty", "action": "b", "status": "filtered", "reason": "other"},
    ]}
    line = format_decision(d)
    assert "suppressed" in line and "contact cap reached (3 in 7d)" in line
    assert "other" not in line and "explain_bill" not in line


def test_format_decision_no_mot_and_missing_keys():
    line = format_decision({"outcome": "no_mot", "customer_id": "c1", "event_type": "usage_report"})
    assert "no_mot" in line and "no MoT" in line and "usage_report" in line
    assert format_decision({})  # nothing to show, yet no exception


def test_format_action_and_deadletter():
    line = format_action(DECISION)
    assert all(p in line for p in ("sms", "c000123", "explain_bill", "proactive_care"))
    dl = {"error": "customer_id: field required", "raw": "x" * 500, "topic": "telco.events",
          "partition": 3, "offset": 1234, "ts": "2025-06-15T15:06:40.250Z"}
    line = format_deadletter(dl)
    assert "telco.events/3@1234" in line and "customer_id: field required" in line
    assert len(line) < 250 and "500 chars" in line
    assert format_action({}) and format_deadletter({})


METRICS = {
    "ts": "2025-06-15T15:06:40.250Z", "worker": "w1", "rules_version": "v7", "interval_s": 5.0,
    "events": {"in": 5000, "per_s": 1000.0, "deadletter": 3, "duplicates": 1},
    "decisions": {"action": 300, "suppressed": 50, "no_candidate": 10, "no_mot": 4640},
    "latency_ms": {"p50": 1.3, "p95": 4.0, "p99": 8.5, "max": 20.0},
    "programs": {"retention": 10}, "channels": {"sms": 10},
    "mots": [
        {"mot": "complaint", "product_line": "home",
         "counts": {"5m": 1, "1h": 2, "24h": 3, "30d": 4}, "value": 10.0, "risk": 5.0},
        {"mot": "cancellation", "product_line": "postpaid",
         "counts": {"5m": 7, "1h": 70, "24h": 700, "30d": 7000}, "value": 100.0, "risk": 9000.5},
        {"mot": "top_up_first", "product_line": "prepaid",
         "counts": {"5m": 9, "1h": 90, "24h": 900, "30d": 9000}, "value": 500.0, "risk": 0.0},
    ],
}


def table_rows(text: str) -> list[str]:
    """The lines under the table's header line."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["rank", "MoT"])
    return lines[start + 1:]


def test_format_metrics_header_and_ranking_by_value_plus_risk():
    text = format_metrics(METRICS)
    lines = text.splitlines()
    head = "\n".join(lines[:2])
    for part in ("w1", "v7", "5000", "1000.0/s", "action 300", "suppressed 50", "no_mot 4640",
                 "p50 1.3", "p99 8.5"):
        assert part in head
    rows = table_rows(text)
    assert [r.split()[1] for r in rows] == ["cancellation", "top_up_first", "complaint"]
    assert rows[0].split()[:7] == ["1", "cancellation", "postpaid", "7", "70", "700", "7000"]
    assert "9,000.50" in rows[0]


def test_format_metrics_follows_given_ranks_and_survives_missing_keys():
    ranked = {**METRICS, "mots": [dict(m, rank=r) for m, r in zip(METRICS["mots"], (1, 3, 2),
                                                                   strict=True)]}
    rows = table_rows(format_metrics(ranked))
    assert [r.split()[1] for r in rows] == ["complaint", "top_up_first", "cancellation"]
    assert "no MoT seen yet" in format_metrics({})
    assert format_metrics({"mots": [{"mot": "x"}, "junk"], "events": None})


def test_render_json_and_unreadable():
    body = orjson.dumps(DECISION)
    assert orjson.loads(render("decisions", body, as_json=True)) == DECISION
    pretty = orjson.dumps(DECISION, option=orjson.OPT_INDENT_2)
    assert "\n" not in render("decisions", pretty, as_json=True)
    assert "unreadable" in render("decisions", b"{oops", as_json=False)
    assert "not an object" in render("metrics", b"[1]", as_json=False)
    assert "c000123" in render("actions", body, as_json=False)


def test_timed_events_are_the_events_with_the_time_their_ts_reads_as() -> None:
    kw = {"seed": 4, "customers": 50, "start_ms": 1_735_689_600_000, "step_ms": 60_000.0}
    timed = list(synthetic.timed_events(500, **kw))  # type: ignore[arg-type]
    assert [ev for _, ev in timed] == list(synthetic.events(500, **kw))  # type: ignore[arg-type]
    assert [ms for ms, _ in timed] == [parse_ts(ev["ts"]) for _, ev in timed]
    assert {type(ev["ts"]) for _, ev in timed} == {int, str}  # both forms of ts were read


def test_a_deadletter_of_bytes_that_are_not_utf8_says_its_raw_is_base64():
    dl = {"error": "event: not UTF-8 (invalid start byte at byte 0)", "raw": "//4=",
          "raw_encoding": "base64", "topic": "telco.events", "partition": 0, "offset": 7}
    assert "raw (base64): '//4='" in format_deadletter(dl)
    assert "raw: 'x'" in format_deadletter({**dl, "raw": "x", "raw_encoding": "utf-8"})
