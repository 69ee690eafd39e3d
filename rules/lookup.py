"""Lookups precomputed at load, so that classifying and arbitrating an event is a few dict hits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from rules.decision import Candidate, ChosenAction
from rules.model import Action, EventType, MoT, Policy, Program
from rules.predicates import Predicate, predicates
from rules.vocab import INTERACTION_CHANNELS, NBO, PRODUCT_LINES

# One of classify's rules on one product line: the predicates that must all hold, and the
# MoT, or (None and) the MoT per interaction channel.
EventRule = tuple[tuple[Predicate, ...], str | None, Mapping[str, str] | None]

_NO_CHANNEL = "ineligible: answers in the customer's channel, and the event names none"


class Spec:
    """One action as a candidate at one MoT on one product line, with all it needs ready.

    A plain class: compiled, arbitration reads its fields without a look-up each."""

    def __init__(
        self,
        n: int,  # unique per spec: the key of memoized candidate lines
        sort_key: tuple[int, float, str],  # best first: priority, then score, then id
        action: Action,
        program: str,
        priority: int,
        score: float,
        mot: str,
        commercial: bool,
        inbound: bool,  # answers in the event's channel
        nbo: bool,  # ranked by NBO first: a commercial program at a MoT of NBO's table
        segments: frozenset[str],
        exclude: frozenset[str],
        # Ready-made candidate lines for the reasons an action is ineligible.
        need: Candidate,  # the customer has none of `segments`
        excluded: Mapping[str, Candidate],  # the customer has this one of `exclude`
        no_channel: Candidate,  # an answer in the customer's channel, and the event has none
        when: tuple[tuple[Predicate, Candidate], ...],
        # Outbound: the chosen action and its policies. Inbound: both keyed by event channel.
        chosen: ChosenAction | Mapping[str, ChosenAction],
        policies: tuple[Rule, ...] | Mapping[str, tuple[Rule, ...]],
        value_key: tuple[float, int, str],  # NBO's order by value: score, priority, id
        by_value: bool,  # NBO ranks by value (the catalogue's nbo.rank_by), for the reasons
    ) -> None:
        self.n = n
        self.sort_key = sort_key
        self.action = action
        self.channel = action.channel  # read per event: Action is a Python dataclass
        self.program = program
        self.priority = priority
        self.score = score
        self.mot = mot
        self.commercial = commercial
        self.inbound = inbound
        self.nbo = nbo
        self.segments = segments
        self.exclude = exclude
        self.need = need
        self.excluded = excluded
        self.no_channel = no_channel
        self.when = when
        self.chosen = chosen
        self.policies = policies
        self.value_key = value_key
        self.by_value = by_value
        self.held: dict[str, Candidate] = {}  # reason -> its line held back (held_line)

    def line(self, status: str, reason: str) -> Candidate:
        return Candidate(self.program, self.action.id, self.priority, self.score, status, reason)

    def held_line(self, reason: str) -> Candidate:
        """Its line when a policy holds it back: one per reason (policy.Checker keeps each
        reason's string, so the look-up compares by identity)."""
        got = self.held.get(reason)
        if got is None:
            got = self.line("suppressed", reason)
            if len(self.held) < 256:
                self.held[reason] = got
        return got


class Rule:
    """A contact policy as one candidate meets it: the fields the checker reads, and the key
    of its verdict (the policy and the candidate's program or channel, whichever its scope
    counts), ready at load. A plain class: compiled, its fields are read without a look-up
    (the catalogue's Policy is a Python dataclass).

    `scope` is also an int (`SCOPE_ANY` ...), compared once per check rather than as a string
    per history entry; `texts` and `quiet_texts` keep the reasons it has given
    (policy.Checker), so a reason met again is the same string, built once."""

    __slots__ = ("after", "cap", "channel", "id", "key", "limit", "program", "quiet_texts",
                 "scope", "scope_code", "texts", "window", "window_ms")

    def __init__(self, p: Policy, program: str, channel: str) -> None:
        self.id = p.id
        self.cap = p.kind == "cap"
        self.scope = p.scope
        self.scope_code = _SCOPES[p.scope]
        self.limit = p.limit
        self.window_ms = p.window_ms
        self.window = p.window
        self.after = frozenset(p.after)
        self.program = program
        self.channel = channel
        self.key = f"{p.id}|{program if p.scope == 'program' else channel}"
        self.texts: dict[int, str] = {}  # a cap's reasons
        self.quiet_texts: dict[str, dict[int, str]] = {}  # a quiet period's, per MoT


# Rule.scope_code: the scopes of rules.vocab, as the checker's loop compares them.
SCOPE_ANY: Final = 0
SCOPE_COMMERCIAL: Final = 1
SCOPE_PROGRAM: Final = 2
SCOPE_CHANNEL: Final = 3
_SCOPES: Final = {"any": SCOPE_ANY, "commercial": SCOPE_COMMERCIAL, "program": SCOPE_PROGRAM,
                  "channel": SCOPE_CHANNEL}


def score(action: Action, econ: tuple[float, float, float, float]) -> float:
    """The action's expected value: its weight x what is at stake at this MoT, in EUR.

    NBO ranks commercial offers by it (nbo.rank_by: value); NBA uses it after priority.
    A commercial action works on the upside (value x probability of a positive decision), any
    other on the downside it can avert (value x probability of a negative decision).
    """
    vp, pp, vn, pn = econ
    return round(action.weight * (vp * pp if action.commercial else vn * pn), 2)


def applies(p: Policy, program: str, commercial: bool, channel: str, inbound: bool) -> bool:
    if (inbound and p.inbound_exempt) or program in p.except_programs or (
            p.programs and program not in p.programs):
        return False
    return (p.scope in ("any", "program") or (p.scope == "commercial" and commercial)
            or (p.scope == "channel" and channel in p.channels))


class Index:
    def __init__(self, mots: Mapping[str, MoT], programs: Mapping[str, Program],
                 actions: Mapping[str, Action], policies: Mapping[str, Policy],
                 event_types: Mapping[str, EventType], nbo_rank_by: str, *, version: str,
                 retain_ms: int, max_entries: int) -> None:
        """`version`, `retain_ms`, `max_entries`: the catalogue's rules_version,
        history_retain_ms and history_max_entries, which arbitration and history_update read
        at every event here (a compiled class's fields, where the Catalogue's are a Python
        object's attributes)."""
        self.by_value = nbo_rank_by == "value"
        self.version = version
        self.retain_ms = retain_ms
        self.max_entries = max_entries
        self.risk_mots = frozenset(m for p in policies.values() for m in p.after)
        # classify's tables, product line -> event type -> MoTs (no conditions) or rules:
        # nested, as a tuple key would be built and hashed at every event.
        self.static: dict[str, dict[str, tuple[str, ...]]] = {line: {} for line in PRODUCT_LINES}
        self.dynamic: dict[str, dict[str, tuple[EventRule, ...]]] = {
            line: {} for line in PRODUCT_LINES}
        for et in event_types.values():
            for line in PRODUCT_LINES:
                self._event_rules(et, line, mots)
        specs: dict[tuple[str, str], list[Spec]] = {}
        nbo = programs[NBO].mots
        n = 0
        for a in actions.values():
            prog = programs[a.program]
            for line in a.eligibility.product_lines:
                for mot in a.mots:
                    if mot in prog.mots[line]:
                        spec = self._spec(n, a, prog, mot, line, mots[mot], mot in nbo[line],
                                          policies, self.by_value)
                        n += 1
                        specs.setdefault((line, mot), []).append(spec)
        self.specs = {k: tuple(sorted(v, key=_key)) for k, v in specs.items()}
        self._sets: dict[tuple[str, tuple[str, ...]], CandidateSet] = {}
        # Memos (bounded) of what depends only on a few inputs. `screens`: per candidate set,
        # channel, segments and the attrs conditions read: who is eligible (and the lines of
        # those who are not), plus the ranked lines when no policy holds anyone back.
        # `ranked`: the line of a lost or won action, given the winner and NBO's pick.
        self.screens: dict[tuple[object, ...], Screen] = {}
        self.ranked: dict[tuple[int, int, int], Candidate] = {}

    def _event_rules(self, et: EventType, line: str, mots: Mapping[str, MoT]) -> None:
        rules: list[EventRule] = []
        for r in et.rules:
            if r.by_channel is not None:
                by = {ch: m for ch, m in r.by_channel.items() if line in mots[m].product_lines}
                if by:
                    rules.append((predicates(r.when), None, by))
            elif line in mots[r.mot].product_lines:  # type: ignore[index]
                rules.append((predicates(r.when), r.mot, None))
        if all(not when and by is None for when, _, by in rules):
            got = tuple(dict.fromkeys(m for _, m, _ in rules))
            if got:
                self.static[line][et.type] = got  # type: ignore[assignment]
        else:
            self.dynamic[line][et.type] = tuple(rules)

    @staticmethod
    def _spec(n: int, a: Action, prog: Program, mot: str, line: str, m: MoT, in_nbo: bool,
              policies: Mapping[str, Policy], by_value: bool) -> Spec:
        s = score(a, m.economics[line])
        e = a.eligibility
        if a.inbound:
            chosen: object = {ch: ChosenAction(a.id, a.program, ch, a.description, mot,
                                               a.commercial) for ch in INTERACTION_CHANNELS}
            pols: object = {ch: tuple(Rule(p, a.program, ch) for p in policies.values()
                                      if applies(p, a.program, a.commercial, ch, True))
                            for ch in INTERACTION_CHANNELS}
        else:
            chosen = ChosenAction(a.id, a.program, a.channel, a.description, mot, a.commercial)
            pols = tuple(Rule(p, a.program, a.channel) for p in policies.values()
                         if applies(p, a.program, a.commercial, a.channel, False))
        segs = sorted(e.segments)
        need = (f"ineligible: segment {segs[0]} required" if len(segs) == 1
                else f"ineligible: one of segments {', '.join(segs)} required")
        nbo = in_nbo and prog.kind == "commercial"

        def ineligible(reason: str) -> Candidate:
            return Candidate(a.program, a.id, prog.priority, s, "ineligible", reason)

        excluded = {x: ineligible(f"ineligible: not for customers in segment {x}")
                    for x in e.exclude_segments}
        return Spec(n, (-prog.priority, -s, a.id), a, a.program, prog.priority, s, mot,
                    a.commercial, a.inbound, nbo, e.segments, e.exclude_segments, ineligible(need),
                    excluded, ineligible(_NO_CHANNEL),
                    tuple((Predicate(c), ineligible(f"ineligible: needs {c.text}"))
                          for c in e.when),
                    chosen, pols, (-s, -prog.priority, a.id), by_value)  # type: ignore[arg-type]

    def candidates(self, line: str, mots: tuple[str, ...]) -> CandidateSet:
        """Every action at these MoTs, best first; an action at two MoTs counts once, best."""
        key = (line, mots)
        got = self._sets.get(key)
        if got is None:
            seen: dict[str, Spec] = {}
            for s in sorted((s for m in mots for s in self.specs.get((line, m), ())), key=_key):
                seen.setdefault(s.action.id, s)
            got = CandidateSet(key, tuple(seen.values()))
            if len(self._sets) < 4096:  # MoT combinations come from classify: a handful
                self._sets[key] = got
                got.kept = True
        return got


class Screen:
    """What eligibility decided for one candidate set, given the event fields it reads."""

    def __init__(self, template: tuple[Candidate | None, ...], eligible: tuple[int, ...],
                 others: tuple[int, ...], by_value: tuple[int, ...]) -> None:
        self.template = template  # the lines of the ineligible candidates; None where eligible
        self.eligible = eligible  # positions of the eligible candidates, best first
        self.others = others  # the eligible outside NBO, in NBA's (priority) order
        self.by_value = by_value  # NBO's eligible, highest expected value first
        # The whole ranked table when no policy holds anyone back: filled at its first use.
        self.ranked: tuple[Candidate, ...] | None = None


class CandidateSet:
    """The candidates of one (product line, MoTs), and the attrs their conditions read."""

    __slots__ = ("fields", "kept", "key", "specs")

    def __init__(self, key: tuple[str, tuple[str, ...]], specs: tuple[Spec, ...]) -> None:
        self.key = key
        self.specs = specs
        self.kept = False  # kept by the index for good: memos may key on it by identity
        self.fields = tuple(sorted({f for s in specs for c in s.action.eligibility.when
                                    for f in (c.field, c.of) if f is not None}))


def _key(s: Spec) -> tuple[int, float, str]:
    return s.sort_key
