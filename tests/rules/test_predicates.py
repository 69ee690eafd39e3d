"""rules.predicates.Predicate gives what rules.conditions.Condition.test gives, for every
operator, value kind and attrs shape, including the edge cases (bool, NaN, missing, zero)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.conditions import Condition
from rules.predicates import Predicate, all_hold

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
    assert Predicate(c).holds(attrs) == c.test(attrs)


@settings(max_examples=400, deadline=None)
@given(op=st.sampled_from(["gt", "gte", "lt", "lte"]), value=NUMBERS, attrs=ATTRS)
def test_order_agrees(op: str, value: object, attrs: dict[str, object]) -> None:
    # The catalogue's loader takes only a number for these (rules/load/conditions.py).
    c = Condition("x", op, value)
    assert Predicate(c).holds(attrs) == c.test(attrs)


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(["in", "not_in"]),
       members=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3), attrs=ATTRS)
def test_membership_agrees(op: str, members: list[str], attrs: dict[str, object]) -> None:
    c = Condition("x", op, tuple(members))
    assert Predicate(c).holds(attrs) == c.test(attrs)


@settings(max_examples=400, deadline=None)
@given(op=st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
       times=st.sampled_from([1.0, 1.5, 0.5]), attrs=ATTRS)
def test_relative_comparisons_agree(op: str, times: float, attrs: dict[str, object]) -> None:
    c = Condition("x", op, of="y", times=times)
    assert Predicate(c).holds(attrs) == c.test(attrs)


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
