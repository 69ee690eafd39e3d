"""`arbiter tail`: follow the arbiter's output topics, one readable line per record."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from streams.cli.args import positive, whole
from streams.cli.send import stop_on_interrupt
from streams.kafka import consumer, ensure_topics
from streams.settings import Settings

KINDS = ("actions", "decisions", "metrics", "deadletter")
_RAW_PREVIEW = 80

# --- formatting: pure functions of one decoded record ---------------------------------


def _s(value: object, default: str = "-") -> str:
    return default if value is None or value == "" else str(value)


def _d(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def format_time(value: object) -> str:
    """HH:MM:SS.mmm UTC from epoch ms (or s), or an RFC 3339 string; '-' when unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # ms unless it is clearly seconds
        try:
            return datetime.fromtimestamp(seconds, tz=UTC).strftime("%H:%M:%S.%f")[:-3]
        except (OverflowError, OSError, ValueError):
            return _s(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]
        except ValueError:
            return value
    return "-"


def _action_text(action: dict[str, object]) -> str:
    return f"{_s(action.get('id'))} ({_s(action.get('program'))} via {_s(action.get('channel'))})"


def _reason(d: dict[str, object]) -> str:
    """Why no action: the first candidate's reason, else the outcome itself."""
    candidates = d.get("candidates")
    if isinstance(candidates, list):
        for c in candidates:
            if isinstance(c, dict) and c.get("reason"):
                return str(c["reason"])
    return {"no_mot": "no MoT", "no_candidate": "no candidate"}.get(str(d.get("outcome")), "-")


def format_decision(d: dict[str, object]) -> str:
    mots = d.get("mots")
    mot_text = ",".join(map(str, mots)) if isinstance(mots, list) and mots else "-"
    outcome = _s(d.get("outcome"), "?")
    action = d.get("action")
    detail = _action_text(action) if outcome == "action" and isinstance(action, dict) \
        else _reason(d)
    return (f"{format_time(d.get('decided_ts') or d.get('event_ts'))}  "
            f"{_s(d.get('customer_id')):<10} {_s(d.get('product_line')):<8} "
            f"{_s(d.get('event_type')):<22} [{mot_text}]  {outcome:<12} {detail}")


def format_action(d: dict[str, object]) -> str:
    action = _d(d.get("action"))
    mots = d.get("mots")
    mot_text = ",".join(map(str, mots)) if isinstance(mots, list) and mots else "-"
    return (f"{format_time(d.get('decided_ts') or d.get('event_ts'))}  "
            f"{_s(action.get('channel')):<13} {_s(d.get('customer_id')):<10} "
            f"{_s(action.get('id')):<28} {_s(action.get('program')):<18} [{mot_text}]")


def format_deadletter(d: dict[str, object]) -> str:
    where = f"{_s(d.get('topic'))}/{_s(d.get('partition'))}@{_s(d.get('offset'))}"
    raw = _s(d.get("raw"), "")
    if len(raw) > _RAW_PREVIEW:
        raw = f"{raw[:_RAW_PREVIEW]}... ({len(raw)} chars)"
    # Bytes that are not UTF-8 travel base64-encoded (raw_encoding): say so, or they read as text.
    encoding = d.get("raw_encoding", "utf-8")
    label = "raw" if encoding == "utf-8" else f"raw ({_s(encoding)})"
    return f"{format_time(d.get('ts'))}  {where}  {_s(d.get('error'), '?')}  {label}: {raw!r}"


