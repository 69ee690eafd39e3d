"""Conditions on an event's attrs, written as data (field, operator, value) and compiled at load.

A condition on a missing attribute, or on one of the wrong type, does not hold: producers
send type-specific attrs and the core must not fail on what it does not find.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Compare = Callable[[Any, Any], bool]
COMPARE: dict[str, Compare] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
SYMBOL = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in")


def is_number(v: object) -> bool:
    return (type(v) is int or type(v) is float) and v == v  # bool is no number; NaN never holds


def _same_kind(a: object, b: object) -> bool:
    return type(a) is type(b) or (is_number(a) and is_number(b))


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    value: object = None  # a literal; for in/not_in a tuple
    of: str | None = None  # compare against another attr ...
    times: float = 1.0  # ... multiplied by this factor (e.g. the bill shock ratio)
    test: Callable[[Mapping[str, object]], bool] = dataclasses.field(
        init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", _compile(self))

    @property
    def text(self) -> str:
        if self.of is not None:
            factor = "" if self.times == 1 else f"{self.times:g} x "
            return f"attrs.{self.field} {SYMBOL[self.op]} {factor}attrs.{self.of}"
        if self.op in ("in", "not_in"):
            values = ", ".join(str(v) for v in self.value)  # type: ignore[attr-defined]
            word = "one of" if self.op == "in" else "none of"
            return f"attrs.{self.field} is {word} {values}"
        shown = str(self.value).lower() if isinstance(self.value, bool) else self.value
        return f"attrs.{self.field} {SYMBOL[self.op]} {shown}"


def _compile(c: Condition) -> Callable[[Mapping[str, object]], bool]:
    name, value = c.field, c.value
    if c.of is not None:
        cmp, ref, times = (COMPARE.get(c.op) or _EQ[c.op]), c.of, c.times

        def relative(attrs: Mapping[str, object]) -> bool:
            a, b = attrs.get(name), attrs.get(ref)
            # The reference must be a positive number: a zero average says nothing about shock.
            return is_number(a) and is_number(b) and b > 0 and cmp(a, times * b)  # type: ignore[operator]

        return relative
    if c.op in COMPARE:
        cmp = COMPARE[c.op]
        return lambda attrs: is_number(v := attrs.get(name)) and cmp(v, value)
    if c.op == "eq":
        return lambda attrs: (v := attrs.get(name)) == value and _same_kind(v, value)
    if c.op == "ne":
        return lambda attrs: (v := attrs.get(name)) is not None and not (
            v == value and _same_kind(v, value))
    members = frozenset(value)  # type: ignore[call-overload]
    if c.op == "in":
        return lambda attrs: type(v := attrs.get(name)) is str and v in members
    return lambda attrs: type(v := attrs.get(name)) is str and v not in members


_EQ: dict[str, Compare] = {"eq": operator.eq, "ne": operator.ne}
