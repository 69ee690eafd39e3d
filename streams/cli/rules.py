"""`arbiter rules check` and `arbiter rules show`: validate and print a catalogue.

Standalone on purpose: it needs only the rules package, so it works without Kafka or Redis
settings being valid.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap

from rules import PRODUCT_LINES, Catalogue, CatalogueError, load_catalogue


def _directory(directory: str | None) -> str | None:
    return directory or os.environ.get("ARBITER_RULES") or None


def _load(directory: str | None) -> Catalogue | None:
    try:
        return load_catalogue(_directory(directory))
    except CatalogueError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return None


def rules_check(directory: str | None) -> int:
    """Validate a catalogue (default: $ARBITER_RULES, else the bundled one). 0 if usable."""
    cat = _load(directory)
    if cat is None:
        return 1
    rules = sum(len(et.rules) for et in cat.event_types.values())
    print(f"catalogue OK: {len(cat.mots)} MoTs, {len(cat.programs)} programs, "
          f"{len(cat.actions)} actions, {rules} event rules (version {cat.version})")
    return 0


def rules_show(as_json: bool) -> int:
    """Print the loaded catalogue: the contract's JSON shape, or tables for a person."""
    cat = _load(None)
    if cat is None:
        return 1
    if as_json:
        print(json.dumps(cat.to_public_dict(), indent=2))
    else:
        print(render(cat))
    return 0


def render(cat: Catalogue) -> str:
    out = [f"rules version {cat.version}", "", f"MoTs ({len(cat.mots)})"]
    width = max(len(m) for m in cat.mots)
    out.append(f"  {'id':<{width}}  prepaid postpaid home  name")
    for m in cat.mots.values():
        marks = "".join(f"{'x' if line in m.product_lines else '.':^{len(line) + 1}}"
                        for line in PRODUCT_LINES)
        out.append(f"  {m.id:<{width}}  {marks} {m.name}")
    out += ["", f"Programs ({len(cat.programs)}), highest priority first"]
    for p in sorted(cat.programs.values(), key=lambda p: (-p.priority, p.id)):
        out.append(f"  {p.id} ({p.kind}, priority {p.priority}): {p.name}")
        for line in PRODUCT_LINES:
            if p.mots[line]:
                text = f"{line}: {', '.join(p.mots[line])}"
                out += textwrap.wrap(text, 96, initial_indent="      ",
                                     subsequent_indent="        ")
    out += ["", f"Contact policies ({len(cat.policies)})"]
    for pol in cat.policies.values():
        out += textwrap.wrap(f"{pol.id}: {pol.description}", 96, initial_indent="  ",
                             subsequent_indent="    ")
    out += ["", f"Event types ({len(cat.event_types)})"]
    out += textwrap.wrap(", ".join(cat.event_types), 96, initial_indent="  ",
                         subsequent_indent="  ")
    return "\n".join(out)


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", required=True)
    check = sub.add_parser("check", help="validate a catalogue directory")
    check.add_argument("dir", nargs="?", default=None)
    show = sub.add_parser("show", help="print the loaded catalogue")
    show.add_argument("--json", action="store_true")
    from streams.cli import rules_topic

    rules_topic.configure(sub)


def run(args: argparse.Namespace) -> int:
    if args.what == "check":
        return rules_check(args.dir)
    if args.what == "show":
        return rules_show(args.json)
    from streams.cli import rules_topic

    if args.what == "publish":
        return rules_topic.publish(args.dir, args.label)
    if args.what == "rollback":
        return rules_topic.rollback(args.version, args.label)
    if args.what == "experiment":
        return rules_topic.experiment(args.name, args.json)
    return rules_topic.history(args.json)
