"""`arbiter bench`: the whole benchmark, or with `--core` / `--stages` one without I/O."""

from __future__ import annotations

import argparse

from streams.cli.args import positive, whole


def configure(p: argparse.ArgumentParser) -> None:
    from streams.bench.run import Options

    d = Options()
    p.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--core", action="store_true",
                      help="decisions per second of the pure core on one core, nothing else")
    only.add_argument("--stages", action="store_true",
                      help="the worker's pipeline step by step without any I/O, µs per event")
    p.add_argument("--events", type=whole(1), default=d.events,
                   help="events for the throughput runs")
    p.add_argument("--partitions", type=whole(1), default=d.partitions,
                   help="partitions per topic")
    p.add_argument("--offered-eps", type=positive, default=d.offered_eps,
                   help="events/s offered in the latency phase")
    p.add_argument("--latency-seconds", type=positive, default=d.latency_s,
                   help="length of the latency phase (over 1 s: the first is warm-up)")
    p.add_argument("--rss-customers", type=whole(1), default=d.rss_customers,
                   help="distinct customers (one event each) in the memory phase")
    p.add_argument("--naive-events", type=whole(1), default=d.naive_events,
                   help="events the naive Faust agent decides (at most --events)")
    p.add_argument("--workers", type=whole(1), default=d.workers,
                   help="arbiter worker processes in one group for the throughput phase")
    p.add_argument("--skip-naive", action="store_true", help="no naive Faust run")
    p.add_argument("--skip-rss", action="store_true",
                   help="no memory phase (the throughput worker's peak is reported)")


def run(args: argparse.Namespace) -> int:
    if args.core:
        from streams.bench import core

        return core.main_core_bench(args.json)
    if args.stages:
        from streams.bench import stages

        return stages.main_stages_bench(args.json)
    from streams.bench import command
    from streams.bench.run import Options

    if args.latency_seconds <= 1:
        raise command.BenchError("--latency-seconds must be over 1 (the first is warm-up)", 2)
    opts = Options(args.events, args.partitions, args.offered_eps, args.latency_seconds,
                   args.rss_customers, args.naive_events, args.skip_naive, args.skip_rss,
                   args.workers)
    return command.main(opts, args.json)
