"""Conditions as written in the catalogue: checked against the attrs the event types declare."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rules.conditions import COMPARE, OPERATORS, Condition
from rules.load.reader import Loc, ident, items, mapping, number, one_of, text, unique_list

ATTR_TYPES = ("bool", "number", "string")
_OPS_BY_TYPE = {
    "bool": ("eq", "ne"),
    "number": ("eq", "ne", *COMPARE),
    "string": ("eq", "ne", "in", "not_in"),
}


def parse_attr_type(loc: Loc, node: object) -> object:
    """`bool`, `number`, `string`, or the list of the strings the attr may take."""
    if isinstance(node, list):
        values = unique_list(loc, node, text)
        return tuple(values) if values else None
    return one_of(loc, node, ATTR_TYPES, "attr type")


def _guess(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str | list) else "number"


def _type_name(kind: object) -> str:
    return "string" if isinstance(kind, tuple) else str(kind)


def parse_conditions(loc: Loc, node: object, attrs: Mapping[str, object] | None,
                     factor: Callable[[str], float | None]) -> tuple[Condition, ...] | None:
    out = []
    ok = True
    for at, c in items(loc, node):
        got = parse_condition(at, c, attrs, factor)
        ok = ok and got is not None
        if got is not None:
            out.append(got)
    return tuple(out) if ok else None


def parse_condition(loc: Loc, node: object, attrs: Mapping[str, object] | None,
                    factor: Callable[[str], float | None]) -> Condition | None:
    """`attrs`: the attrs the condition may test; None when unknown (events.yaml is broken),
    then each attr's kind is taken from the value it is compared with."""
    m = mapping(loc, node, required=("field", "op"), optional=("value", "of", "times"))
    if m is None:
        return None
    name = ident(loc / "field", m.get("field"))
    op = one_of(loc / "op", m.get("op"), OPERATORS, "operator")
    if name is None or op is None:
        return None
    if attrs is None:
        guessed = {name: _guess(m.get("value"))}
        if isinstance(of := m.get("of"), str):
            guessed[of] = "number"
        attrs = guessed
    if name not in attrs:
        known = ", ".join(sorted(attrs)) or "none"
        (loc / "field").err(f"unknown attribute {name!r} here (declared: {known})")
        return None
    kind = attrs[name]
    allowed = _OPS_BY_TYPE[_type_name(kind)]
    if op not in allowed:
        (loc / "op").err(f"{op!r} does not apply to {_type_name(kind)} attribute {name!r} "
                         f"(use {', '.join(allowed)})")
        return None
    if "of" in m:
        return _relative(loc, m, name, op, kind, attrs, factor)
    if "times" in m:
        (loc / "times").err("only with 'of'")
        return None
    if "value" not in m:
        (loc / "value").err("missing")
        return None
    value = _value(loc / "value", m["value"], op, kind)
    return None if value is None else Condition(name, op, value)


def _value(loc: Loc, v: object, op: str, kind: object) -> object:
    if kind == "bool":
        if not isinstance(v, bool):
            loc.err(f"must be true or false, not {v!r}")
            return None
        return v
    if kind == "number":
        return number(loc, v)
    if op in ("in", "not_in"):
        if not isinstance(v, list) or not v:
            loc.err(f"must be a non-empty list of strings, not {v!r}")
            return None
        values = unique_list(loc, v, text)
        if len(values) != len(v) or not all([_allowed(loc, x, kind) for x in values]):
            return None
        return tuple(values)
    if not isinstance(v, str):
        loc.err(f"must be a string, not {v!r}")
        return None
    return v if _allowed(loc, v, kind) else None


def _allowed(loc: Loc | None, v: str, kind: object) -> bool:
    if isinstance(kind, tuple) and v not in kind:
        if loc is not None:
            loc.err(f"{v!r} is not a value of this attribute ({', '.join(kind)})")
        return False
    return True


def _relative(loc: Loc, m: dict[str, object], name: str, op: str, kind: object,
              attrs: Mapping[str, object],
              factor: Callable[[str], float | None]) -> Condition | None:
    if kind != "number" or op not in COMPARE:
        (loc / "of").err("'of' compares numbers with gt, gte, lt or lte")
        return None
    if "value" in m:
        (loc / "value").err("give either 'value' or 'of', not both")
        return None
    ref = ident(loc / "of", m.get("of"))
    if ref is None:
        return None
    if attrs.get(ref) != "number":
        (loc / "of").err(f"{ref!r} is not a number attribute here")
        return None
    times: float | None = 1.0
    raw = m.get("times", 1.0)
    if isinstance(raw, str):
        times = factor(raw)
        if times is None:
            (loc / "times").err(f"{raw!r} is not a catalogue setting (try bill_shock_ratio)")
    else:
        times = number(loc / "times", raw, 0.0, low_open=True)
    return None if times is None else Condition(name, op, None, ref, times)
