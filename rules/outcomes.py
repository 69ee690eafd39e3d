"""Positive outcomes: which MoTs an arriving event shows a positive outcome of.

A decision with a (would-be) action for a MoT that has `positive_outcome` rules is watched;
a later event of one of those rules' types, its conditions holding, within the rule's
window of the decision, converts it (streams.worker.responses counts it once per decision,
with or without a `converted` response). For the control arm this is how conversions
without any action are seen.
"""

from __future__ import annotations

from rules.catalogue import Catalogue
from rules.event import Event
from rules.model import OutcomeRule
from rules.predicates import all_hold


def reached(catalogue: Catalogue, event: Event) -> tuple[OutcomeRule, ...]:
    """The outcome rules this event satisfies (type and conditions); () for most events."""
    rules = catalogue.outcomes.get(event.type)
    if rules is None:
        return ()
    attrs = event.raw_attrs
    return tuple(r for r in rules if all_hold(r.tests, attrs))


def watched(catalogue: Catalogue, mot: str) -> int:
    """The longest window (ms) of `mot`'s positive outcomes; 0 if it has none."""
    return catalogue.watch_ms.get(mot, 0)
