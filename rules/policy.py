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
from rules.lookup import Rule

_UNSEEN: Final = object()


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
        since, scope = self.now - p.window_ms, p.scope
        n, last = 0, 0
        for a in self.actions:
            if a.ts > since and (
                scope == "any" or (scope == "commercial" and a.commercial)
                or (scope == "program" and a.program == program)
                or (scope == "channel" and a.channel == channel)
            ):
                n += 1
                if n == 1 or a.ts > last:
                    last = a.ts
        if n < p.limit or n == 0:
            return None
        head = f"suppressed by policy {p.id}: "
        if scope == "program" and p.limit == 1:
            return f"{head}{program} acted {ago(self.now - last)} ago, once per {p.window} at most"
        what = {"any": "contact", "commercial": "commercial offer", "program": f"{program} action",
                "channel": f"{channel} contact"}[scope]
        plural = "" if n == 1 else "s"
        return f"{head}{n} {what}{plural} in the last {p.window} (limit {p.limit})"

    def _quiet(self, p: Rule) -> str | None:
        since, after = self.now - p.window_ms, p.after
        hit: PastRisk | None = None
        for r in self.risks:
            if r.ts > since and r.mot in after and (hit is None or r.ts > hit.ts):
                hit = r
        if hit is None:
            return None
        what = "sales offer" if p.scope == "commercial" else "contact"
        return (f"suppressed by policy {p.id}: {hit.mot} {ago(max(0, self.now - hit.ts))} ago, "
                f"no {what} within {p.window}")
