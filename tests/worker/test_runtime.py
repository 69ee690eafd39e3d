"""The worker end to end, through the real Kafka and Redis of the local stack."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from conftest import REDIS_MODES
from harness import Worker, collect, encoded, event, isolated, on_stack, prepare, produce

from rules import arbitrate, classify, decode_history, load_catalogue, parse_event
from streams.settings import Settings
from streams.synthetic import events as synthetic_events
from streams.synthetic import malformed_samples
from streams.worker.store import Store, field

pytestmark = pytest.mark.integration


@dataclass
class Running:
    settings: Settings
    worker: Worker


@pytest.fixture(scope="module", params=REDIS_MODES)
async def running(stack, tmp_path_factory: pytest.TempPathFactory,
                  request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    """One worker for the module's tests, on the single Redis and on the Redis Cluster."""
    base = on_stack(stack, request.param)
    settings = isolated(base, metrics_interval=1.0, partitions=4)
    await prepare(settings)
    worker = Worker(settings, Path(tmp_path_factory.mktemp("worker"))).start()
    yield Running(settings, worker)
    assert worker.stop() == 0, worker.log_tail()


def actions_arrived(s: Settings, seen: dict, ids: set[str]) -> bool:
    """Every action decision among ids is also on its channel's topic (read in parallel)."""
    decided = by_event(seen[s.topics.decisions])
    on_channels = {d["event_id"] for t in s.topics.all_actions() for _, d in seen[t]}
    return ids <= set(decided) and all(
        d[0]["outcome"] != "action" or e in on_channels for e, d in decided.items() if e in ids)


