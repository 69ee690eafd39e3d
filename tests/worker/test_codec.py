"""Event decoding and dead letters: no servers needed."""

from __future__ import annotations

import base64

import orjson
import pytest

from rules import InvalidEvent
from streams.worker.codec import MAX_EVENT_BYTES, Record, dead_letter, decode_event

GOOD = {"event_id": "e1", "customer_id": "c1", "type": "balance_exhausted",
        "product_line": "prepaid", "ts": 1_700_000_000_000}


def test_a_valid_event_decodes() -> None:
    ev = decode_event(orjson.dumps(GOOD))
    assert (ev.event_id, ev.customer_id, ev.product_line, ev.ts_ms) == (
        "e1", "c1", "prepaid", 1_700_000_000_000)


@pytest.mark.parametrize(("raw", "needle"), [
    (None, "tombstone"),
    (b"{not json", "not JSON"),
    (b'{"a": "\xff\xfe"}', "not UTF-8"),
    (b"[1, 2]", "event"),
    (b" " * (MAX_EVENT_BYTES + 1), "byte limit"),
    (orjson.dumps({**GOOD, "product_line": "fixed"}), "product_line"),
    (orjson.dumps({k: v for k, v in GOOD.items() if k != "customer_id"}), "customer_id"),
    (orjson.dumps({**GOOD, "ts": "yesterday"}), "ts"),
])
def test_invalid_input_says_what_is_wrong(raw: bytes | None, needle: str) -> None:
    with pytest.raises(InvalidEvent, match=needle):
        decode_event(raw)


def test_dead_letter_keeps_the_original_bytes() -> None:
    rec = Record("telco.events", 3, 42, b"k", b"\xff\x00bad", 0)
    letter = orjson.loads(dead_letter(rec, "event: not UTF-8", 1_700_000_000_000))
    assert letter["error"] == "event: not UTF-8"
    assert (letter["topic"], letter["partition"], letter["offset"]) == ("telco.events", 3, 42)
    assert letter["raw_encoding"] == "base64"
    assert base64.b64decode(letter["raw"]) == b"\xff\x00bad"
    assert letter["ts"].startswith("2023-11-14T22:13:20")
    text = orjson.loads(dead_letter(Record("t", 0, 1, None, b"{oops", 0), "x", 0))
    assert (text["raw"], text["raw_encoding"]) == ("{oops", "utf-8")


def test_an_oversized_record_still_fits_a_dead_letter() -> None:
    huge = b'{"event_id": "' + b"x" * 900_000 + b'"}'
    letter = orjson.loads(dead_letter(Record("t", 0, 7, None, huge, 0), "too big", 0))
    assert letter["raw_bytes"] == len(huge) and letter["raw_truncated"] is True
    assert letter["raw"].encode() == huge[:MAX_EVENT_BYTES]
    small = orjson.loads(dead_letter(Record("t", 0, 8, None, b"{}", 0), "x", 0))
    assert (small["raw_bytes"], small["raw_truncated"]) == (2, False)