def _counts(counts: dict[str, object]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def _ms(value: object) -> str:
    return f"{_num(value):.1f}" if isinstance(value, int | float) else "-"


def _ranked(mots: object) -> list[dict[str, object]]:
    """MoT entries by rank when given, else by value plus risk, highest first."""
    entries = [m for m in mots if isinstance(m, dict)] if isinstance(mots, list) else []

    def order(m: dict[str, object]) -> tuple[float, float, str, str]:
        rank = m.get("rank")
        by_rank = _num(rank) if isinstance(rank, int | float) else float("inf")
        return (by_rank, -(_num(m.get("value")) + _num(m.get("risk"))),
                _s(m.get("mot")), _s(m.get("product_line")))

    return sorted(entries, key=order)


def format_metrics(m: dict[str, object]) -> str:
    events, latency = _d(m.get("events")), _d(m.get("latency_ms"))
    header = (
        f"{format_time(m.get('ts'))}  worker {_s(m.get('worker'))}  "
        f"rules {_s(m.get('rules_version'))}  interval {_s(m.get('interval_s'))} s\n"
        f"events in {_s(events.get('in'), '0')} ({_s(events.get('per_s'), '0')}/s), "
        f"deadletter {_s(events.get('deadletter'), '0')}, "
        f"duplicates {_s(events.get('duplicates'), '0')}  |  "
        f"decisions {_counts(_d(m.get('decisions')))}  |  "
        f"latency ms p50 {_ms(latency.get('p50'))} p99 {_ms(latency.get('p99'))} "
        f"max {_ms(latency.get('max'))}"
    )
    rows = [f"{'rank':>4}  {'MoT':<26} {'line':<8} {'5m':>7} {'1h':>8} {'24h':>9} "
            f"{'30d':>10} {'value':>12} {'risk':>12}"]
    for i, e in enumerate(_ranked(m.get("mots")), 1):
        c = _d(e.get("counts"))
        rows.append(
            f"{i:>4}  {_s(e.get('mot')):<26} {_s(e.get('product_line')):<8} "
            f"{_s(c.get('5m'), '0'):>7} {_s(c.get('1h'), '0'):>8} {_s(c.get('24h'), '0'):>9} "
            f"{_s(c.get('30d'), '0'):>10} {_num(e.get('value')):>12,.2f} "
            f"{_num(e.get('risk')):>12,.2f}")
    if len(rows) == 1:
        rows.append("      (no MoT seen yet)")
    return header + "\n" + "\n".join(rows)


FORMATTERS: dict[str, Callable[[dict[str, object]], str]] = {
    "actions": format_action,
    "decisions": format_decision,
    "metrics": format_metrics,
    "deadletter": format_deadletter,
}


def render(kind: str, value: bytes | None, *, as_json: bool) -> str:
    """One record's text: the JSON on one line, or the person-readable form."""
    if value is None:
        return "(no value)"
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value.decode("utf-8", "backslashreplace") if as_json \
            else f"(unreadable record: {value[:_RAW_PREVIEW]!r})"
    if as_json:
        # Re-encoded only when the producer spread it over lines, so one record is one line.
        return orjson.dumps(obj).decode() if b"\n" in value else value.decode()
    if not isinstance(obj, dict):
        return f"(not an object: {value[:_RAW_PREVIEW]!r})"
    return FORMATTERS[kind](obj)


# --- following ------------------------------------------------------------------------


def topics_for(settings: Settings, kind: str) -> list[str]:
    t = settings.topics
    return {"actions": t.all_actions(), "decisions": [t.decisions],
            "metrics": [t.metrics], "deadletter": [t.deadletter]}[kind]


async def _start_offsets(c: AIOKafkaConsumer, topics: list[str], wait_s: float = 30.0) -> None:
    """Wait for every topic's partitions and fix the start offsets now, so records produced
    from here on are all seen (a lazy reset could skip those sent before the first fetch)."""
    c.subscribe(topics)  # without a group: every partition of every topic is assigned
    deadline = time.monotonic() + wait_s
    while {tp.topic for tp in c.assignment()} != set(topics) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for tp in c.assignment():
        await c.position(tp)


async def tail(settings: Settings, kind: str, *, as_json: bool = False,
               from_beginning: bool = False, max_records: int | None = None,
               timeout: float | None = None, out: IO[str] | None = None,
               stop: asyncio.Event | None = None, ready: asyncio.Event | None = None) -> int:
    """Print records of `kind` until `max_records`, `timeout` s of silence or `stop`.

    No consumer group: nothing is committed and other readers are not disturbed.
    `ready` is set once the start offsets are fixed. Returns the number of records printed.
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} must be one of {', '.join(KINDS)}")
    out = out or sys.stdout
    topics = topics_for(settings, kind)
    # Creating them here keeps the broker from auto-creating them with its own partition count.
    await ensure_topics(settings, topics, settings.partitions)
    c = consumer(settings, group_id=None, enable_auto_commit=False,
                 auto_offset_reset="earliest" if from_beginning else "latest")
    await c.start()
    printed = 0
    try:
        await _start_offsets(c, topics)
        if ready is not None:
            ready.set()
        last = time.monotonic()
        while max_records is None or printed < max_records:
            if stop is not None and stop.is_set():
                break
            if timeout is not None and time.monotonic() - last >= timeout:
                break
            batches = await c.getmany(timeout_ms=200)
            for records in batches.values():
                for rec in records:
                    if max_records is not None and printed >= max_records:
                        break
                    print(render(kind, rec.value, as_json=as_json), file=out, flush=True)
                    printed += 1
                    last = time.monotonic()
    finally:
        await c.stop()
    return printed


def configure(p: argparse.ArgumentParser) -> None:
    p.description = "Follow the arbiter's output, readable for a person."
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--json", action="store_true", help="print each record's raw JSON, one a line")
    p.add_argument("--from-beginning", action="store_true",
                   help="start at the oldest record kept (default: only new records)")
    p.add_argument("--max", type=whole(1), default=None, metavar="N", help="stop after N records")
    p.add_argument("--timeout", type=positive, default=None, metavar="S",
                   help="stop after S seconds without a record")


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    stop = stop_on_interrupt()
    return await tail(settings, args.kind, as_json=args.json, from_beginning=args.from_beginning,
                      max_records=args.max, timeout=args.timeout, stop=stop)


class _QuietFreshTopics(logging.Filter):
    """Fresh topics have no leader for a moment; the client retries, a person needs no alarm."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "NotLeaderForPartitionError" not in record.getMessage()


def run(args: argparse.Namespace) -> int:
    logging.getLogger("aiokafka.consumer.fetcher").addFilter(_QuietFreshTopics())
    try:
        asyncio.run(_run(Settings.from_env(), args))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # The reader (e.g. head) went away; keep the interpreter from failing on the flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (KafkaError, OSError) as exc:
        print(f"arbiter tail: {exc}", file=sys.stderr)
        return 1
    return 0
