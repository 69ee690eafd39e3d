"""parse_event: the contract's schema, with messages that name the field."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import InvalidEvent, parse_event
from rules.event import parse_ts

VALID = {"event_id": "e-1", "customer_id": "c-1", "type": "top_up", "product_line": "prepaid",
         "ts": 1_700_000_000_000}


def err(**changes: object) -> str:
    obj = {**VALID, **changes}
    obj = {k: v for k, v in obj.items() if v is not DROP}
    with pytest.raises(InvalidEvent) as info:
        parse_event(obj)
    return str(info.value)


DROP = object()


def test_a_valid_event_is_read_with_defaults() -> None:
    ev = parse_event({**VALID, "extra": {"ignored": True}})
    assert (ev.event_id, ev.customer_id, ev.type, ev.product_line, ev.ts_ms) == (
        "e-1", "c-1", "top_up", "prepaid", 1_700_000_000_000)
    assert ev.channel is None and ev.segments == () and dict(ev.attrs) == {}
    with pytest.raises(TypeError):
        ev.attrs["x"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        ev.type = "other"  # type: ignore[misc]


def test_optional_fields() -> None:
    ev = parse_event({**VALID, "channel": "store", "segments": ["students"],
                      "attrs": {"first": True}})
    assert ev.channel == "store" and ev.segments == ("students",) and ev.attrs["first"] is True
    ev = parse_event({**VALID, "channel": None, "segments": None, "attrs": None})
    assert ev.channel is None and ev.segments == () and dict(ev.attrs) == {}


@pytest.mark.parametrize(("changes", "message"), [
    ({"customer_id": DROP}, "customer_id: missing"),
    ({"event_id": ""}, "event_id: must be a string of 1-128 characters"),
    ({"event_id": "x" * 129}, "event_id: must be a string of 1-128 characters"),
    ({"customer_id": 42}, "customer_id: must be a string of 1-128 characters"),
    ({"type": ["top_up"]}, "type: must be a string of 1-128 characters"),
    ({"product_line": "fixed"}, "product_line: 'fixed' is not one of prepaid, postpaid, home"),
    ({"product_line": 3}, "product_line: 3 is not one of prepaid, postpaid, home"),
    ({"ts": "yesterday"}, "ts: 'yesterday' is neither RFC 3339 nor epoch milliseconds"),
    ({"ts": True}, "ts: True is neither RFC 3339 nor epoch milliseconds"),
    ({"ts": 1.5}, "ts: 1.5 is neither RFC 3339 nor epoch milliseconds"),
    ({"ts": "2024-02-30T10:00:00Z"}, "ts: '2024-02-30T10:00:00Z' is neither RFC 3339 nor "
                                     "epoch milliseconds"),
    ({"ts": "2024-05-01T10:00:00"}, "ts: '2024-05-01T10:00:00' is neither RFC 3339 nor "
                                    "epoch milliseconds"),
    ({"ts": -1}, "ts: -1 epoch milliseconds out of range (1970 to 9999)"),
    ({"ts": {"ms": 1}}, "ts: {'ms': 1} is neither RFC 3339 nor epoch milliseconds"),
    ({"ts": DROP}, "ts: missing"),
    ({"channel": "sms"}, "channel: 'sms' is not one of store, call_center, telesales, digital"),
    ({"segments": "students"}, "segments: must be a list of strings"),
    ({"segments": ["a", 1]}, "segments: must be a list of strings"),
    ({"attrs": [1, 2]}, "attrs: must be an object"),
])
def test_invalid_fields_are_named(changes: dict, message: str) -> None:
    assert err(**changes) == message


@pytest.mark.parametrize("value", [[VALID], "an event", 42, None])
def test_not_an_object(value: object) -> None:
    with pytest.raises(InvalidEvent, match=r"^event: not a JSON object$"):
        parse_event(value)


@pytest.mark.parametrize(("ts", "ms"), [
    ("2024-05-01T12:00:00.250Z", 1_714_564_800_250),
    ("2024-05-01T14:00:00.250+02:00", 1_714_564_800_250),
    ("2024-05-01t12:00:00z", 1_714_564_800_000),
    ("2024-05-01T12:00:00.123456789Z", 1_714_564_800_123),
    ("1970-01-01T00:00:00Z", 0),
    (1_714_564_800_250, 1_714_564_800_250),
    (1.7145648e12, 1_714_564_800_000),
])
def test_timestamps(ts: object, ms: int) -> None:
    assert parse_event({**VALID, "ts": ts}).ts_ms == ms


def _by_pattern(v: str) -> int | None:
    """What the RFC 3339 pattern alone reads from `v` (None: rejected)."""
    from rules.event import _RFC3339, MAX_TS_MS, _rfc3339_ms

    m = _RFC3339.fullmatch(v)
    ms = None if m is None else _rfc3339_ms(m)
    return ms if ms is not None and 0 <= ms <= MAX_TS_MS else None


def _read(v: str) -> int | None:
    try:
        return parse_ts(v)
    except InvalidEvent:
        return None


_PIECES = ["0", "1", "5", "9", "\u0663", "\u00b2", "x", " ", "+", "-", ":", "."]  # ٣, ²
_DATES = ["2024-05-01", "1969-12-31", "1970-01-01", "2024-02-29", "9999-12-31",
          "\uff12\uff10\uff12\uff14-05-01"]  # the last in full-width digits


@settings(max_examples=3000, deadline=None)
@given(date=st.sampled_from(_DATES), h=st.integers(0, 25), m=st.integers(0, 61),
       s=st.integers(0, 61), milli=st.integers(0, 999), at=st.integers(-1, 11),
       piece=st.sampled_from(_PIECES))
def test_the_common_form_reads_as_the_pattern_reads_it(date: str, h: int, m: int, s: int,
                                                       milli: int, at: int,
                                                       piece: str) -> None:
    """"YYYY-MM-DDTHH:MM:SS.mmmZ" is read without the pattern once its date has been read by
    it: the same milliseconds and the same rejections, for out-of-range fields and for any
    one character of the clock changed (odd digits and separators)."""
    clock = f"{h:02d}:{m:02d}:{s:02d}.{milli:03d}"
    if at >= 0:
        clock = clock[:at] + piece + clock[at + 1:]
    v = f"{date}T{clock}Z"
    _read(f"{date}T00:00:00.000Z")  # its date read by the pattern first (where it is valid)
    assert _read(v) == _by_pattern(v), v


@pytest.mark.parametrize(("ts", "ms"), [
    ("2024-05-01T23:59:60.500Z", 1_714_607_999_500),  # a leap second: the minute's last
    ("2024-05-01T12:00:00.007Z", 1_714_564_800_007),
    ("2024-05-01T12:00:00.٣٣٣Z", 1_714_564_800_333),
])
def test_the_common_form_read_twice(ts: str, ms: int) -> None:
    assert parse_ts(ts) == ms and parse_ts(ts) == ms


@pytest.mark.parametrize("ts", ["2024-05-01T24:00:00.000Z", "2024-05-01T12:60:00.000Z",
                                "2024-05-01T12:00:61.000Z", "2024-05-01T12:00:00,000Z",
                                "2024-05-01T12:00:0².000Z", "1969-12-31T23:59:59.999Z"])
def test_the_common_form_rejected_twice(ts: str) -> None:
    for _ in range(2):
        with pytest.raises(InvalidEvent, match="neither RFC 3339 nor epoch milliseconds"):
            parse_ts(ts)
