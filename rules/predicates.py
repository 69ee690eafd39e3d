"""The catalogue's conditions on attrs (rules.conditions) evaluated: compiled, so classify,
eligibility and the outcome rules test one in C (as a Python closure, one cost about 1,700
instructions a call from compiled code: a method looked up by name on a Python dataclass,
then a Python frame).
"""

from __future__ import annotations

from typing import Final, cast

from rules.conditions import Condition

_GT: Final = 0
_GTE: Final = 1
_LT: Final = 2
_LTE: Final = 3
_EQ: Final = 4
_NE: Final = 5
_IN: Final = 6
_NOT_IN: Final = 7
_CODES: Final = {"gt": _GT, "gte": _GTE, "lt": _LT, "lte": _LTE, "eq": _EQ, "ne": _NE,
                 "in": _IN, "not_in": _NOT_IN}


def _number(v: object) -> bool:
    # bool is no number; NaN never holds
    return (type(v) is int or type(v) is float) and v == v


def _same(a: object, b: object) -> bool:
    return a == b and (type(a) is type(b) or (_number(a) and _number(b)))


def _order(op: int, a: object, b: object) -> bool:
    if op == _GT:
        return a > b  # type: ignore[operator]
    if op == _GTE:
        return a >= b  # type: ignore[operator]
    if op == _LT:
        return a < b  # type: ignore[operator]
    if op == _LTE:
        return a <= b  # type: ignore[operator]
    if op == _EQ:
        return a == b
    return a != b


class Predicate:
    """One condition, ready: `holds(attrs)` says whether it holds for these attrs. A missing
    attr, or one of the wrong type, does not hold; the relative form (`of`) needs a positive
    number to compare against."""

    __slots__ = ("field", "members", "of", "op", "times", "value")

    def __init__(self, c: Condition) -> None:
        self.field = c.field
        self.op = _CODES[c.op]
        self.value = c.value
        self.of = c.of
        self.times = c.times
        self.members: frozenset[object] = (
            frozenset(cast("tuple[object, ...]", c.value)) if c.op in ("in", "not_in")
            else frozenset())

    def holds(self, attrs: dict[str, object]) -> bool:
        v = attrs.get(self.field)
        op = self.op
        ref = self.of
        if ref is not None:
            # The reference must be a positive number: a zero average says nothing about shock.
            b = attrs.get(ref)
            return (_number(v) and _number(b) and b > 0  # type: ignore[operator]
                    and _order(op, v, self.times * b))  # type: ignore[operator]
        if op <= _LTE:
            return _number(v) and _order(op, v, self.value)
        if op == _EQ:
            return _same(v, self.value)
        if op == _NE:
            return v is not None and not _same(v, self.value)
        if type(v) is not str:
            return False
        return (v in self.members) == (op == _IN)


def predicates(conditions: tuple[Condition, ...]) -> tuple[Predicate, ...]:
    return tuple(Predicate(c) for c in conditions)


def all_hold(tests: tuple[Predicate, ...], attrs: dict[str, object]) -> bool:
    # A loop, not all(...): compiled, a generator is an object per call.
    for t in tests:  # noqa: SIM110
        if not t.holds(attrs):
            return False
    return True
