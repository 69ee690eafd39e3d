"""What one replay decided, summed as it goes: the pipeline's outputs and its decisions.

`Tally` is the pipeline's Outputs (streams/emit.py) in a simulation, where the worker has its
Kafka Emitter, and its `observe` hook sees each decision made.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import BinaryIO, Final

import orjson

from rules import Catalogue, Decision, Event
from rules.decision import Candidate
from rules.lookup import score

_DAY_MS: Final = 86_400_000
_WEEK_MS: Final = 7 * 86_400_000
_HELD: Final = "suppressed by policy "
_MEMO_MAX: Final = 8192
# Quoted values and numbers (a sign left in place), not the digits of a name such as UTF-8.
_DETAIL = re.compile(r"'[^']*'|\"[^\"]*\"|(?<!\w-)(?<!\w)\d+\b")


def deadletter_reason(error: str) -> str:
    """A dead letter's error without its particulars (values, positions): a reason to count.

    "event: not JSON (unexpected character: line 1 column 1 (char 0))" -> "event: not JSON".
    """
    return _DETAIL.sub("…", error.split(" (", 1)[0])


class _Running:
    """One customer's actions: in all, and in the day and the week of their latest one."""

    def __init__(self) -> None:
        self.total = 0
        self.day = -1
        self.in_day = 0
        self.week = -1
        self.in_week = 0


class Tally:
    """Counts of one replay. `keep=True` also keeps, per decision in order, the event id,
    customer, what was decided (the action id, or the outcome) and its expected value, for
    comparing two catalogues over the same events."""

    def __init__(self, catalogue: Catalogue, keep: bool = False,
                 decisions: BinaryIO | None = None) -> None:
        self.catalogue = catalogue
        self.keep = keep
        self.out = decisions  # every decision's JSON, one a line, as nba.decisions gets them
        self.needs_bodies = decisions is not None  # else the pipeline may leave them unmade
        # Plain dicts, not Counters: compiled, a dict's get and set are direct calls.
        self.deadletters: dict[str, int] = {}
        # Each decision's outcome, and each action's program and channel, in order, and each
        # candidate held back's policy: counted once at the end (Counter, in C), a list append
        # per decision being a fraction of a dict's read and write.
        self._outcomes: list[str] = []
        self._programs: list[str] = []
        self._channels: list[str] = []
        self._held: list[str] = []
        self.customers: set[str] = set()
        # Most actions any customer got in one day and in one week (UTC, epoch weeks): each
        # customer's count of the current day and week, as decisions come in time order.
        self.max_per_day = 0
        self.max_per_week = 0
        self._contacted: dict[str, _Running] = {}
        self.expected_value = 0.0  # EUR, the chosen actions' scores summed
        self._values: dict[tuple[str, str, str], float] = {}
        self.event_ids: list[str] = []
        self.customer_ids: list[str] = []
        self.decided: list[str] = []
        self.values: list[float] = []
        self._policies: dict[str, str] = {}  # a suppression's reason -> its policy

    @property
    def outcomes(self) -> dict[str, int]:
        """Decisions made, per outcome."""
        return dict(Counter(self._outcomes))

    @property
    def programs(self) -> dict[str, int]:
        """Actions, per program."""
        return dict(Counter(self._programs))

    @property
    def channels(self) -> dict[str, int]:
        """Actions, per channel."""
        return dict(Counter(self._channels))

    @property
    def held(self) -> dict[str, int]:
        """Candidates held back, per policy."""
        return dict(Counter(self._held))

    @property
    def contacts(self) -> dict[str, int]:
        """Actions per customer contacted."""
        return {c: run.total for c, run in self._contacted.items()}

    # --- Outputs ----------------------------------------------------------------------
    def decision(self, customer_id: str, body: bytes, channel: str | None) -> None:
        # Counted by observe (a decision made); a repeat's stored one is the worker's count.
        if self.out is not None:
            self.out.write(body + b"\n")

    def deadletter(self, key: bytes | None, body: bytes) -> None:
        reason = deadletter_reason(str(orjson.loads(body).get("error", "?")))
        self.deadletters[reason] = self.deadletters.get(reason, 0) + 1

    def forward(self, topic: str, key: bytes, body: bytes, partition: int) -> None:
        """Never called: a replay has no partitions to put a record on (the pipeline's
        `events_partitions` stays 0)."""
        raise AssertionError("a replay forwards nothing")

    async def submit(self) -> asyncio.Future[list[object]]:
        done: asyncio.Future[list[object]] = asyncio.get_running_loop().create_future()
        done.set_result([])
        return done

    def _held_by(self, candidates: tuple[Candidate, ...]) -> list[str]:
        """The policies holding candidates back, one per held line. (Only a decision with a
        line held back has one: its candidate list is a new tuple every time, so no memo.)"""
        out: list[str] = []
        for c in candidates:
            if c.status == "suppressed":
                policy = self._policy_of(c.reason)
                if policy:
                    out.append(policy)
        return out

    def _policy_of(self, reason: str) -> str:
        """The policy a suppression's reason names ("" for none); memoized by the reason,
        which arbitration builds once per policy and count (policy.Checker)."""
        memo = self._policies
        got = memo.get(reason)
        if got is None:
            got = (reason[len(_HELD):reason.find(":", len(_HELD))]
                   if reason.startswith(_HELD) else "")
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[reason] = got
        return got

    # --- the pipeline's observe hook --------------------------------------------------
    def observe(self, event: Event, decision: Decision) -> None:
        outcome = decision.outcome
        self._outcomes.append(outcome)
        cust = event.customer_id
        self.customers.add(cust)
        if outcome == "action" or outcome == "suppressed":
            self._held.extend(self._held_by(decision.candidates))
        a = decision.action
        value = 0.0
        if a is not None:
            self._programs.append(a.program)
            self._channels.append(a.channel)
            at = decision.decided_ms
            run = self._contacted.get(cust)
            if run is None:
                run = self._contacted[cust] = _Running()
            run.total += 1
            day, week = at // _DAY_MS, at // _WEEK_MS
            if day < run.day:  # a replay sorts its events: never, but never counted wrong
                raise ValueError(f"decisions out of time order for customer {cust}")
            if day != run.day:
                run.day, run.in_day = day, 0
            if week != run.week:
                run.week, run.in_week = week, 0
            run.in_day += 1
            run.in_week += 1
            if run.in_day > self.max_per_day:
                self.max_per_day = run.in_day
            if run.in_week > self.max_per_week:
                self.max_per_week = run.in_week
            key = (a.id, a.mot, event.product_line)
            got = self._values.get(key)
            if got is None:
                got = self._values[key] = score(self.catalogue.actions[a.id],
                                                self.catalogue.economics(a.mot,
                                                                         event.product_line))
            value = got
            self.expected_value += value
        if self.keep:
            self.event_ids.append(event.event_id)
            self.customer_ids.append(cust)
            self.decided.append(outcome if a is None else a.id)
            self.values.append(value)
