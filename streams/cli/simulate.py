"""`arbiter simulate`: replay events through the worker's pipeline, without servers."""

from __future__ import annotations

import argparse
import json
import os
import sys

from rules import Catalogue, CatalogueError, load_catalogue
from rules.errors import ArbiterError
from streams.settings import DEFAULT_DEDUPE_TTL_S, int_setting
from streams.simulate import html, text
from streams.simulate.run import replay
from streams.simulate.source import Events, SourceError, from_path, from_synthetic
from streams.simulate.summary import compare, summarize

SHOWN_PROBLEMS = 3  # problems of an invalid catalogue on its one line (rules check: all)


class SimulateError(ArbiterError):
    """A replay that cannot start or write its output (the message says which)."""

    exit_code = 2


def configure(p: argparse.ArgumentParser) -> None:
    p.description = ("Replay events through the worker's pipeline in one process, no Kafka or "
                     "Redis; each event is decided at its own ts (event time is the clock).")
    p.add_argument("input", nargs="?", metavar="FILE.jsonl",
                   help="JSON lines, one event each ('-': stdin); or use --synthetic")
    p.add_argument("--synthetic", type=int, metavar="N", help="N synthetic events instead")
    p.add_argument("--days", type=float, default=30.0,
                   help="synthetic: spread over D days (default %(default)s)")
    p.add_argument("--seed", type=int, default=1,
                   help="synthetic: the stream's seed (default %(default)s)")
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
    """The catalogue in `directory` (None: the bundled one); `flag` names where the directory
    came from (--rules, ARBITER_RULES, --against). An invalid one is one line: how many
    problems, the first few, and the command that lists them all."""
    try:
        return load_catalogue(directory)
    except CatalogueError as exc:
        problems = exc.problems
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        rest = (f"; and {more} more (arbiter rules check {directory} lists them all)"
                if more > 0 else "")
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        where = f"{flag}={directory}" if flag.startswith("ARBITER_") else f"{flag} {directory}"
        raise SourceError(f"{where}: invalid catalogue, {count}: {shown}{rest}") from None


def _dedupe_ttl(args: argparse.Namespace) -> int:
    """--dedupe-ttl, else ARBITER_DEDUPE_TTL_S as the worker reads it, else a day."""
    if args.dedupe_ttl is None:
        return int_setting("ARBITER_DEDUPE_TTL_S", DEFAULT_DEDUPE_TTL_S)  # else SettingsError
    if args.dedupe_ttl < 1:
        raise SourceError(f"--dedupe-ttl {args.dedupe_ttl}: must be at least 1 second")
    return int(args.dedupe_ttl)


def _writable(path: str | None) -> None:
    """Fail before the replay, not after it, when an output cannot be written: the file is
    created (or truncated) now, as it would be at the end."""
    if path is None:
        return
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise SimulateError(f"cannot write {path}: {exc.strerror}") from exc


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
    from_env = args.rules is None and bool(os.environ.get("ARBITER_RULES"))
    rules_dir = args.rules or os.environ.get("ARBITER_RULES") or None
    try:
        ttl = _dedupe_ttl(args)
        cat_a = _catalogue(rules_dir, "ARBITER_RULES" if from_env else "--rules")
        cat_b = _catalogue(args.against, "--against") if args.against else None
        events = _events(args)
    except SourceError as exc:
        raise SimulateError(str(exc)) from exc
    keep = cat_b is not None
    _writable(args.report)
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
