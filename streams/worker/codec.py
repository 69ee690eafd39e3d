"""Bytes in, bytes out: event decoding with the reason for every rejection, and dead letters."""

from __future__ import annotations

import base64
from typing import Final

import orjson

from rules import Event, InvalidEvent, parse_event
from rules.decision import rfc3339_ms

MAX_EVENT_BYTES: Final = 64 * 1024


class Record:
    """One consumed Kafka record, as the pipeline needs it.

    A plain class, not a NamedTuple: compiled, it is built in C (a NamedTuple's __new__ is
    Python, about 0.6 µs for each of the few objects an event makes).
    """

    def __init__(self, topic: str, partition: int, offset: int, key: bytes | None,
                 value: bytes | None, timestamp_ms: int) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.timestamp_ms = timestamp_ms


def decode_event(value: bytes | None) -> Event:
    """Turn a record value into a valid Event, or raise InvalidEvent saying what is wrong."""
    if value is None:
        raise InvalidEvent("event: record has no value (tombstone)")
    if len(value) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event: {len(value)} bytes is over the {MAX_EVENT_BYTES} byte limit")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise InvalidEvent(f"event: not UTF-8 ({uexc.reason} at byte {uexc.start})") from None
        raise InvalidEvent(f"event: not JSON ({exc})") from None
    return parse_event(obj)


def raw_text(value: bytes | None) -> tuple[str, str]:
    """The original bytes as text, or base64 where they are not UTF-8."""
    if value is None:
        return "", "utf-8"
    try:
        return value.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(value).decode("ascii"), "base64"


def dead_letter(record: Record, error: str, now_ms: int) -> bytes:
    value = record.value
    size = 0 if value is None else len(value)
    # An oversized record keeps its first 64 KiB here (its topic/partition/offset locate the
    # rest): a dead letter must itself fit a Kafka record, whatever came in.
    if value is not None and size > MAX_EVENT_BYTES:
        value = value[:MAX_EVENT_BYTES]
    raw, encoding = raw_text(value)
    return orjson.dumps(
        {
            "error": error,
            "raw": raw,
            "raw_encoding": encoding,
            "raw_bytes": size,
            "raw_truncated": size > MAX_EVENT_BYTES,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "ts": rfc3339_ms(now_ms),
        }
    )
