"""The catalogue's frozen objects: MoTs, programs, actions, contact policies, event rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rules.conditions import Condition
from rules.economics import Economics

if TYPE_CHECKING:
    from rules.lookup import Index

PRODUCT_LINES = ("prepaid", "postpaid", "home")
CHANNELS = ("sms", "email", "push", "outbound_call", "store", "call_center", "telesales", "digital")
OUTCOMES = ("action", "suppressed", "no_candidate", "no_mot")
# Channels a customer starts a conversation in (the event's `channel`).
INTERACTION_CHANNELS = ("store", "call_center", "telesales", "digital")
# An action whose channel is this answers in the channel the customer is using.
EVENT_CHANNEL = "event"
PROGRAM_KINDS = ("commercial", "experience", "umbrella")
NBO, NBA = "nbo", "nba"
# How NBO picks among the eligible commercial offers: the highest expected value (the action's
# weight x the MoT's value x probability of a positive decision), or the highest priority.
NBO_RANKINGS = ("value", "priority")


@dataclass(frozen=True, slots=True)
class MoT:
    id: str
    name: str
    product_lines: tuple[str, ...]
    economics: Mapping[str, Economics]


@dataclass(frozen=True, slots=True)
class Program:
    id: str
    name: str
    purpose: str
    kind: str  # commercial (ranked first by NBO), experience, or umbrella (nbo, nba)
    priority: int
    mots: Mapping[str, tuple[str, ...]]  # product line -> MoT ids


@dataclass(frozen=True, slots=True)
class Eligibility:
    product_lines: tuple[str, ...]
    segments: frozenset[str]  # the customer needs one of these (none: anyone)
    exclude_segments: frozenset[str]  # the customer must have none of these
    when: tuple[Condition, ...]  # conditions on the event's attrs, all must hold


@dataclass(frozen=True, slots=True)
class Action:
    id: str
    program: str
    mots: tuple[str, ...]
    channel: str  # one of CHANNELS, or EVENT_CHANNEL
    description: str
    weight: float
    commercial: bool
    eligibility: Eligibility

    @property
    def inbound(self) -> bool:
        return self.channel == EVENT_CHANNEL


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    kind: str  # cap: at most `limit` matching actions per window; quiet: none after a risk
    scope: str  # any, commercial, program (the candidate's own program), channel
    limit: int
    window_ms: int
    window: str  # as written, for reasons
    channels: frozenset[str]
    programs: frozenset[str]  # empty: every program
    except_programs: frozenset[str]
    after: tuple[str, ...]  # quiet: the risk MoTs that open the quiet period
    inbound_exempt: bool
    description: str


@dataclass(frozen=True, slots=True)
class EventRule:
    """One way an event type yields a MoT: a fixed MoT, or one picked by the event's channel."""

    type: str
    mot: str | None
    by_channel: Mapping[str, str] | None
    when: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class EventType:
    type: str
    attrs: Mapping[str, object]  # attr name -> "bool" | "number" | "string" | tuple of strings
    rules: tuple[EventRule, ...]


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
    nbo_rank_by: str = "value"  # one of NBO_RANKINGS

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
