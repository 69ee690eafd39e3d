"""One decision per event: gather candidate actions, filter, apply policies, rank in two levels.

Ranking is by program priority, then score (see lookup.score), then action id, so a decision
never depends on anything but its inputs. NBO first picks the best commercial offer among the
commercial programs at the MoTs of its table; NBA then picks among that offer, the commercial
actions at MoTs outside NBO's table, and the experience programs. Both levels use the same
order, so the winner is the best candidate no policy holds back; the levels show in the reasons.
"""

from __future__ import annotations

from collections.abc import Sequence

from rules.catalogue import Catalogue
from rules.decision import Candidate, Decision
from rules.event import Event
from rules.history import History, PastRisk
from rules.lookup import CandidateSet, Index, Screen, Spec
from rules.policy import Checker

_MEMO_MAX = 50_000


def arbitrate(catalogue: Catalogue, event: Event, mots: Sequence[str], history: History,
              now_ms: int, arm: str = "champion") -> Decision:
    mots = tuple(mots)
    version = catalogue.version
    if not mots:
        return Decision(event, mots, "no_mot", None, (), version, now_ms, arm)
    index = catalogue.index
    cs = index.candidates(event.product_line, mots)
    screen = _screen(index, cs, event)
    template, eligible = screen.template, screen.eligible
    if not eligible:
        return Decision(event, mots, "no_candidate", None, template, version, now_ms, arm)  # type: ignore[arg-type]
    specs, channel = cs.specs, event.channel
    risky = index.risk_mots
    own = [PastRisk(event.ts_ms, m) for m in mots if m in risky]
    checker = Checker(history, now_ms, own) if own or history.entries else None
    out: list[Candidate | None] | None = None  # a copy of the template once anyone is held back
    winner = pick = None  # the final choice, and NBO's pick of the commercial offers
    for i in eligible:
        s = specs[i]
        if winner is not None and (pick is not None or not s.nbo):
            if pick is not None:
                break
            continue  # past the winner, only NBO's own pick is still worth finding
        if checker is not None:
            if s.inbound:
                reason = checker.blocked(s.policies[channel], s.program, channel)  # type: ignore
            else:
                reason = checker.blocked(s.policies, s.program, s.action.channel)  # type: ignore
            if reason is not None:
                if out is None:
                    out = list(template)
                out[i] = s.line("suppressed", reason)
                continue
        if winner is None:
            winner = s
        if s.nbo and pick is None:
            pick = s
    if winner is None:
        return Decision(event, mots, "suppressed", None, tuple(out), version, now_ms, arm)  # type: ignore
    if out is None:  # nobody held back: the lines depend on the screen alone
        lines = screen.ranked
        if lines is None:
            lines = screen.ranked = _ranked(index, list(template), specs, eligible, winner, pick)
    else:
        lines = _ranked(index, out, specs, eligible, winner, pick)
    chosen = winner.chosen[channel] if winner.inbound else winner.chosen  # type: ignore
    return Decision(event, mots, "action", chosen, lines, version, now_ms, arm)  # type: ignore


def _screen(index: Index, cs: CandidateSet, event: Event) -> Screen:
    """Who is eligible (and the lines of who is not), memoized on what eligibility reads."""
    memo = index.screens
    try:
        key = (cs.key, event.channel, event.segments, tuple(
            [(type(v), v) for v in map(event.attrs.get, cs.fields)]))
        got = memo.get(key)
    except TypeError:  # a list or an object among the attrs: not hashable, not memoized
        return _eligibility(cs, event)
    if got is None:
        got = _eligibility(cs, event)
        if len(memo) < _MEMO_MAX:
            memo[key] = got
    return got


def _eligibility(cs: CandidateSet, event: Event) -> Screen:
    segs, attrs, channel = event.segments, event.attrs, event.channel
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
                if not test(attrs):
                    out[i] = line
                    break
            else:
                eligible.append(i)
    return Screen(tuple(out), tuple(eligible))


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
    if s is winner:
        via = "NBO's pick of the commercial offers, then " if s is pick else ""
        return "won", f"won: {via}first at NBA (priority {s.priority}, score {s.score})"
    if s is pick:
        return "lost", f"NBO's pick, lost to {_name(winner, s)} at NBA ({_why(winner, s)})"
    if s.nbo and pick is not None:
        return "lost", f"lost to {_name(pick, s)} at NBO ({_why(pick, s)})"
    return "lost", f"lost to {_name(winner, s)} ({_why(winner, s)})"


def _name(w: Spec, s: Spec) -> str:
    return w.program if w.program != s.program else f"{w.program}'s {w.action.id}"


def _why(w: Spec, s: Spec) -> str:
    if w.priority != s.priority:
        return f"priority {w.priority} > {s.priority}"
    if w.score != s.score:
        return f"same priority {s.priority}, score {w.score} > {s.score}"
    return f"same priority and score, {w.action.id} comes first by id"
