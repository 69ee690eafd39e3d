"""Conditions on an event's attrs, written as data (field, operator, value); rules.predicates
evaluates them.

A condition on a missing attribute, or on one of the wrong type, does not hold: producers
send type-specific attrs and the core must not fail on what it does not find.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPARE = ("gt", "gte", "lt", "lte")
SYMBOL = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in")


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    value: object = None  # a literal; for in/not_in a tuple
    of: str | None = None  # compare against another attr ...
    times: float = 1.0  # ... multiplied by this factor (e.g. the bill shock ratio)

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
