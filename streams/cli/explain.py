"""`arbiter explain EVENT_ID` / `--customer ID`: a decision explained for a person.

Finds the decision in Redis (kept by event_id for the dedupe window), else on the decisions
topic, and prints the event, its MoTs, the outcome, every candidate with its reason, and the
contact policies that held anything back with when they release (from the customer's contact
history in Redis and the catalogue's policies). `--json`: the decision as stored.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from rules import Catalogue, History, Policy, decode_stored, load_catalogue
from rules.errors import ArbiterError
from rules.history import PastAction
from streams.cli.args import whole
from streams.dashboard import lookup
from streams.dashboard.state import epoch_s
from streams.settings import Settings

POLICY_REASON = re.compile(r"^suppressed by policy ([A-Za-z0-9_.-]+):")
WHY = {
    "action": "an action was chosen (the candidate marked won)",
    "suppressed": "every eligible candidate was held back by a contact policy",
    "no_candidate": "the MoTs found no eligible action for this customer",
    "no_mot": "the event is no Moment of Truth on its product line: nothing to act on",
}


@dataclass(frozen=True, slots=True)
class Hold:
    """A contact policy that held candidates back, and when it frees them (epoch ms)."""

    policy: str
    description: str
    candidates: tuple[str, ...]  # program/action
    release_ms: int | None  # None: the history no longer shows what held them back


def _ms(ts: object) -> int | None:
    s = epoch_s(ts)
    return None if s is None else int(s * 1000)


def _release(p: Policy, program: str, channel: str, mots: list[str], event_ms: int,
             decided_ms: int, history: History) -> int | None:
    """When `p` stops holding back a candidate of (program, channel) decided at decided_ms.

    A cap holds while `limit` matching actions lie within the window: it frees once the
    limit-th newest of them is `window` old. A quiet period frees `window` after its newest
    risk moment (the event's own included), as rules/policy.py counts them.
    """
    since = decided_ms - p.window_ms
    if p.kind == "cap":
        # Entries up to the decision's own time: a batch's decisions share one time.
        times = sorted((a.ts for a in history.actions if since < a.ts <= decided_ms and (
            p.scope == "any" or (p.scope == "commercial" and a.commercial)
            or (p.scope == "program" and a.program == program)
            or (p.scope == "channel" and a.channel == channel))), reverse=True)
        return times[p.limit - 1] + p.window_ms if len(times) >= p.limit else None
    risks = [r.ts for r in history.risks if since < r.ts <= decided_ms and r.mot in p.after]
    risks += [event_ms for m in mots if m in p.after]
    return max(risks) + p.window_ms if risks else None


def _before(history: History, decision: dict[str, object], decided_ms: int) -> History:
    """The history as the decision saw it: without what came later, nor its own action."""
    own = decision.get("action") if decision.get("outcome") == "action" else None
    own_id = own.get("id") if isinstance(own, dict) else None
    kept, dropped_own = [], False
    for e in history.entries:
        if e.ts > decided_ms:
            continue
        if not dropped_own and own_id is not None and isinstance(e, PastAction) \
                and e.ts == decided_ms and e.action == own_id:
            dropped_own = True
            continue
        kept.append(e)
    return History.of(kept)


def holds(catalogue: Catalogue, decision: dict[str, object], history: History) -> list[Hold]:
    """The policies named by the candidates' reasons, with when each releases."""
    decided = _ms(decision.get("decided_ts")) or 0
    history = _before(history, decision, decided)
    event_ms = _ms(decision.get("event_ts")) or decided
    mots = [str(m) for m in decision.get("mots") or []]  # type: ignore[attr-defined]
    held: dict[str, list[str]] = {}
    release: dict[str, int | None] = {}
    for c in decision.get("candidates") or []:  # type: ignore[attr-defined]
        match = POLICY_REASON.match(str(c.get("reason", "")))
        if not match:
            continue
        pid, program = match.group(1), str(c.get("program"))
        held.setdefault(pid, []).append(f"{program}/{c.get('action')}")
        policy, action = catalogue.policies.get(pid), catalogue.actions.get(str(c.get("action")))
        if policy is None:
            release.setdefault(pid, None)
            continue
        channel = action.channel if action is not None else ""
        at = _release(policy, program, channel, mots, event_ms, decided, history)
        prev = release.get(pid)
        release[pid] = at if prev is None else max(prev, at or prev)
    return [Hold(pid, catalogue.policies[pid].description if pid in catalogue.policies else "",
                 tuple(cands), release[pid]) for pid, cands in held.items()]


def _when(ms: int, now_ms: int) -> str:
    at = datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    left = ms - now_ms
    if left <= 0:
        return f"{at} (released)"
    hours, rest = divmod(left // 1000, 3600)
    return f"{at} (in {hours}h{rest // 60:02d}m)"


def format_explained(d: dict[str, object], found_in: str, hold_list: list[Hold],
                     now_ms: int) -> str:
    """One decision, for a person."""
    outcome = str(d.get("outcome"))
    action = d.get("action")
    mots = d.get("mots") or []
    lines = [
        f"event      {d.get('event_id')}  ({d.get('event_type')}, {d.get('product_line')}, "
        f"at {d.get('event_ts')})",
        f"customer   {d.get('customer_id')}",
        f"decision   {d.get('decision_id')}  decided {d.get('decided_ts')}  rules "
        f"{d.get('rules_version')}  arm {d.get('arm', 'champion')}",
        f"MoTs       {', '.join(map(str, mots)) if mots else '(none)'}",  # type: ignore[call-overload]
        f"outcome    {outcome}: {WHY.get(outcome, '?')}",
    ]
    if outcome == "action" and isinstance(action, dict):
        lines.append(f"action     {action.get('id')} ({action.get('program')} via "
                     f"{action.get('channel')}): {action.get('description', '')}".rstrip(": "))
    candidates = [c for c in d.get("candidates") or [] if isinstance(c, dict)]  # type: ignore[attr-defined]
    lines.append(f"candidates {len(candidates)}")
    if candidates:
        lines.append(f"  {'program':<18} {'action':<30} {'prio':>4} {'score':>9}  "
                     f"{'status':<10} reason")
        for c in candidates:
            lines.append(f"  {c.get('program')!s:<18} {c.get('action')!s:<30} "
                         f"{c.get('priority')!s:>4} {float(c.get('score') or 0):>9.2f}  "
                         f"{c.get('status')!s:<10} {c.get('reason')}")
    if hold_list:
        lines.append("held back by contact policies")
        for h in hold_list:
            when = f"releases {_when(h.release_ms, now_ms)}" if h.release_ms is not None \
                else "release unknown (the contact history no longer shows it)"
            lines.append(f"  {h.policy}: {when}; held {', '.join(h.candidates)}")
            if h.description:
                lines.append(f"    {h.description}")
    lines.append(f"found in   {found_in}")
    return "\n".join(lines)


async def _history(settings: Settings, customer: str, catalogue: Catalogue) -> History:
    raw = await lookup.history(settings, customer)
    return decode_stored(raw or b"", 1_000_000)


async def find(settings: Settings, event_id: str | None, customer: str | None,
               limit: int) -> list[tuple[dict[str, object], str, int | None]]:
    """(decision, where it was found, its state slot when found in Redis), newest first."""
    if event_id is not None:
        hit = await lookup.from_redis(settings, event_id, customer)
        if hit is not None and (customer is None or hit[0].get("customer_id") == customer):
            return [(hit[0], f"Redis (state slot {hit[1]})", hit[1])]
    found = await lookup.from_topic(settings, event_id=event_id, customer_id=customer,
                                    limit=limit)
    return [(d, f"topic {settings.topics.decisions}", None) for d in found]


async def explain(settings: Settings, event_id: str | None, customer: str | None,
                  as_json: bool, limit: int, out: object = None) -> int:
    out = out or sys.stdout
    found = await find(settings, event_id, customer, limit)
    if not found:
        what = f"event_id {event_id!r}" if event_id else f"customer_id {customer!r}"
        print(f"arbiter explain: no decision found for {what} (looked in Redis and on "
              f"{settings.topics.decisions})", file=sys.stderr)
        return 1
    catalogue = load_catalogue(settings.rules_dir)
    now_ms = int(datetime.now(tz=UTC).timestamp() * 1000)
    for i, (d, where, _slot) in enumerate(found):
        if as_json:
            print(orjson.dumps(d).decode(), file=out)  # type: ignore[arg-type]
            continue
        history = History.empty()
        if d.get("outcome") == "suppressed" or any(
                POLICY_REASON.match(str(c.get("reason", "")))
                for c in d.get("candidates") or []):  # type: ignore[attr-defined]
            history = await _history(settings, str(d.get("customer_id")), catalogue)
        text = format_explained(d, where, holds(catalogue, d, history), now_ms)
        print(("\n" if i else "") + text, file=out)  # type: ignore[arg-type]
    return 0


def configure(p: argparse.ArgumentParser) -> None:
    p.description = ("Explain a decision: its MoTs, outcome, candidates and the contact "
                     "policies that held anything back.")
    p.add_argument("event_id", nargs="?", help="the event whose decision to explain")
    p.add_argument("--customer", metavar="ID", help="a customer's latest decisions")
    p.add_argument("--limit", type=whole(1), default=5, metavar="N",
                   help="with --customer alone: how many decisions (default 5)")
    p.add_argument("--json", action="store_true", help="the decision as stored, one JSON a line")


def run(args: argparse.Namespace) -> int:
    if not args.event_id and not args.customer:
        raise ExplainError("give an EVENT_ID or --customer ID", exit_code=2)
    try:
        return asyncio.run(explain(Settings.from_env(), args.event_id, args.customer,
                                   args.json, args.limit))
    except (KafkaError, RedisError, OSError) as exc:
        raise ExplainError(str(exc)) from exc


class ExplainError(ArbiterError):
    """The decision could not be looked up (the message says why)."""
