"""Responses joined to their decisions, and what an experiment measured from them.

A decision with an action (for control: its would-be action) is indexed in Redis for the
dedupe TTL under a join tag derived from its decision_id (INDEX, written with the batch's
RECORD in the same round trip), and counted per experiment, arm, program and action. A
response on the responses topic (key: customer id; JSON `decision_id`, `response`, optional
`value`, `ts`) is looked up by that tag: one JOIN call per tag per poll, all in one pipelined
round trip. A response whose decision is unknown or expired, or that cannot be read, goes to
the dead-letter topic with the reason; a repeated response counts once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, KafkaError

from rules.errors import InvalidEvent
from rules.experiments import ARMS, CONTROL, Rate, proportion_ci, uplift
from streams import kafka
from streams.settings import Settings
from streams.worker.codec import Record, dead_letter
from streams.worker.emit import Emitter
from streams.worker.store import Store

log = logging.getLogger(__name__)
RESPONSES = ("accepted", "declined", "converted", "ignored")
JOIN_TAGS = 16  # join tags: spreads the index over 16 Redis Cluster slots
NO_EXPERIMENT: Final = "-"  # the counts of decisions made while no experiment ran
UNKNOWN, REPEAT = 0, 2


def join_tag(prefix: str, decision_id: str) -> str:
    return f"{{{prefix}:j{zlib.crc32(decision_id.encode()) % JOIN_TAGS}}}"


@dataclass(slots=True)
class ResponseStats:
    joined: int = 0
    repeated: int = 0
    unknown: int = 0
    invalid: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"joined": self.joined, "repeated": self.repeated, "unknown": self.unknown,
                "invalid": self.invalid}


def parse(value: bytes | None) -> tuple[str, str, float | None]:
    """(decision_id, response, value) of a response record; InvalidEvent naming the field."""
    try:
        doc: Any = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        raise InvalidEvent("response is not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidEvent("response is not a JSON object")
    did, response, amount = doc.get("decision_id"), doc.get("response"), doc.get("value")
    if not isinstance(did, str) or not 1 <= len(did) <= 128:
        raise InvalidEvent("field 'decision_id' missing or not a string of 1-128 characters")
    if response not in RESPONSES:
        raise InvalidEvent(f"field 'response' must be one of {', '.join(RESPONSES)}")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
        raise InvalidEvent("field 'value' must be a number")
    if not isinstance(doc.get("ts"), str | int) or isinstance(doc.get("ts"), bool):
        raise InvalidEvent("field 'ts' missing or not an RFC 3339 string or epoch milliseconds")
    return did, str(response), None if amount is None else float(amount)


async def join(store: Store, items: list[tuple[str, str, float | None]]) -> list[object]:
    """JOIN replies in the items' order: 0 unknown, 2 repeat, else the decision's summary."""
    groups: dict[str, list[int]] = {}
    for i, (did, _, _) in enumerate(items):
        groups.setdefault(join_tag(store.prefix, did), []).append(i)
    calls = [("JOIN", tag, [store.dedupe_ttl_s, orjson.dumps(
        [[items[i][0], items[i][1], items[i][2] if items[i][2] is not None else False]
         for i in idx])]) for tag, idx in groups.items()]
    replies = await store._run(calls, "join")  # type: ignore[arg-type]
    out: list[object] = [None] * len(items)
    for idx, reply in zip(groups.values(), replies, strict=True):
        for i, r in zip(idx, reply, strict=True):
            out[i] = r
    return out


class ResponseFollower:
    """Consumes the responses topic in its own group; commits after each poll is joined and
    its dead letters acknowledged."""

    def __init__(self, settings: Settings, store: Store, emitter: Emitter) -> None:
        self.settings = settings
        self.store = store
        self.emitter = emitter
        self.stats = ResponseStats()

    async def run(self) -> None:
        s = self.settings
        await kafka.ensure_topics(s, [s.topics.responses], s.partitions)
        consumer = kafka.consumer(s, s.topics.responses, group_id=f"{s.group}.responses",
                                  max_poll_records=s.batch_max)
        await consumer.start()
        try:
            while True:
                polled = await consumer.getmany(timeout_ms=500, max_records=s.batch_max)
                records = [Record(tp.topic, tp.partition, m.offset, m.key, m.value, m.timestamp)
                           for tp, msgs in polled.items() for m in msgs]
                if records:
                    await self.step(records)
                    await self._commit(consumer)
        finally:
            await consumer.stop()

    async def step(self, records: list[Record]) -> None:
        now_ms = int(time.time() * 1000)
        items: list[tuple[str, str, float | None]] = []
        valid: list[Record] = []
        for rec in records:
            try:
                items.append(parse(rec.value))
                valid.append(rec)
            except InvalidEvent as exc:
                self.stats.invalid += 1
                self.emitter.deadletter(rec.key, dead_letter(rec, str(exc), now_ms))
        for rec, item, got in zip(valid, items, await join(self.store, items) if items else [],
                                  strict=True):
            if got == UNKNOWN:
                self.stats.unknown += 1
                self.emitter.deadletter(rec.key, dead_letter(
                    rec, f"unknown or expired decision_id {item[0]!r} (decisions with an action "
                    f"are kept for ARBITER_DEDUPE_TTL_S)", now_ms))
            elif got == REPEAT:
                self.stats.repeated += 1
            else:
                self.stats.joined += 1
        await self.emitter.flush()

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        try:
            await consumer.commit()
        except (CommitFailedError, KafkaError) as exc:
            log.warning("responses commit failed (%s); they are joined again, counted once", exc)


async def counts(store: Store, experiment: str) -> dict[str, float]:
    """The experiment's counters summed over the join tags: "kind|arm|program|action" ->."""
    pipe = store.redis.pipeline(transaction=False)
    for k in range(JOIN_TAGS):
        pipe.hgetall(f"{{{store.prefix}:j{k}}}:x:{experiment}")
    total: dict[str, float] = {}
    for got in await pipe.execute():
        for key, value in got.items():
            name = key.decode()
            total[name] = total.get(name, 0.0) + float(value)
    return total


