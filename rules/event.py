"""The input event: the contract's schema checked by hand, fast, naming the field at fault."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

from rules.errors import InvalidEvent
from rules.vocab import INTERACTION_CHANNELS, PRODUCT_LINES

MAX_ID: Final = 128
MAX_TS_MS: Final = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z; epoch ms from 0 up to this
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Each valid value -> the vocabulary's own string, which the event then carries: the
# catalogue's lookups are keyed by those objects, so a key compares by identity and its hash
# is computed once (a decoded string is a new object at every event).
_LINES: Final[dict[str, str]] = {v: v for v in PRODUCT_LINES}
_CHANNELS: Final[dict[str, str]] = {v: v for v in INTERACTION_CHANNELS}
_RFC3339: Final = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d))"
)
_NO_ATTRS: Final[dict[str, object]] = {}  # shared: Event.raw_attrs is never written
_MISSING: Final = object()


class Event:
    """A valid event, read-only (its fields are properties without setters).

    A plain class rather than a frozen dataclass: compiled, it is built in C, where a frozen
    dataclass keeps Python's __init__ with an object.__setattr__ per field (measured: 1.29 µs
    against 0.14, a sixth of decoding an event).
    """

    __slots__ = (
        "_attrs",
        "_channel",
        "_customer",
        "_id",
        "_line",
        "_segments",
        "_ts",
        "_type",
    )

    def __init__(self, event_id: str, customer_id: str, type: str, product_line: str,
                 ts_ms: int, channel: str | None, segments: tuple[str, ...],
                 attrs: Mapping[str, object]) -> None:
        self._id = event_id
        self._customer = customer_id
        self._type = type
        self._line = product_line
        self._ts = ts_ms
        self._channel = channel
        self._segments = segments
        # Kept as the dict itself: the core reads it at every event, where a read-only proxy
        # costs a method look-up per key (Event.attrs gives one to everyone else).
        self._attrs: dict[str, object] = attrs if isinstance(attrs, dict) else dict(attrs)

    @property
    def event_id(self) -> str:
        return self._id

    @property
    def customer_id(self) -> str:
        return self._customer

    @property
    def type(self) -> str:
        return self._type

    @property
    def product_line(self) -> str:
        return self._line

    @property
    def ts_ms(self) -> int:
        return self._ts

    @property
    def channel(self) -> str | None:
        return self._channel

    @property
    def segments(self) -> tuple[str, ...]:
        return self._segments

    @property
    def attrs(self) -> Mapping[str, object]:
        return MappingProxyType(self._attrs)

    @property
    def raw_attrs(self) -> dict[str, object]:
        """The attrs as decoded, for the core's per-event reads: never to be written."""
        return self._attrs

    def __repr__(self) -> str:
        return (f"Event({self._id!r}, {self._customer!r}, {self._type!r}, {self._line!r}, "
                f"{self._ts}, {self._channel!r}, {self._segments!r}, {dict(self._attrs)!r})")


def _ident(obj: dict, name: str) -> str:
    v = obj.get(name, _MISSING)
    if v is _MISSING:
        raise InvalidEvent(f"{name}: missing")
    if type(v) is not str or not 0 < len(v) <= MAX_ID:
        raise InvalidEvent(f"{name}: must be a string of 1-{MAX_ID} characters")
    return v


def parse_event(obj: object) -> Event:
    """A decoded JSON value -> Event, or InvalidEvent naming the field. Unknown fields ignored.

    Optional fields given as null count as absent.
    """
    if type(obj) is not dict:
        raise InvalidEvent("event: not a JSON object")
    event_id = _ident(obj, "event_id")
    customer_id = _ident(obj, "customer_id")
    etype = _ident(obj, "type")
    got = obj.get("product_line", _MISSING)
    if got is _MISSING:
        raise InvalidEvent("product_line: missing")
    line = _LINES.get(got) if type(got) is str else None
    if line is None:
        raise InvalidEvent(f"product_line: {_show(got)} is not one of {', '.join(PRODUCT_LINES)}")
    ts_ms = parse_ts(obj.get("ts", _MISSING))
    given = obj.get("channel")
    channel = None
    if given is not None:
        channel = _CHANNELS.get(given) if type(given) is str else None
        if channel is None:
            raise InvalidEvent(
                f"channel: {_show(given)} is not one of {', '.join(INTERACTION_CHANNELS)}")
    segments = obj.get("segments")
    if segments is None:
        segments = ()
    elif type(segments) is not list or not all(type(s) is str for s in segments):
        raise InvalidEvent("segments: must be a list of strings")
    else:
        segments = tuple(segments)
    attrs = obj.get("attrs")
    if attrs is None:
        attrs = _NO_ATTRS
    elif type(attrs) is not dict:
        raise InvalidEvent("attrs: must be an object")
    return Event(event_id, customer_id, etype, line, ts_ms, channel, segments, attrs)


