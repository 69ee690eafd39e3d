"""One decision per event: gather candidate actions, filter, apply policies, rank in two levels.

Two levels. NBO first picks one commercial offer among the commercial programs at the MoTs of
its table: with the catalogue's `nbo.rank_by: value` (the default) the free offer of highest
expected value (the score, see lookup.score: the action's weight x the MoT's value x
probability of a positive decision), then priority, then id; with `priority` the free offer
of highest program priority, then score, then id. NBA then picks, by program priority, then
score, then action id, among NBO's pick, the commercial actions at MoTs outside NBO's table
and the experience programs. A decision never depends on anything but its inputs; the levels
show in the reasons ("lost to upsell_cross_sell at NBO (NBO: expected value 12.4 > 9.0)").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rules.catalogue import Catalogue
from rules.decision import Candidate, Decision
from rules.event import Event
from rules.history import History, PastRisk
from rules.lookup import CandidateSet, Index, Screen, Spec
from rules.policy import Checker

_MEMO_MAX: Final = 50_000


def arbitrate(catalogue: Catalogue, event: Event, mots: Sequence[str], history: History,
              now_ms: int, arm: str = "champion") -> Decision:
    mots = tuple(mots)
    index = catalogue.index  # the catalogue's settings read from here: compiled fields
    version = index.version
    if not mots:
        return Decision(event, mots, "no_mot", None, (), version, now_ms, arm)
    cs = index.candidates(event.product_line, mots)
    screen = _screen(index, cs, event)
    template, eligible = screen.template, screen.eligible
    if not eligible:
        return Decision(event, mots, "no_candidate", None, template, version, now_ms,  # type: ignore[arg-type]
                        arm)
    specs, channel = cs.specs, event.channel
    risky = index.risk_mots
    own = [PastRisk(event.ts_ms, m) for m in mots if m in risky]
    checker = Checker(history, now_ms, own) if own or history.entries else None
    out: list[Candidate | None] | None = None  # a copy of the template once anyone is held back
    winner = pick = None  # the final choice, and NBO's pick of the commercial offers
    if index.by_value:
        # NBO's pick: the first free offer in expected-value order. NBA's choice: the first
        # free candidate outside NBO ranked above the pick (positions follow NBA's order),
        # else the pick.
        at = len(specs)
        for i in screen.by_value:
            s = specs[i]
            reason = None if checker is None else _held(checker, s, channel)
            if reason is None:
                pick, at = s, i
                break
            if out is None:
                out = list(template)
            out[i] = s.held_line(reason)
        for i in screen.others:
            if i > at:
                break
            s = specs[i]
            reason = None if checker is None else _held(checker, s, channel)
            if reason is None:
                winner = s
                break
            if out is None:
                out = list(template)
            out[i] = s.held_line(reason)
        if winner is None:
            winner = pick
    else:
        for i in eligible:
            s = specs[i]
            if winner is not None and (pick is not None or not s.nbo):
                if pick is not None:
                    break
                continue  # past the winner, only NBO's own pick is still worth finding
            if checker is not None:
                reason = _held(checker, s, channel)
                if reason is not None:
                    if out is None:
                        out = list(template)
                    out[i] = s.held_line(reason)
                    continue
            if winner is None:
                winner = s
            if s.nbo and pick is None:
                pick = s
    if winner is None:
        return Decision(event, mots, "suppressed", None, tuple(out), version, now_ms,  # type: ignore[arg-type]
                        arm)
    if out is None:  # nobody held back: the lines depend on the screen alone
        lines = screen.ranked
        if lines is None:
            lines = screen.ranked = _ranked(index, list(template), specs, eligible, winner, pick)
    else:
        lines = _ranked(index, out, specs, eligible, winner, pick)
    chosen = winner.chosen[channel] if winner.inbound else winner.chosen  # type: ignore
    return Decision(event, mots, "action", chosen, lines, version, now_ms, arm)  # type: ignore


def _held(checker: Checker, s: Spec, channel: str | None) -> str | None:
    """The policy holding this candidate back, as a reason; None when it is free."""
    if s.inbound:
        return checker.blocked(s.policies[channel], s.program, channel)  # type: ignore
    return checker.blocked(s.policies, s.program, s.channel)  # type: ignore


def _screen(index: Index, cs: CandidateSet, event: Event) -> Screen:
    """Who is eligible (and the lines of who is not), memoized on what eligibility reads."""
    memo = index.screens
    try:
        # A set the index keeps, hashed by identity: hashing its key's tuples again at every
        # event cost more than the look-up.
        fields = cs.fields
        key = (cs if cs.kept else cs.key, event.channel, event.segments, tuple(
            [(type(v), v) for v in map(event.raw_attrs.get, fields)]) if fields else ())
        got = memo.get(key)
    except TypeError:  # a list or an object among the attrs: not hashable, not memoized
        return _eligibility(cs, event)
    if got is None:
        got = _eligibility(cs, event)
        if len(memo) < _MEMO_MAX:
            memo[key] = got
    return got


def _eligibility(cs: CandidateSet, event: Event) -> Screen:
    segs, attrs, channel = event.segments, event.raw_attrs, event.channel
    out: list[Candidate | None] = [None] * len(cs.specs)
    eligible = []
    for i, s in enumerate(cs.specs):
        if s.segments and s.segments.isdisjoint(segs):
            out[i] = s.need
        elif s.exclude and not s.exclude.isdisjoint(segs):
            out[i] = s.excluded[next(x for x in segs if x in s.exclude)]
        elif s.inbound and channel is None:
            out[i] = s.no_channel
        else:
            for test, line in s.when:
                if not test.holds(attrs):
                    out[i] = line
                    break
            else:
                eligible.append(i)
    specs = cs.specs
    by_value = sorted((i for i in eligible if specs[i].nbo), key=lambda i: specs[i].value_key)
    return Screen(tuple(out), tuple(eligible), tuple(i for i in eligible if not specs[i].nbo),
                  tuple(by_value))


def _ranked(index: Index, out: list[Candidate | None], specs: tuple[Spec, ...],
            eligible: tuple[int, ...], winner: Spec, pick: Spec | None) -> tuple[Candidate, ...]:
    memo, w, p = index.ranked, winner.n, -1 if pick is None else pick.n
    for i in eligible:
        if out[i] is None:
            s = specs[i]
            key = (s.n, w, p)
            line = memo.get(key)
            if line is None:
                line = s.line(*_rank(s, winner, pick))
                if len(memo) < _MEMO_MAX:
                    memo[key] = line
            out[i] = line
    return tuple(out)  # type: ignore[arg-type]


def _rank(s: Spec, winner: Spec, pick: Spec | None) -> tuple[str, str]:
    by_value = s.by_value
    if s is winner:
        if s is pick:
            via = (f"NBO's pick of the commercial offers (expected value {s.score}), then "
                   if by_value else "NBO's pick of the commercial offers, then ")
        else:
            via = ""
        return "won", f"won: {via}first at NBA (priority {s.priority}, score {s.score})"
    if s is pick:
        return "lost", f"NBO's pick, lost to {_name(winner, s)} at NBA ({_why(winner, s)})"
    if s.nbo and pick is not None:
        why = _why_value(pick, s) if by_value else _why(pick, s)
        return "lost", f"lost to {_name(pick, s)} at NBO ({why})"
    return "lost", f"lost to {_name(winner, s)} ({_why(winner, s)})"


def _name(w: Spec, s: Spec) -> str:
    return w.program if w.program != s.program else f"{w.program}'s {w.action.id}"


def _why(w: Spec, s: Spec) -> str:
    if w.priority != s.priority:
        return f"priority {w.priority} > {s.priority}"
    if w.score != s.score:
        return f"same priority {s.priority}, score {w.score} > {s.score}"
    return f"same priority and score, {w.action.id} comes first by id"


def _why_value(w: Spec, s: Spec) -> str:
    if w.score != s.score:
        return f"NBO: expected value {w.score} > {s.score}"
    if w.priority != s.priority:
        return f"NBO: same expected value {s.score}, priority {w.priority} > {s.priority}"
    return f"NBO: same expected value and priority, {w.action.id} comes first by id"
