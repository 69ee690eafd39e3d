"""A replay as one JSON-ready object, and two replays of the same events compared.

Money is in the catalogue's currency (EUR). A decision's expected value is its action's
score (rules/lookup.score: the action's weight x the MoT's value x probability of a positive
decision for a sales offer, or of a negative one it averts otherwise); no action is worth 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from rules import incremental_risk, incremental_value
from streams.simulate.run import Replay

TOP_CHANGES = 10
CHANGED_IDS_MAX = 10_000  # event ids listed in --json; the counts are always whole


def _p99(counts: list[int]) -> int:
    if not counts:
        return 0
    s = sorted(counts)
    return s[min(len(s) - 1, int(0.99 * len(s)))]


def _ranked(c: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def summarize(r: Replay, catalogue_dir: str) -> dict[str, object]:
    t, st, cat = r.tally, r.stats, r.catalogue
    customers = t.customers
    contacts = t.contacts
    per_customer = [contacts.get(c, 0) for c in customers]
    mots = []
    for key, n in r.store.totals.items():
        mot, line = key.split("|", 1)
        econ = cat.economics(mot, line)
        mots.append({"mot": mot, "product_line": line, "count": n,
                     "value": round(incremental_value(n, econ), 2),
                     "risk": round(incremental_risk(n, econ), 2)})
    mots.sort(key=lambda m: (-(m["value"] + m["risk"]), m["mot"], m["product_line"]))  # type: ignore[operator]
    decided = sum(t.outcomes.values())
    return {
        "catalogue": {"dir": catalogue_dir, "version": cat.version,
                      "nbo_rank_by": cat.nbo_rank_by},
        "events": {"in": st.events_in, "deadletter": st.deadletter,
                   "duplicates": st.duplicates, "decided": decided,
                   "seconds": round(r.seconds, 3),
                   "per_s": round(st.events_in / r.seconds, 1) if r.seconds else 0.0,
                   "cpu_seconds": round(r.cpu_seconds, 3),
                   "per_cpu_s": round(st.events_in / r.cpu_seconds, 1) if r.cpu_seconds else 0.0},
        "deadletters": _ranked(t.deadletters),
        "outcomes": _ranked(t.outcomes),
        "programs": _ranked(t.programs),
        "channels": _ranked(t.channels),
        "held_back": _ranked(t.held),
        "contacts": {"customers": len(customers), "contacted": len(contacts),
                     "max": max(per_customer, default=0), "p99": _p99(per_customer),
                     "max_per_day": t.max_per_day,
                     "max_per_week": t.max_per_week},
        "expected_value": round(t.expected_value, 2),
        "mots": mots,
    }


def compare(a: Replay, b: Replay) -> dict[str, object]:
    """Where B decided differently from A over the same events: what was decided is the
    action id, or the outcome when there is no action."""
    ta, tb = a.tally, b.tally
    if ta.event_ids != tb.event_ids:  # the same input and dedupe: cannot differ
        raise AssertionError("the two replays decided different events")
    changed: list[int] = [i for i, (x, y) in enumerate(zip(ta.decided, tb.decided, strict=True))
                          if x != y]
    top = sorted(Counter((ta.decided[i], tb.decided[i]) for i in changed).items(),
                 key=lambda kv: (-kv[1], kv[0]))
    ids = [ta.event_ids[i] for i in changed]
    return {
        "events": len(changed),
        "customers": len({ta.customer_ids[i] for i in changed}),
        "top": [{"from": f, "to": to, "count": n} for (f, to), n in top[:TOP_CHANGES]],
        "expected_value_delta": round(tb.expected_value - ta.expected_value, 2),
        "event_ids": ids[:CHANGED_IDS_MAX],
        "event_ids_truncated": len(ids) > CHANGED_IDS_MAX,
    }
