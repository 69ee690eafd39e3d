"""`arbiter rules publish`, `history`, `rollback`: the versioned catalogues on the rules topic."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from aiokafka.errors import KafkaError

from rules import CatalogueError
from rules.decision import rfc3339_ms
from streams.rules_topic import publish as pub
from streams.rules_topic import topic
from streams.rules_topic.record import Published
from streams.settings import Settings


class RulesTopicError(pub.PublishError):
    """Kafka could not be reached for the rules topic."""


def _run(coro):  # type: ignore[no-untyped-def]
    try:
        return asyncio.run(coro)
    except (KafkaError, OSError) as exc:
        raise RulesTopicError(f"rules topic: {exc}") from exc


def configure(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("publish", help="validate a catalogue and publish it to the rules topic")
    p.add_argument("dir", nargs="?", default=None,
                   help="catalogue directory (default: $ARBITER_RULES, else the bundled one)")
    p.add_argument("--label", default="", help="what changed, for `rules history`")
    h = sub.add_parser("history", help="list the catalogues published on the rules topic")
    h.add_argument("--json", action="store_true", help="one JSON object per record")
    r = sub.add_parser("rollback", help="publish an earlier version again")
    r.add_argument("version", help="a rules_version `rules history` lists")
    r.add_argument("--label", default=None)
    e = sub.add_parser("experiment", help="acceptance, conversion and uplift over control "
                       "per arm, from the responses joined to decisions")
    e.add_argument("name", nargs="?", default=None,
                   help="experiment name (default: the newest published catalogue's; '-' for "
                   "decisions made while none ran)")
    e.add_argument("--json", action="store_true")


def publish(directory: str | None, label: str) -> int:
    try:
        record: Published = _run(pub.publish(Settings.from_env(), directory, label))
    except CatalogueError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        print(f"not published: {len(err.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"published {record.version} at offset {record.offset}"
          + (f": {record.label}" if record.label else ""))
    return 0


def rollback(version: str, label: str | None) -> int:
    record: Published = _run(pub.rollback(Settings.from_env(), version, label))
    print(f"published {record.version} again at offset {record.offset}: {record.label}")
    return 0


def history(as_json: bool) -> int:
    entries = _run(topic.read_all(Settings.from_env()))
    newest = max((o for o, got in entries if isinstance(got, Published)), default=-1)
    for offset, got in entries:
        if isinstance(got, Published):
            row = {"offset": offset, "version": got.version, "when": rfc3339_ms(got.when_ms),
                   "who": got.who, "label": got.label, "current": offset == newest}
            print(json.dumps(row) if as_json else
                  f"{offset:>5}  {row['when']}  {got.version}  {got.who:<24}  {got.label}"
                  + ("  <- current" if offset == newest else ""))
        else:
            print(json.dumps({"offset": offset, "error": str(got)}) if as_json else
                  f"{offset:>5}  unreadable: {got}")
    if not entries and not as_json:
        print("nothing published yet: workers use $ARBITER_RULES or the bundled catalogue")
    return 0


async def _experiment(settings: Settings, name: str | None) -> dict[str, object]:
    from streams.worker.responses import NO_EXPERIMENT, counts, report
    from streams.worker.store import Store

    if name is None:
        entries = await topic.read_all(settings)
        known = pub.published(entries)
        newest = next((got for _, got in reversed(entries) if isinstance(got, Published)), None)
        exp = None
        if newest is not None and newest.version in known:
            exp = newest.catalogue().experiment
        name = exp.name if exp is not None else NO_EXPERIMENT
    store = Store(settings)
    try:
        return report(name, await counts(store, name))
    finally:
        await store.close()


def experiment(name: str | None, as_json: bool) -> int:
    from redis.exceptions import RedisError

    try:
        got = _run(_experiment(Settings.from_env(), name))
    except RedisError as exc:
        raise RulesTopicError(f"redis: {exc}") from exc
    if as_json:
        print(json.dumps(got, indent=2))
        return 0
    print(f"experiment {got['experiment']}")
    print(f"  {'arm':<11} {'decisions':>9} {'accepted':>9} {'converted':>9} "
          f"{'accept %':>9} {'convert % (95% CI)':>22} {'uplift pp (95% CI)':>24}")
    for arm, a in got["arms"].items():  # type: ignore[attr-defined]
        conv = a["converted_rate"]
        ci = conv["ci95"] or [0, 0]
        up = a.get("uplift_vs_control")
        up_text = "" if up is None else (f"{up['d'] * 100:+.1f} ({up['ci95'][0] * 100:+.1f}.."
                                          f"{up['ci95'][1] * 100:+.1f})")
        print(f"  {arm:<11} {a['decisions']:>9} {a['responses']['accepted']:>9} "
              f"{a['responses']['converted']:>9} {a['accepted_rate']['p'] * 100:>8.1f}% "
              f"{conv['p'] * 100:>7.1f}% ({ci[0] * 100:.1f}..{ci[1] * 100:.1f}) "
              f"{up_text:>24}")
    print(f"  {got['formula']}")
    return 0
