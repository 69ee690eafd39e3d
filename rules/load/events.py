"""events.yaml: the event types, the attrs they carry, and the MoTs each one yields."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from rules.load.conditions import parse_attr_type, parse_conditions
from rules.load.reader import Loc, ident, items, mapping
from rules.model import EventRule, EventType, MoT
from rules.vocab import INTERACTION_CHANNELS


def parse_events(loc: Loc, doc: object, mots: dict[str, MoT] | None,
                 factor: Callable[[str], float | None]) -> dict[str, EventType]:
    top = mapping(loc, doc, required=("event_types",))
    out: dict[str, EventType] = {}
    if top is None:
        return out
    for at, node in items(loc / "event_types", top.get("event_types")):
        m = mapping(at, node, required=("type", "mots"), optional=("attrs",))
        if m is None:
            continue
        etype = ident(at / "type", m.get("type"))
        attrs = _attrs(at / "attrs", m.get("attrs", {}))
        rules = [
            _rule(rat, r, etype or "?", attrs or {}, mots, factor)
            for rat, r in items(at / "mots", m.get("mots"))
        ]
        if isinstance(m.get("mots"), list) and not rules:
            (at / "mots").err("must list at least one MoT rule")
        if etype is None or attrs is None or not rules or None in rules:
            continue
        if etype in out:
            (at / "type").err(f"duplicate event type {etype!r}")
            continue
        out[etype] = EventType(etype, MappingProxyType(attrs), tuple(rules))  # type: ignore[arg-type]
    return out


def _attrs(loc: Loc, node: object) -> dict[str, object] | None:
    m = {} if node is None else node
    if not isinstance(m, dict):
        loc.err("must be a mapping of attribute name to type")
        return None
    out: dict[str, object] = {}
    ok = True
    for key, spec in m.items():
        name = ident(loc / str(key), key)
        kind = parse_attr_type(loc / str(key), spec)
        ok = ok and name is not None and kind is not None
        if name is not None and kind is not None:
            out[name] = kind
    return out if ok else None


def _rule(loc: Loc, node: object, etype: str, attrs: dict[str, object],
          mots: dict[str, MoT] | None, factor: Callable[[str], float | None]) -> EventRule | None:
    m = mapping(loc, node, optional=("mot", "by_channel", "when"))
    if m is None:
        return None
    if ("mot" in m) == ("by_channel" in m):
        loc.err("give exactly one of 'mot' or 'by_channel'")
        return None
    when = parse_conditions(loc / "when", m.get("when", []), attrs, factor)
    if "mot" in m:
        mot = _known(loc / "mot", m["mot"], mots)
        return None if mot is None or when is None else EventRule(etype, mot, None, when)
    by = mapping(loc / "by_channel", m["by_channel"], optional=INTERACTION_CHANNELS)
    if by is None:
        return None
    chosen = {ch: _known(loc / "by_channel" / ch, v, mots) for ch, v in by.items()}
    if not chosen or None in chosen.values() or when is None:
        if not chosen:
            (loc / "by_channel").err("must map at least one channel")
        return None
    return EventRule(etype, None, MappingProxyType(chosen), when)  # type: ignore[arg-type]


def _known(loc: Loc, node: object, mots: dict[str, MoT] | None) -> str | None:
    mot = ident(loc, node)
    if mot is not None and mots is not None and mot not in mots:
        loc.err(f"unknown MoT {mot!r}")
        return None
    return mot
