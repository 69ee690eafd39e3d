"""rules.predicates.Predicate against the conditions' meaning, written out plainly here
(`_meaning`), for every operator, value kind and attrs shape, and the edge cases by hand
(bool, NaN, missing, zero)."""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.conditions import Condition
from rules.predicates import Predicate, all_hold

_CMP = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
        "eq": operator.eq, "ne": operator.ne}


def _num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v)


def _same(a: object, b: object) -> bool:
    return a == b and (type(a) is type(b) or (_num(a) and _num(b)))


def _meaning(c: Condition, attrs: Mapping[str, object]) -> bool:
    """What a condition means, written out plainly (a missing or ill-typed attr never holds)."""
    v = attrs.get(c.field)
    if c.of is not None:
        ref = attrs.get(c.of)
        return _num(v) and _num(ref) and ref > 0 and _CMP[c.op](v, c.times * ref)  # type: ignore[operator]
    if c.op in ("gt", "gte", "lt", "lte"):
        return _num(v) and _CMP[c.op](v, c.value)
    if c.op == "eq":
        return _same(v, c.value)
    if c.op == "ne":
        return v is not None and not _same(v, c.value)
    inside = isinstance(v, str) and v in c.value  # type: ignore[operator]
    return isinstance(v, str) and (inside if c.op == "in" else not inside)

VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                   st.sampled_from(["a", "b", "sim", ""]), st.lists(st.integers(0, 2), max_size=2))
ATTRS = st.dictionaries(st.sampled_from(["x", "y"]), VALUES, max_size=2)
NUMBERS = st.one_of(st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False,
                                                   width=16))
SCALARS = st.one_of(st.booleans(), NUMBERS, st.sampled_from(["a", "b", ""]))


@settings(max_examples=400, deadline=None)
@given(op=st.sampled_from(["eq", "ne"]), value=SCALARS, attrs=ATTRS)
def test_equality_agrees(op: str, value: object, attrs: dict[str, object]) -> None:
    c = Condition("x", op, value)
    assert Predicate(c).holds(attrs) == _meaning(c, attrs)


@settings(max_examples=400, deadline=None)
@given(op=st.sampled_from(["gt", "gte", "lt", "lte"]), value=NUMBERS, attrs=ATTRS)
def test_order_agrees(op: str, value: object, attrs: dict[str, object]) -> None:
    # The catalogue's loader takes only a number for these (rules/load/conditions.py).
    c = Condition("x", op, value)
    assert Predicate(c).holds(attrs) == _meaning(c, attrs)


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(["in", "not_in"]),
       members=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3), attrs=ATTRS)
def test_membership_agrees(op: str, members: list[str], attrs: dict[str, object]) -> None:
    c = Condition("x", op, tuple(members))
    assert Predicate(c).holds(attrs) == _meaning(c, attrs)


@settings(max_examples=400, deadline=None)
@given(op=st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
       times=st.sampled_from([1.0, 1.5, 0.5]), attrs=ATTRS)
def test_relative_comparisons_agree(op: str, times: float, attrs: dict[str, object]) -> None:
    c = Condition("x", op, of="y", times=times)
    assert Predicate(c).holds(attrs) == _meaning(c, attrs)


def test_edge_cases_by_hand() -> None:
    gt = Predicate(Condition("amount", "gt", 10))
    assert gt.holds({"amount": 11}) and not gt.holds({"amount": 10})
    assert not gt.holds({"amount": True})  # a bool is no number
    assert not gt.holds({"amount": math.nan}) and not gt.holds({})
    eq = Predicate(Condition("first", "eq", True))
    assert eq.holds({"first": True}) and not eq.holds({"first": 1})  # 1 == True, not a bool
    ne = Predicate(Condition("first", "ne", True))
    assert not ne.holds({}) and ne.holds({"first": 1})
    shock = Predicate(Condition("amount", "gte", of="average", times=1.5))
    assert shock.holds({"amount": 15, "average": 10})
    assert not shock.holds({"amount": 15, "average": 0})  # a zero reference says nothing
    within = Predicate(Condition("resource", "in", ("data", "voice")))
    assert within.holds({"resource": "data"}) and not within.holds({"resource": ["data"]})
    assert all_hold((gt, within), {"amount": 11, "resource": "voice"})
    assert not all_hold((gt, within), {"amount": 11, "resource": "sms"})
    assert all_hold((), {})
