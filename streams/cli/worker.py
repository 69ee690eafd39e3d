"""`arbiter worker`: the Faust app `streams.app`, as `faust -A streams.app worker` runs it."""

from __future__ import annotations

import argparse
import sys

LEVELS = ("debug", "info", "warning", "error", "critical")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("-l", "--loglevel", default="info", choices=LEVELS)


def run(args: argparse.Namespace) -> int:
    from streams.worker.app import app

    level = {"warning": "warn", "critical": "crit"}.get(args.loglevel, args.loglevel)
    sys.argv = ["arbiter", "worker", "-l", level, "--without-web"]
    app.main()
    return 0