@dataclass
class ArmReport:
    decisions: int = 0  # decisions with an action (control: a would-be action)
    responses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESPONSES, 0))
    value: float = 0.0
    converted_by_event: int = 0  # of responses["converted"]: seen as the MoT's outcome event

    def rate(self, response: str) -> Rate:
        return Rate(self.responses[response], self.decisions)


def report(experiment: str, totals: dict[str, float]) -> dict[str, object]:
    """Per arm: decisions, responses, acceptance and conversion rates (each with its 95 %
    normal-approximation interval); per arm but control: the conversion uplift over control,
    difference of proportions with its 95 % Wald interval (rules.experiments.uplift).
    Acceptance is accepted / decisions; conversion is converted / decisions, a decision
    converted by a `converted` response or by its MoT's positive outcome arriving as an event
    (rules.outcomes; `converted_by_event` of them), counted once either way."""
    arms: dict[str, ArmReport] = {}
    programs: dict[str, dict[str, int]] = {}
    for key, n in totals.items():
        kind, arm, program, action = key.split("|")
        a = arms.setdefault(arm, ArmReport())
        if kind == "decisions":
            a.decisions += int(n)
        elif kind == "value":
            a.value += n
        elif kind == "converted_event":
            a.converted_by_event += int(n)
        elif kind in a.responses:
            a.responses[kind] += int(n)
        row = programs.setdefault(f"{arm}|{program}|{action}", {})
        row[kind] = row.get(kind, 0) + int(n)
    out: dict[str, object] = {"experiment": experiment, "formula": (
        "rate = responses / decisions with a (would-be) action, 95% CI p +- 1.96 sqrt(p(1-p)/n);"
        " uplift = p_arm - p_control, 95% CI d +- 1.96 sqrt(p1(1-p1)/n1 + p0(1-p0)/n0)")}
    control = arms.get(CONTROL)
    by_arm: dict[str, object] = {}
    for arm in ARMS:
        if arm not in arms:
            continue
        a = arms[arm]
        entry: dict[str, object] = {"decisions": a.decisions, "responses": a.responses,
                                    "converted_by_event": a.converted_by_event,
                                    "value": round(a.value, 2)}
        for what in ("accepted", "converted"):
            r = a.rate(what)
            ci = proportion_ci(r)
            entry[f"{what}_rate"] = {"p": round(r.p, 4), "ci95": None if ci is None else
                                     [round(ci[0], 4), round(ci[1], 4)]}
        if arm != CONTROL and control is not None:
            u = uplift(a.rate("converted"), control.rate("converted"))
            entry["uplift_vs_control"] = None if u is None else {
                "d": round(u[0], 4), "ci95": [round(u[1], 4), round(u[2], 4)]}
        by_arm[arm] = entry
    out["arms"] = by_arm
    out["by_action"] = {k: v for k, v in sorted(programs.items())}
    return out


async def run_forever(follower: ResponseFollower) -> None:
    """The follower, restarted after Kafka errors (weather), until cancelled."""
    while True:
        try:
            await follower.run()
        except (KafkaError, OSError) as exc:
            log.warning("responses follower stopped (%s); starting again", exc)
            await asyncio.sleep(1.0)