def by_event(seen: list[tuple[bytes | None, dict]]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for _, d in seen:
        out.setdefault(d["event_id"], []).append(d)
    return out


async def test_one_decision_per_event_and_actions_on_their_channel(running: Running) -> None:
    s = running.settings
    sent = [e for e in synthetic_events(400, seed=11) if isinstance(e, dict)]
    await produce(s, encoded(sent))
    ids = {e["event_id"] for e in sent}
    topics = [s.topics.decisions, *s.topics.all_actions()]

    def done(seen: dict) -> bool:
        return ids <= set(by_event(seen[s.topics.decisions])) and actions_arrived(s, seen, ids)

    seen = await collect(s, topics, done, running.worker)
    decisions = {k: v for k, v in by_event(seen[s.topics.decisions]).items() if k in ids}
    assert all(len(v) == 1 for v in decisions.values()), "more than one decision for an event"
    outcomes = Counter(d[0]["outcome"] for d in decisions.values())
    assert set(outcomes) <= {"action", "suppressed", "no_candidate", "no_mot"}
    assert outcomes["action"] > 0 and outcomes["no_mot"] > 0
    actions = {d[0]["decision_id"]: d[0] for d in decisions.values() if d[0]["outcome"] == "action"}
    for decision in actions.values():
        channel = decision["action"]["channel"]
        on_topic = [d for _, d in seen[s.topics.action(channel)]
                    if d["decision_id"] == decision["decision_id"]]
        assert len(on_topic) == 1, f"action {decision['decision_id']} not on {channel}"
    for d in (v[0] for v in decisions.values()):
        if d["outcome"] != "action":
            assert d["action"] is None


async def test_invalid_input_is_dead_lettered_and_the_worker_goes_on(running: Running) -> None:
    s = running.settings
    samples = malformed_samples()
    after = event(f"after-{uuid.uuid4().hex[:6]}", "balance_exhausted", "prepaid")
    await produce(s, [(b"bad", raw) for _, raw in samples] + encoded([after]))

    def done(seen: dict) -> bool:
        return (len(seen[s.topics.deadletter]) >= len(samples)
                and after["event_id"] in by_event(seen[s.topics.decisions]))

    seen = await collect(s, [s.topics.deadletter, s.topics.decisions], done, running.worker)
    letters = [d for _, d in seen[s.topics.deadletter]]
    assert len(letters) == len(samples)
    for letter in letters:
        assert letter["error"] and letter["topic"] == s.topics.events
        assert {"raw", "partition", "offset", "ts"} <= set(letter)
    errors = " | ".join(d["error"] for d in letters)
    for needle in ("not JSON", "not UTF-8", "byte limit", "product_line", "not a JSON object"):
        assert needle in errors, f"no dead letter says {needle!r}: {errors}"


async def test_repeated_event_counts_once_and_keeps_its_decision_id(running: Running) -> None:
    s = running.settings
    customer = f"dup-{uuid.uuid4().hex[:6]}"
    e = event(customer, "port_out_requested", "postpaid")
    store = Store(s)
    await store.open()
    # Counted in the minute it is decided: compare the 24-hour window, read now, before and after.
    before = (await store.counts(int(time.time() * 1000))).get(field("cancellation", "postpaid"))
    await produce(s, encoded([e]))
    await produce(s, encoded([e]))

    def done(seen: dict) -> bool:
        return len(by_event(seen[s.topics.decisions]).get(e["event_id"], [])) >= 2

    seen = await collect(s, [s.topics.decisions], done, running.worker)
    twice = by_event(seen[s.topics.decisions])[e["event_id"]]
    assert twice[0]["decision_id"] == twice[1]["decision_id"]
    assert twice[0] == twice[1]
    after = (await store.counts(int(time.time() * 1000)))[field("cancellation", "postpaid")]
    await store.close()
    assert after[2] - (before or [0, 0, 0, 0])[2] == 1


async def test_second_commercial_event_in_a_cooldown_is_suppressed(running: Running) -> None:
    s = running.settings
    customer = f"cool-{uuid.uuid4().hex[:6]}"
    first = event(customer, "balance_exhausted", "prepaid", attrs={"balance": 0})
    second = event(customer, "balance_exhausted", "prepaid", attrs={"balance": 0})
    await produce(s, encoded([first, second]))

    def done(seen: dict) -> bool:
        got = by_event(seen[s.topics.decisions])
        return first["event_id"] in got and second["event_id"] in got

    seen = await collect(s, [s.topics.decisions], done, running.worker)
    got = by_event(seen[s.topics.decisions])
    assert got[first["event_id"]][0]["outcome"] == "action"
    d2 = got[second["event_id"]][0]
    assert d2["outcome"] == "suppressed"
    reasons = " ".join(c["reason"] for c in d2["candidates"])
    assert "policy" in reasons


async def test_known_events_end_as_the_catalogue_says(running: Running) -> None:
    s = running.settings
    cat = load_catalogue(s.rules_dir)
    known = [
        event(f"k1-{uuid.uuid4().hex[:6]}", "balance_exhausted", "prepaid",
              attrs={"balance": 0}),
        event(f"k2-{uuid.uuid4().hex[:6]}", "invoice_issued", "postpaid",
              attrs={"first": False, "amount": 90.0, "average_amount": 30.0}),
        event(f"k3-{uuid.uuid4().hex[:6]}", "port_out_requested", "prepaid"),
    ]
    await produce(s, encoded(known))
    topics = [s.topics.decisions, *s.topics.all_actions()]

    def done(seen: dict) -> bool:
        ids = {e["event_id"] for e in known}
        return ids <= set(by_event(seen[s.topics.decisions])) and actions_arrived(s, seen, ids)

    seen = await collect(s, topics, done, running.worker)
    got = by_event(seen[s.topics.decisions])
    for e in known:
        parsed = parse_event(orjson.loads(orjson.dumps(e)))
        mots = classify(cat, parsed)
        expected = arbitrate(cat, parsed, mots, decode_history([]), 0).to_dict()
        d = got[e["event_id"]][0]
        assert d["mots"] == list(expected["mots"]) and d["mots"], e["type"]
        assert d["outcome"] == expected["outcome"] == "action", d
        assert d["action"]["id"] == expected["action"]["id"]
        channel_topic = s.topics.action(d["action"]["channel"])
        assert any(x["event_id"] == e["event_id"] for _, x in seen[channel_topic])
    assert "bill_shock" in got[known[1]["event_id"]][0]["mots"]
