"""The whole validated catalogue, one frozen object, and its precomputed lookups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rules.economics import Economics
from rules.experiments import Experiment
from rules.lookup import Index
from rules.model import Action, EventType, MoT, OutcomeRule, Policy, Program
from rules.vocab import PRODUCT_LINES


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The whole validated catalogue. `version` is a short hash of its files' content."""

    version: str
    mots: Mapping[str, MoT]
    programs: Mapping[str, Program]
    actions: Mapping[str, Action]
    policies: Mapping[str, Policy]
    event_types: Mapping[str, EventType]
    bill_shock_ratio: float
    history_retain_ms: int  # the longest policy window: older history changes nothing
    history_max_entries: int
    index: Index = field(repr=False, compare=False)
    experiment: Experiment | None = None  # experiments.yaml's running experiment
    nbo_rank_by: str = "value"  # one of rules.vocab.NBO_RANKINGS
    # Event type -> the MoTs' positive outcomes it may be (rules.outcomes).
    outcomes: Mapping[str, tuple[OutcomeRule, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    watch_ms: Mapping[str, int] = field(  # MoT -> its outcomes' longest window, ms
        default_factory=lambda: MappingProxyType({}))

    def economics(self, mot_id: str, product_line: str) -> Economics:
        mot = self.mots.get(mot_id)
        if mot is None or product_line not in mot.economics:
            raise KeyError(f"no MoT {mot_id!r} on product line {product_line!r}")
        return mot.economics[product_line]

    def to_public_dict(self) -> dict[str, object]:
        """The shape `arbiter rules show --json` prints (plus `rules_version`)."""
        return {
            "mots": [{"id": m.id, "name": m.name, "product_lines": list(m.product_lines)}
                     for m in self.mots.values()],
            "programs": [{"id": p.id, "name": p.name, "priority": p.priority,
                          "mots": {line: list(p.mots[line]) for line in PRODUCT_LINES
                                   if p.mots[line]}}
                         for p in self.programs.values()],
            "event_types": list(self.event_types),
            "rules_version": self.version,
        }
