"""Contact policies against a customer's history: is this candidate held back, and why.

A cap counts the actions of the last window that match its scope (every action, commercial
ones, the candidate's program, or the candidate's channel) and holds the candidate back when
the count has reached the limit. A quiet period holds back matching candidates for a window
after a risk moment, the event's own included. An entry counts while now - ts < window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rules.history import History, PastRisk
from rules.lookup import SCOPE_ANY, SCOPE_COMMERCIAL, SCOPE_PROGRAM, Rule

_UNSEEN: Final = object()
_TEXTS_MAX: Final = 4096  # reasons kept per rule (policy.Rule.texts)


def ago(ms: int) -> str:
    if ms < 60_000:
        return "under a minute"
    if ms < 3_600_000:
        return f"{ms // 60_000}m"
    if ms < 86_400_000:
        return f"{ms // 3_600_000}h"
    return f"{ms // 86_400_000}d"


class Checker:
    """Evaluates policies for one decision; each (policy, program or channel) at most once."""

    __slots__ = ("actions", "cache", "now", "risks")

    def __init__(self, history: History, now_ms: int, own_risks: Sequence[PastRisk]) -> None:
        self.actions = history.actions
        self.risks = (*own_risks, *history.risks) if own_risks else history.risks
        self.now = now_ms
        self.cache: dict[str, str | None] = {}

    def blocked(self, rules: tuple[Rule, ...], program: str, channel: str) -> str | None:
        """The first policy holding this candidate back, as a reason; None when free."""
        cache = self.cache
        for r in rules:
            got = cache.get(r.key, _UNSEEN)
            if got is _UNSEEN:
                got = cache[r.key] = (self._cap(r, program, channel) if r.cap
                                      else self._quiet(r))
            if got is not None:
                return got  # type: ignore[return-value]
        return None

    def _cap(self, p: Rule, program: str, channel: str) -> str | None:
        since, code = self.now - p.window_ms, p.scope_code
        n, last = 0, 0
        # One loop per scope: the scope is compared once, not at every entry.
        if code == SCOPE_ANY:
            for a in self.actions:
                if a.ts > since:
                    n += 1
                    if a.ts > last:
                        last = a.ts
        elif code == SCOPE_COMMERCIAL:
            for a in self.actions:
                if a.ts > since and a.commercial:
                    n += 1
                    if a.ts > last:
                        last = a.ts
        elif code == SCOPE_PROGRAM:
            for a in self.actions:
                if a.ts > since and a.program == program:
                    n += 1
                    if a.ts > last:
                        last = a.ts
        else:
            for a in self.actions:
                if a.ts > since and a.channel == channel:
                    n += 1
                    if a.ts > last:
                        last = a.ts
        if n < p.limit or n == 0:
            return None
        # The reason depends on the rule and on the count (or, for a program's once per
        # window, on how long ago it acted): kept on the rule, one string per such value.
        once = code == SCOPE_PROGRAM and p.limit == 1
        key = -1 - _ago_key(self.now - last) if once else n
        texts = p.texts
        got = texts.get(key)
        if got is not None and p.program == program and p.channel == channel:
            return got
        head = f"suppressed by policy {p.id}: "
        if once:
            text = f"{head}{program} acted {ago(self.now - last)} ago, once per {p.window} at most"
        else:
            what = {"any": "contact", "commercial": "commercial offer",
                    "program": f"{program} action", "channel": f"{channel} contact"}[p.scope]
            plural = "" if n == 1 else "s"
            text = f"{head}{n} {what}{plural} in the last {p.window} (limit {p.limit})"
        if len(texts) < _TEXTS_MAX and p.program == program and p.channel == channel:
            texts[key] = text
        return text

    def _quiet(self, p: Rule) -> str | None:
        since, after = self.now - p.window_ms, p.after
        hit: PastRisk | None = None
        for r in self.risks:
            if r.ts > since and r.mot in after and (hit is None or r.ts > hit.ts):
                hit = r
        if hit is None:
            return None
        since_hit = max(0, self.now - hit.ts)
        by_mot = p.quiet_texts.get(hit.mot)
        if by_mot is None:
            by_mot = p.quiet_texts[hit.mot] = {}  # one per MoT of `after` at most
        key = _ago_key(since_hit)
        got = by_mot.get(key)
        if got is not None:
            return got
        what = "sales offer" if p.scope == "commercial" else "contact"
        text = (f"suppressed by policy {p.id}: {hit.mot} {ago(since_hit)} ago, "
                f"no {what} within {p.window}")
        if len(by_mot) < _TEXTS_MAX:
            by_mot[key] = text
        return text


def _ago_key(ms: int) -> int:
    """A number for each text `ago(ms)` gives, and only for it (ms >= 0)."""
    if ms < 60_000:
        return 0
    if ms < 3_600_000:
        return 1 + ms // 60_000  # 2-60
    if ms < 86_400_000:
        return 61 + ms // 3_600_000  # 62-84
    return 100 + ms // 86_400_000  # 101 on
