"""Event -> MoTs, driven by the catalogue's event rules."""

from __future__ import annotations

from rules.catalogue import Catalogue
from rules.event import Event
from rules.predicates import all_hold


def classify(catalogue: Catalogue, event: Event) -> tuple[str, ...]:
    """The MoT ids this event is, on its product line; () for unknown types or lines without."""
    index = catalogue.index
    line, etype = event.product_line, event.type
    got = index.static[line].get(etype)
    if got is not None:
        return got
    rules = index.dynamic[line].get(etype)
    if rules is None:
        return ()
    attrs = event.raw_attrs
    out: list[str] = []
    for when, mot, by_channel in rules:
        if when and not all_hold(when, attrs):
            continue
        if by_channel is not None:
            mot = by_channel.get(event.channel)  # type: ignore[arg-type]
        if mot is not None and mot not in out:
            out.append(mot)
    return tuple(out)
