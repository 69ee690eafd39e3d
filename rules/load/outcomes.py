"""mots.yaml `positive_outcome`: the events that show a MoT's positive outcome happened.

Checked once mots.yaml and events.yaml are both intact: each rule names a known event type,
a window, and conditions on that type's declared attrs.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from rules.load.conditions import parse_conditions
from rules.load.reader import Loc, duration, ident, items, mapping
from rules.model import EventType, OutcomeRule

_LONGEST_MS = 90 * 86_400_000  # a conversion credited after 90 days says little about a contact


def parse_outcomes(loc: Loc, mots_doc: object, events: dict[str, EventType],
                   factor: Callable[[str], float | None]
                   ) -> MappingProxyType[str, tuple[OutcomeRule, ...]]:
    """Event type -> the outcome rules it may satisfy, in mots.yaml's order."""
    out: dict[str, list[OutcomeRule]] = {}
    top = mots_doc.get("mots") if isinstance(mots_doc, dict) else None
    for at, node in items(loc / "mots", top) if isinstance(top, list) else []:
        if not isinstance(node, dict) or "positive_outcome" not in node:
            continue
        mot = node.get("id")
        rules_at = at / "positive_outcome"
        if not isinstance(node["positive_outcome"], list) or not node["positive_outcome"]:
            rules_at.err("must list at least one {event, within} rule")
            continue
        for rat, rule in items(rules_at, node["positive_outcome"]):
            got = _rule(rat, rule, str(mot), events, factor)
            if got is not None:
                out.setdefault(got.event, []).append(got)
    return MappingProxyType({k: tuple(v) for k, v in out.items()})


def _rule(loc: Loc, node: object, mot: str, events: dict[str, EventType],
          factor: Callable[[str], float | None]) -> OutcomeRule | None:
    m = mapping(loc, node, required=("event", "within"), optional=("when",))
    if m is None:
        return None
    etype = ident(loc / "event", m["event"]) if "event" in m else None  # else: reported
    if etype is not None and etype not in events:
        (loc / "event").err(f"unknown event type {etype!r}")
        etype = None
    window = duration(loc / "within", m["within"]) if "within" in m else None
    if window is not None and window[0] > _LONGEST_MS:
        (loc / "within").err(f"{window[1]!r} is longer than 90d")
        window = None
    attrs = events[etype].attrs if etype is not None else None
    when = parse_conditions(loc / "when", m.get("when", []), attrs, factor)
    if etype is None or window is None or when is None:
        return None
    return OutcomeRule(mot, etype, window[0], window[1], when)
