"""A decision: its outcome, the chosen action, every candidate with why, and its JSON form."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from hashlib import sha1
from typing import NamedTuple

import orjson

from rules.event import Event

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Decision ids are uuid5(this namespace, event_id): the same event always gets the same id.
_NAMESPACE = uuid.UUID("6f1c3a52-d0e8-4b7f-a1c2-b9e5d4a70c31")
_NAMESPACE_BYTES = _NAMESPACE.bytes


_DAY_MS = 86_400_000
_dates: dict[int, str] = {}  # day number -> "YYYY-MM-DDT": most decisions share a few days


@lru_cache(maxsize=256)  # a batch's decisions share one decided time
def rfc3339_ms(ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC with milliseconds, e.g. 2024-05-01T12:00:00.250Z."""
    day, rest = divmod(ms, _DAY_MS)
    date = _dates.get(day)
    if date is None:
        date = f"{_EPOCH + timedelta(days=day):%Y-%m-%dT}"
        if len(_dates) < 4096:
            _dates[day] = date
    s, milli = divmod(rest, 1000)
    m, s = divmod(s, 60)
    # Table look-ups, not format specs: an event's own time seldom repeats (a replay).
    return "".join((date, _TWO[m // 60], ":", _TWO[m % 60], ":", _TWO[s], ".", _THREE[milli],
                    "Z"))


_TWO = tuple(f"{i:02d}" for i in range(60))
_THREE = tuple(f"{i:03d}" for i in range(1000))


def decision_id(event_id: str) -> str:
    """uuid5 (RFC 4122, SHA-1 name based) of the event id, as `str(uuid.uuid5(...))` gives it.

    Built from the digest directly: uuid.uuid5 and its UUID object cost three times as much,
    and this runs once per decision.
    """
    x = sha1(_NAMESPACE_BYTES + event_id.encode()).hexdigest()
    # Version 5 in digit 12; the RFC 4122 variant (binary 10xx) in digit 16.
    return "".join((x[:8], "-", x[8:12], "-5", x[13:16], "-", _VARIANT[x[16]], x[17:20], "-",
                    x[20:32]))


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


class ChosenAction(NamedTuple):
    id: str
    program: str
    channel: str
    description: str
    mot: str
    commercial: bool

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "program": self.program, "channel": self.channel,
                "description": self.description, "mot": self.mot}


class Candidate(NamedTuple):
    program: str
    action: str
    priority: int
    score: float
    status: str  # won, lost, suppressed, ineligible
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"program": self.program, "action": self.action, "priority": self.priority,
                "score": self.score, "status": self.status, "reason": self.reason}


class Decision(NamedTuple):
    """Exactly one per valid event. Immutable; `to_dict` is the contract's JSON shape."""

    event: Event
    mots: tuple[str, ...]
    outcome: str
    action: ChosenAction | None
    candidates: tuple[Candidate, ...]
    rules_version: str
    decided_ms: int
    arm: str = "champion"  # rules.experiments: the arm that decided

    @property
    def decision_id(self) -> str:
        return decision_id(self.event.event_id)

    def to_dict(self) -> dict[str, object]:
        action = self.action
        return self._shape(None if action is None else action.to_dict(),
                           [c.to_dict() for c in self.candidates])

    def to_json(self) -> bytes:
        """`to_dict` as JSON bytes, with the action and candidate lines serialized once.

        Decisions repeat a small set of actions and candidate lists (arbitration memoizes
        them), and building their dicts was a sixth of the worker's decision time.
        """
        action = self.action
        return orjson.dumps(self._shape(None if action is None else _fragment(action),
                                        _fragment(self.candidates)))

    def _shape(self, action: object, candidates: object) -> dict[str, object]:
        ev = self.event
        return {
            "decision_id": decision_id(ev.event_id),
            "event_id": ev.event_id,
            "customer_id": ev.customer_id,
            "product_line": ev.product_line,
            "event_type": ev.type,
            "event_ts": rfc3339_ms(ev.ts_ms),
            "decided_ts": rfc3339_ms(self.decided_ms),
            "mots": list(self.mots),
            "outcome": self.outcome,
            "action": action,
            "candidates": candidates,
            "rules_version": self.rules_version,
            "arm": self.arm,
        }


_FRAGMENTS: dict[object, orjson.Fragment] = {}
_FRAGMENTS_MAX = 8192  # distinct actions and candidate lists kept serialized


_SAME: dict[int, tuple[object, orjson.Fragment]] = {}  # id -> (the value itself, its JSON)


def _fragment(value: ChosenAction | tuple[Candidate, ...]) -> orjson.Fragment:
    """The JSON of an action or a candidate list, kept by value (both are hashable tuples).

    Looked up by identity first: arbitration hands out the same memoized tuples again and
    again, and hashing a candidate list (every field of every line) cost more than its
    look-up. The value is kept alongside, so its id cannot be reused while it is there.
    """
    same = _SAME.get(id(value))
    if same is not None and same[0] is value:
        return same[1]
    got = _FRAGMENTS.get(value)
    if got is None:
        if isinstance(value, ChosenAction):
            got = orjson.Fragment(orjson.dumps(value.to_dict()))
        else:
            got = orjson.Fragment(orjson.dumps([c.to_dict() for c in value]))
        if len(_FRAGMENTS) >= _FRAGMENTS_MAX:
            _FRAGMENTS.clear()  # suppression reasons vary: start over rather than grow
        _FRAGMENTS[value] = got
    if len(_SAME) >= _FRAGMENTS_MAX:
        _SAME.clear()
    _SAME[id(value)] = (value, got)
    return got
