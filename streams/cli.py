"""`arbiter`: one entry point; each subcommand imports only what it needs."""

from __future__ import annotations

import argparse
import sys

USAGE = """arbiter <command> [options]

commands:
  worker                 run a stream worker (the Faust app streams.app)
  stack up|down|status   a local Apache Kafka and Redis on loopback
  demo                   the main job end to end on the local stack
  send                   publish events: synthetic, or JSON lines from a file or stdin
  tail KIND              follow actions|decisions|metrics|deadletter
  rules check [DIR]      validate a catalogue
  rules show [--json]    print the loaded catalogue
  simulate [FILE|--synthetic N]  replay events without servers, event time as the clock
                         (--against DIR2: compare two catalogues)
  bench [--json]         throughput and latency benchmark (--core: the pure core only;
                         --stages: the pipeline's steps without I/O)
"""


def _worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="arbiter worker")
    parser.add_argument("-l", "--loglevel", default="info")
    args = parser.parse_args(argv)
    from streams.app import app

    level = {"warning": "warn", "critical": "crit"}.get(args.loglevel, args.loglevel)
    sys.argv = ["arbiter", "worker", "-l", level, "--without-web"]
    app.main()
    return 0


def _rules(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="arbiter rules")
    sub = parser.add_subparsers(dest="what", required=True)
    check = sub.add_parser("check", help="validate a catalogue directory")
    check.add_argument("dir", nargs="?", default=None)
    show = sub.add_parser("show", help="print the loaded catalogue")
    show.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from streams import rules_cmd

    if args.what == "check":
        return rules_cmd.rules_check(args.dir)
    return rules_cmd.rules_show(args.json)


def _bench(argv: list[str]) -> int:
    if "--core" in argv:
        from streams import bench_core

        return bench_core.main_core_bench("--json" in argv)
    if "--stages" in argv:
        from streams import bench_stages

        return bench_stages.main_stages_bench("--json" in argv)
    from streams import bench

    return bench.main(argv)


def _delegate(module: str) -> object:
    def run(argv: list[str]) -> int:
        import importlib

        return int(importlib.import_module(f"streams.{module}").main(argv))

    return run


COMMANDS = {
    "worker": _worker,
    "stack": _delegate("stack"),
    "demo": _delegate("demo"),
    "send": _delegate("send"),
    "tail": _delegate("tail"),
    "rules": _rules,
    "bench": _bench,
    "simulate": _delegate("simulate.cli"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"arbiter: unknown command {argv[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    from streams import native

    try:
        native.check()
    except native.StaleBuild as exc:
        print(f"arbiter: {exc}", file=sys.stderr)
        return 2
    from rules import CatalogueError
    from streams.settings import SettingsError

    try:
        return command(argv[1:])  # type: ignore[operator]
    except SettingsError as exc:
        print(f"arbiter: {exc}", file=sys.stderr)
        return 2
    except CatalogueError as exc:
        print(f"arbiter: the catalogue has {len(exc.problems)} problem(s):\n{exc}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