def parse_ts(v: object) -> int:
    """RFC 3339 text or epoch milliseconds (a whole number; a boolean is not one) -> epoch ms."""
    if v is _MISSING:
        raise InvalidEvent("ts: missing")
    if type(v) is int:
        if not 0 <= v <= MAX_TS_MS:
            raise InvalidEvent(f"ts: {v!r} epoch milliseconds out of range (1970 to 9999)")
        return v
    if type(v) is float and v.is_integer():
        if not 0 <= v <= MAX_TS_MS:
            raise InvalidEvent(f"ts: {v!r} epoch milliseconds out of range (1970 to 9999)")
        return int(v)
    if type(v) is str:
        if len(v) == 24 and v[10] == "T" and v[23] == "Z":
            ms = _utc_ms(v)
            if ms >= 0:
                return ms
        if len(v) <= 40 and (m := _RFC3339.fullmatch(v)):
            got = _rfc3339_ms(m)
            if got is not None and 0 <= got <= MAX_TS_MS:
                return got
    raise InvalidEvent(f"ts: {_show(v)} is neither RFC 3339 nor epoch milliseconds")


# A date read before (by the pattern), as year * 10000 + month * 100 + day -> epoch ms of its
# midnight, UTC.
_midnights: Final[dict[int, int]] = {}


# "YYYY-MM-DDTHH:MM" -> epoch ms of that minute, UTC: a stream's events share their minutes.
_minutes: Final[dict[str, int]] = {}


def _utc_ms(v: str) -> int:
    """The common form, "YYYY-MM-DDTHH:MM:SS.mmmZ" in ASCII digits, of a date read before (by
    the pattern): what the pattern reads, its minute looked up and its seconds read character
    by character (the pattern was over half of decoding an event). -1 for anything else,
    which the pattern then reads or rejects (Unicode digits too, which \\d matches)."""
    if v[16] != ":" or v[19] != ".":
        return -1
    head = v[:16]
    minute = _minutes.get(head, -1)
    if minute < 0:
        minute = _minute_ms(v)
        if minute < 0:
            return -1
        if len(_minutes) >= 4096:
            _minutes.clear()
        _minutes[head] = minute
    second, milli = _digits(v, 17, 2), _digits(v, 20, 3)
    if second < 0 or second > 60 or milli < 0:
        return -1
    return minute + min(second, 59) * 1000 + milli


def _minute_ms(v: str) -> int:
    """Epoch ms of the minute v[:16] writes ("YYYY-MM-DDTHH:MM", a date read before), or -1."""
    if v[4] != "-" or v[7] != "-" or v[13] != ":":
        return -1
    year, month, day = _digits(v, 0, 4), _digits(v, 5, 2), _digits(v, 8, 2)
    hour, minute = _digits(v, 11, 2), _digits(v, 14, 2)
    if year < 0 or month < 0 or day < 0:
        return -1
    midnight = _midnights.get(year * 10000 + month * 100 + day, -1)
    if midnight < 0 or not (0 <= hour <= 23 and 0 <= minute <= 59):
        return -1
    return midnight + (hour * 60 + minute) * 60_000


def _digits(v: str, at: int, width: int) -> int:
    """The number the ASCII digits v[at:at + width] write, or -1 if one is not one."""
    n = 0
    for i in range(at, at + width):
        d = ord(v[i]) - 48
        if d < 0 or d > 9:
            return -1
        n = n * 10 + d
    return n


def _rfc3339_ms(m: re.Match[str]) -> int | None:
    y, mo, d, h, mi, sec, frac, z, sign, oh, om = m.groups()
    days = _day(y, mo, d)
    if days is None:
        return None
    if days >= 0 and len(_midnights) < 4096:
        _midnights[int(y) * 10000 + int(mo) * 100 + int(d)] = days * 86_400_000
    hour, minute, second = int(h), int(mi), int(sec)
    if hour > 23 or minute > 59 or second > 60:
        return None
    # A leap second (:60) is read as the last second of the minute.
    ms = (((days * 24 + hour) * 60 + minute) * 60 + min(second, 59)) * 1000
    if frac:
        ms += int(frac[:3].ljust(3, "0"))
    if z is None:
        if int(oh) > 23 or int(om) > 59:
            return None
        offset = (int(oh) * 60 + int(om)) * 60_000
        ms += -offset if sign == "+" else offset
    return ms


_days: Final[dict[tuple[str, str, str], int]] = {}  # a stream's events share a few dates


def _day(y: str, mo: str, d: str) -> int | None:
    """Days since 1970-01-01 of a calendar date, None if there is no such date."""
    key = (y, mo, d)
    got = _days.get(key)
    if got is None:
        try:
            got = (datetime(int(y), int(mo), int(d), tzinfo=UTC) - _EPOCH).days
        except ValueError:
            return None
        if len(_days) < 4096:
            _days[key] = got
    return got


def _show(v: object) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
