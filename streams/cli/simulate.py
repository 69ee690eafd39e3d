"""`arbiter simulate`: replay events through the worker's pipeline, without servers."""

from __future__ import annotations

import argparse
import json
import os
import sys

from rules import Catalogue, CatalogueError, load_catalogue
from rules.errors import ArbiterError
from streams.simulate import html, text
from streams.simulate.run import replay
from streams.simulate.source import Events, SourceError, from_path, from_synthetic
from streams.simulate.summary import compare, summarize


class SimulateError(ArbiterError):
    """A replay that cannot start or write its output (the message says which)."""

    exit_code = 2


def configure(p: argparse.ArgumentParser) -> None:
    p.description = ("Replay events through the worker's pipeline in one process, no Kafka or "
                     "Redis; each event is decided at its own ts (event time is the clock).")
    p.add_argument("input", nargs="?", metavar="FILE.jsonl",
                   help="JSON lines, one event each ('-': stdin); or use --synthetic")
    p.add_argument("--synthetic", type=int, metavar="N", help="N synthetic events instead")
    p.add_argument("--days", type=float, default=30.0, help="synthetic: spread over D days")
    p.add_argument("--seed", type=int, default=1, help="synthetic: the stream's seed")
    p.add_argument("--customers", type=int, default=None,
                   help="synthetic: customer base (default N/20, at least 1,000)")
    p.add_argument("--rules", metavar="DIR", default=None,
                   help="catalogue (default $ARBITER_RULES, else the bundled one)")
    p.add_argument("--against", metavar="DIR2", default=None,
                   help="a second catalogue over the same events, compared with the first")
    p.add_argument("--dedupe-ttl", type=int, default=None, metavar="S",
                   help="seconds an event_id is remembered (default $ARBITER_DEDUPE_TTL_S "
                        "or 86400)")
    p.add_argument("--decisions", metavar="FILE.jsonl",
                   help="write every decision's JSON (as on nba.decisions), one a line; with "
                        "--against, those of the first catalogue")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--report", metavar="FILE.html", help="also write a self-contained page")


def _catalogue(directory: str | None, flag: str) -> Catalogue:
    try:
        return load_catalogue(directory)
    except CatalogueError as exc:
        raise SourceError(f"{flag} {directory}: invalid catalogue: "
                          f"{'; '.join(exc.problems)}") from None


def _events(args: argparse.Namespace) -> Events:
    if args.synthetic is not None:
        if args.input is not None:
            raise SourceError("give FILE or --synthetic N, not both")
        if args.synthetic < 1 or args.days <= 0:
            raise SourceError("--synthetic needs N >= 1 and --days above 0")
        customers = args.customers or max(1000, args.synthetic // 20)
        return from_synthetic(args.synthetic, args.days, args.seed, customers)
    if args.input is None:
        raise SourceError("give FILE.jsonl, '-' for stdin, or --synthetic N")
    return from_path(args.input)


def run(args: argparse.Namespace) -> int:
    rules_dir = args.rules or os.environ.get("ARBITER_RULES") or None
    ttl = args.dedupe_ttl or int(os.environ.get("ARBITER_DEDUPE_TTL_S", "86400"))
    try:
        cat_a = _catalogue(rules_dir, "--rules")
        cat_b = _catalogue(args.against, "--against") if args.against else None
        events = _events(args)
    except SourceError as exc:
        raise SimulateError(str(exc)) from exc
    keep = cat_b is not None
    try:
        out = open(args.decisions, "wb") if args.decisions else None  # noqa: SIM115
    except OSError as exc:
        raise SimulateError(f"cannot write {args.decisions}: {exc.strerror}") from exc
    try:
        a = replay(cat_a, events, keep=keep, dedupe_ttl_s=ttl, label="A" if keep else "",
                   decisions=out)
    finally:
        if out is not None:
            out.close()
    results = [summarize(a, rules_dir or "bundled")]
    names = ["A"] if cat_b is None else ["A", "B"]
    changes = None
    if cat_b is not None:
        b = replay(cat_b, events, keep=True, dedupe_ttl_s=ttl, label="B")
        results.append(summarize(b, args.against))
        changes = compare(a, b)
    table = text.render(results, names, changes)
    if args.json:
        obj: dict[str, object] = results[0] if changes is None else {
            "a": results[0], "b": results[1], "changes": changes}
        print(json.dumps(obj))
    else:
        sys.stdout.write(table)
    if args.report:
        try:
            with open(args.report, "w", encoding="utf-8") as f:
                f.write(html.render(results, names, table, changes))
        except OSError as exc:
            raise SimulateError(f"cannot write {args.report}: {exc.strerror}") from exc
    return 0
