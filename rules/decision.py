"""A decision: its outcome, the chosen action, every candidate with why, and its JSON form."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from hashlib import sha1
from typing import Final

import orjson

from rules.event import Event

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Decision ids are uuid5(this namespace, event_id): the same event always gets the same id.
_NAMESPACE = uuid.UUID("6f1c3a52-d0e8-4b7f-a1c2-b9e5d4a70c31")
_NAMESPACE_BYTES: Final = _NAMESPACE.bytes


_DAY_MS: Final = 86_400_000
_dates: Final[dict[int, str]] = {}  # day number -> "YYYY-MM-DDT": most decisions share a few days


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


_TWO: Final = tuple(f"{i:02d}" for i in range(60))
_THREE: Final = tuple(f"{i:03d}" for i in range(1000))


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


class ChosenAction:
    """The action a decision takes. Plain classes here and below: compiled, they are built in
    C and their fields read without a look-up (a NamedTuple's constructor is Python code)."""

    __slots__ = ("channel", "commercial", "description", "id", "mot", "program")

    def __init__(self, id: str, program: str, channel: str, description: str, mot: str,
                 commercial: bool) -> None:
        self.id = id
        self.program = program
        self.channel = channel
        self.description = description
        self.mot = mot
        self.commercial = commercial

    def _key(self) -> tuple[str, str, str, str, str, bool]:
        return (self.id, self.program, self.channel, self.description, self.mot,
                self.commercial)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChosenAction) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"ChosenAction({', '.join(map(repr, self._key()))})"

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "program": self.program, "channel": self.channel,
                "description": self.description, "mot": self.mot}


class Candidate:
    """One candidate action of a decision, with its status (won, lost, suppressed,
    ineligible) and why."""

    __slots__ = ("action", "priority", "program", "reason", "score", "status")

    def __init__(self, program: str, action: str, priority: int, score: float, status: str,
                 reason: str) -> None:
        self.program = program
        self.action = action
        self.priority = priority
        self.score = score
        self.status = status
        self.reason = reason

    def _key(self) -> tuple[str, str, int, float, str, str]:
        return (self.program, self.action, self.priority, self.score, self.status, self.reason)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Candidate) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Candidate({', '.join(map(repr, self._key()))})"

    def to_dict(self) -> dict[str, object]:
        return {"program": self.program, "action": self.action, "priority": self.priority,
                "score": self.score, "status": self.status, "reason": self.reason}


class Decision:
    """Exactly one per valid event. Read-only by convention; `to_dict` is the contract's JSON
    shape."""

    __slots__ = ("action", "arm", "candidates", "decided_ms", "event", "mots", "outcome",
                 "rules_version")

    def __init__(self, event: Event, mots: tuple[str, ...], outcome: str,
                 action: ChosenAction | None, candidates: tuple[Candidate, ...],
                 rules_version: str, decided_ms: int, arm: str = "champion") -> None:
        self.event = event
        self.mots = mots
        self.outcome = outcome
        self.action = action
        self.candidates = candidates
        self.rules_version = rules_version
        self.decided_ms = decided_ms
        self.arm = arm  # rules.experiments: the arm that decided

    def without_action(self) -> Decision:
        """The same decision with no action: what a control group's customer gets."""
        return Decision(self.event, self.mots, self.outcome, None, self.candidates,
                        self.rules_version, self.decided_ms, self.arm)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and (
            self.event is other.event and self.mots == other.mots
            and self.outcome == other.outcome and self.action == other.action
            and self.candidates == other.candidates
            and self.rules_version == other.rules_version
            and self.decided_ms == other.decided_ms and self.arm == other.arm)

    def __hash__(self) -> int:
        return hash((self.event.event_id, self.outcome, self.decided_ms, self.arm))

    def __repr__(self) -> str:
        return (f"Decision(event_id={self.event.event_id!r}, outcome={self.outcome!r}, "
                f"action={self.action!r}, arm={self.arm!r})")

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


_FRAGMENTS: Final[dict[object, orjson.Fragment]] = {}
_FRAGMENTS_MAX: Final = 8192  # distinct actions and candidate lists kept serialized


_SAME: Final[dict[int, tuple[object, orjson.Fragment]]] = {}  # id -> (the value itself, its JSON)


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
