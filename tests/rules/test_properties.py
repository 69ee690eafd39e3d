"""Properties over generated events, histories and malformed input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import (
    CHANNELS,
    OUTCOMES,
    PRODUCT_LINES,
    HistoryUpdate,
    InvalidEvent,
    arbitrate,
    classify,
    decode_history,
    decode_stored,
    history_update,
    load_catalogue,
    parse_event,
    stored_write,
)
from rules.history import APPEND, KEEP, REWRITE, encode_action, encode_risk

CAT = load_catalogue()
FRESH = load_catalogue()  # its memos are cleared before each use: decided from scratch
NOW = 1_700_000_000_000
DECISION_FIELDS = {"decision_id", "event_id", "customer_id", "product_line", "event_type",
                   "event_ts", "decided_ts", "mots", "outcome", "action", "candidates",
                   "rules_version", "arm"}
FIELDS = ("event", "event_id", "customer_id", "type", "product_line", "ts", "channel",
          "segments", "attrs")
ATTR_NAMES = sorted({a for et in CAT.event_types.values() for a in et.attrs})
SEGMENTS = ["students", "seniors", "children", "5g_ready", "fibre_area", "high_value",
            "churn_risk", "converged"]

ids = st.text(min_size=1, max_size=128)
scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(
    allow_nan=True) | st.text(max_size=12)
attr_values = scalars | st.sampled_from(["billing", "malfunction", "misconfiguration",
                                         "cancellation", "technical", "data"])
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=5), inner, max_size=3), max_leaves=6)
timestamps = st.integers(0, 253_402_300_799_999) | st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30),
    timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z"))


@st.composite
def events(draw: st.DrawFn) -> dict[str, object]:
    obj: dict[str, object] = {
        "event_id": draw(ids), "customer_id": draw(ids),
        "type": draw(st.sampled_from(sorted(CAT.event_types)) | ids),
        "product_line": draw(st.sampled_from(PRODUCT_LINES)), "ts": draw(timestamps),
    }
    if draw(st.booleans()):
        obj["channel"] = draw(st.sampled_from(["store", "call_center", "telesales", "digital"]))
    if draw(st.booleans()):
        obj["segments"] = draw(st.lists(st.sampled_from(SEGMENTS) | st.text(max_size=8),
                                        max_size=4))
    if draw(st.booleans()):
        obj["attrs"] = draw(st.dictionaries(st.sampled_from(ATTR_NAMES) | st.text(max_size=6),
                                            attr_values, max_size=5))
    if draw(st.booleans()):
        obj["unknown_extra"] = draw(json_values)
    return obj


entries = st.one_of(
    st.builds(lambda dt, p, ch, c: encode_action(NOW - dt, p, ch, c, "x"),
              st.integers(-60_000, 8 * 86_400_000), st.sampled_from(sorted(CAT.programs)),
              st.sampled_from(CHANNELS), st.booleans()),
    st.builds(lambda dt, m: encode_risk(NOW - dt, m), st.integers(-60_000, 3 * 86_400_000),
              st.sampled_from(["complaint", "service_interruption", "bill_shock",
                               "cancellation"])),
    st.text(max_size=20), st.binary(max_size=20),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(), st.lists(entries, max_size=30), st.integers(0, 10 * 86_400_000))
def test_any_valid_event_gets_exactly_one_reproducible_decision(obj, stored, later) -> None:  # type: ignore
    event = parse_event(obj)
    history = decode_history(stored)
    now = NOW + later
    mots = classify(CAT, event)
    decision = arbitrate(CAT, event, mots, history, now)
    assert decision.outcome in OUTCOMES
    assert (decision.outcome == "action") == (decision.action is not None)
    assert (decision.outcome == "no_mot") == (not mots)
    won = [c for c in decision.candidates if c.status == "won"]
    assert len(won) == (1 if decision.action else 0)
    if decision.action is not None:
        assert decision.action.channel in CHANNELS
        assert won[0].action == decision.action.id
    statuses = {c.status for c in decision.candidates}
    assert statuses <= {"won", "lost", "suppressed", "ineligible"}
    if decision.outcome == "suppressed":
        assert "suppressed" in statuses and statuses <= {"suppressed", "ineligible"}
    if decision.outcome == "no_candidate":
        assert statuses <= {"ineligible"}
    out = decision.to_dict()
    assert set(out) == DECISION_FIELDS
    again = arbitrate(CAT, parse_event(obj), classify(CAT, parse_event(obj)),
                      decode_history(stored), now)
    assert again.to_dict() == out
    assert out["rules_version"] == CAT.version
    FRESH.index.screens.clear()
    FRESH.index.ranked.clear()
    scratch = arbitrate(FRESH, event, classify(FRESH, event), history, now)
    assert scratch.to_dict() == out  # memoized and fresh decisions agree
    # The JSON the worker writes (with cached fragments) is to_dict's, key order included.
    assert decision.to_json() == again.to_json() == orjson.dumps(out)


def _line(entry: str | bytes) -> bytes:
    return entry if isinstance(entry, bytes) else entry.encode("utf-8", "surrogatepass")


# A stored line never holds a newline (ids are [a-z0-9_]); junk may be anything else.
lines = entries.filter(lambda e: b"\n" not in _line(e))


@settings(max_examples=300, deadline=None)
@given(events(), st.lists(lines, max_size=140))
def test_history_apply_matches_what_the_shell_stores(obj, stored) -> None:  # type: ignore
    event = parse_event(obj)
    # The shell's string: the entries oldest first (`stored` is newest first), one per line.
    blob = b"".join(_line(e) + b"\n" for e in reversed(stored))
    cap = CAT.history_max_entries
    history = decode_stored(blob, cap)
    assert history.entries == decode_history(stored).entries[:cap]  # the newest readable
    mots = classify(CAT, event)
    decision = arbitrate(CAT, event, mots, history, NOW)
    update = history_update(CAT, event, mots, decision, NOW)
    assert isinstance(update, HistoryUpdate)
    assert update.retain_ms == CAT.history_retain_ms and update.max_entries == cap
    mode, text, count = stored_write(len(stored), history, update)
    after = {KEEP: blob, APPEND: blob + text.encode(), REWRITE: text.encode()}[mode]
    # What Redis holds after the write reads as the history the batch carries on with.
    assert count == after.count(b"\n")
    assert decode_stored(after, cap).entries == history.apply(update).entries
    assert mode == KEEP or count <= 2 * cap
    if decision.action is not None:
        assert history.apply(update).actions[0].action == decision.action.id


def _mutations(valid: dict[str, object]) -> st.SearchStrategy[object]:
    required = ["event_id", "customer_id", "type", "product_line", "ts"]
    drop = st.sampled_from(required).map(lambda k: {x: v for x, v in valid.items() if x != k})
    replace = st.tuples(st.sampled_from(FIELDS[1:]), json_values).map(
        lambda kv: {**valid, kv[0]: kv[1]})
    return st.one_of(drop, replace, json_values.filter(lambda v: not isinstance(v, dict)))


@settings(max_examples=600, deadline=None)
@given(events().flatmap(_mutations))
def test_malformed_input_raises_invalid_event_naming_a_field(obj) -> None:  # type: ignore
    try:
        parse_event(obj)
    except InvalidEvent as exc:
        field = str(exc).split(":", 1)[0]
        assert field in FIELDS, str(exc)


@settings(deadline=None)
@given(events(), st.sampled_from(["event_id", "customer_id", "type", "product_line", "ts"]))
def test_a_missing_required_field_is_named(obj, name) -> None:  # type: ignore
    del obj[name]
    try:
        parse_event(obj)
    except InvalidEvent as exc:
        assert str(exc) == f"{name}: missing"
    else:
        raise AssertionError("accepted an event without " + name)


@settings(deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30)),
       st.integers(-14 * 60, 14 * 60))
def test_rfc3339_with_any_offset_is_the_same_instant(dt, offset_min) -> None:  # type: ignore
    utc = dt.replace(tzinfo=UTC, microsecond=dt.microsecond // 1000 * 1000)
    local = utc.astimezone(timezone(timedelta(minutes=offset_min)))
    ms = (utc - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    base = {"event_id": "e", "customer_id": "c", "type": "t", "product_line": "home"}
    assert parse_event({**base, "ts": local.isoformat(timespec="milliseconds")}).ts_ms == ms
    assert parse_event({**base, "ts": ms}).ts_ms == ms


@given(st.text(min_size=1, max_size=128))
def test_decision_id_is_the_uuid5_of_the_event_id(event_id: str) -> None:
    import uuid

    from rules.decision import decision_id

    namespace = uuid.UUID("6f1c3a52-d0e8-4b7f-a1c2-b9e5d4a70c31")
    assert decision_id(event_id) == str(uuid.uuid5(namespace, event_id))
