"""The catalogue's frozen parts: MoTs, programs, actions, contact policies, event rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rules.conditions import Condition
from rules.economics import Economics
from rules.predicates import Predicate, predicates
from rules.vocab import EVENT_CHANNEL


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
class OutcomeRule:
    """An event type that is a MoT's positive outcome (mots.yaml `positive_outcome`): such an
    event within `within_ms` of a decision for that MoT converts it, action or not."""

    mot: str
    event: str
    within_ms: int
    within: str  # as written, for explanations
    when: tuple[Condition, ...]  # conditions on the outcome event's attrs, all must hold
    tests: tuple[Predicate, ...] = field(init=False, compare=False, repr=False)  # of `when`

    def __post_init__(self) -> None:
        object.__setattr__(self, "tests", predicates(self.when))
