"""Synthetic responses to decisions: what customers did, at set rates per arm.

For a decision with an action (control: a would-be action), one response: `converted` with
the arm's conversion rate, else `accepted` with its acceptance rate, else `declined` or
`ignored` (even odds). Each draw is seeded by the seed and the decision_id, so the same
decisions always get the same responses whatever order they are read in.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping

import orjson

Rates = Mapping[str, tuple[float, float]]  # arm -> (acceptance, conversion), each in [0, 1]


def responses(decisions: Iterable[dict], rates: Rates, seed: int, now_ms: int,
              value: float = 20.0) -> Iterator[tuple[bytes, bytes, dict]]:
    """(key, value, the response) for each decision with an action; a conversion is worth
    `value` (EUR)."""
    for d in decisions:
        if not d.get("action"):
            continue
        accept, convert = rates.get(d.get("arm", "champion"), (0.0, 0.0))
        u = random.Random(f"{seed}:{d['decision_id']}").random()
        if u < convert:
            kind = "converted"
        elif u < convert + accept:
            kind = "accepted"
        else:
            kind = "declined" if u < convert + accept + (1 - convert - accept) / 2 else "ignored"
        r: dict[str, object] = {"decision_id": d["decision_id"], "response": kind, "ts": now_ms}
        if kind == "converted":
            r["value"] = value
        yield str(d["customer_id"]).encode(), orjson.dumps(r), r
