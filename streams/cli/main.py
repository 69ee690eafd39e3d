"""`arbiter`: one entry point, argparse subcommands; each command imports its work lazily.

Every `ArbiterError` (settings, catalogue, local stack, bench, send, stale build) becomes one
line on stderr and its `exit_code`, here and nowhere else; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Protocol, cast

# Command -> (module under streams.cli, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("worker", "run a stream worker (the Faust app streams.app)"),
    "stack": ("stack", "a local Apache Kafka and Redis on loopback: up, down, status"),
    "demo": ("demo", "the main job end to end on the local stack"),
    "send": ("send", "publish events: synthetic, or JSON lines from a file or stdin"),
    "tail": ("tail", "follow actions, decisions, metrics or dead letters"),
    "rules": ("rules", "the catalogue: check, show, publish, history, rollback, experiment"),
    "bench": ("bench", "throughput and latency benchmark (--core, --stages: without I/O)"),
    "dashboard": ("dashboard", "the operator's live page, /metrics for Prometheus, /healthz"),
    "explain": ("explain", "a decision explained (--customer ID: a customer's latest)"),
    "simulate": ("simulate", "replay events without servers, event time as the clock "
                 "(--against DIR2: compare two catalogues)"),
    "chaos": ("chaos", "fault injection on the local stack, each scenario audited"),
}


class Command(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _module(name: str) -> Command:
    return cast(Command, importlib.import_module(f"streams.cli.{COMMANDS[name][0]}"))


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `command`, only that command's module is imported."""
    p = argparse.ArgumentParser(prog="arbiter", description="Real-time next-best-action "
                                "arbiter for telecom CVM.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_) in COMMANDS.items():
        cp = sub.add_parser(name, help=help_, description=help_)
        if command is None or name == command:
            _module(name).configure(cp)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    wanted = next((a for a in argv if not a.startswith("-")), None)
    args = parser(wanted if wanted in COMMANDS else None).parse_args(argv)
    from rules.errors import ArbiterError
    from streams import native

    try:
        native.check()
        return _module(args.command).run(args)
    except ArbiterError as exc:
        print(f"arbiter {args.command}: {_headline(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _headline(exc: Exception) -> str:
    from rules.errors import CatalogueError

    return exc.headline() if isinstance(exc, CatalogueError) else str(exc)


if __name__ == "__main__":
    sys.exit(main())
