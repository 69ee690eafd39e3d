"""`arbiter chaos`: fault injection against the local stack, each scenario ending with the
delivery audit; a table (or `--json`: one object), exit 1 when an invariant fails."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from streams.cli.args import positive, whole

if TYPE_CHECKING:
    from streams.settings import Settings


def configure(p: argparse.ArgumentParser) -> None:
    from streams.chaos.run import Timings
    from streams.chaos.scenarios import SCENARIOS

    d = Timings()
    p.description = ("Inject faults (worker kills, Redis and broker restarts, a paused or full "
                     "Redis, a rebalance) while a synthetic stream is decided on the local "
                     "stack, then audit: nothing lost, nothing decided twice differently, MoT "
                     "counts exact, lag 0.")
    p.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    p.add_argument("--events", type=whole(1), default=d.events, help="events per scenario")
    p.add_argument("--rate", type=positive, default=d.rate, help="events per second offered")
    p.add_argument("--scenario", nargs="+", action="extend", choices=list(SCENARIOS),
                   metavar="NAME", help=f"run only these (default: all): {', '.join(SCENARIOS)}")
    p.add_argument("--fault-seconds", type=positive, default=d.fault_s,
                   help="how long Redis or the broker stays down")
    p.add_argument("--pause-seconds", type=positive, default=d.pause_s,
                   help="CLIENT PAUSE length (the worker's Redis socket timeout is 10 s)")
    p.add_argument("--full-seconds", type=positive, default=d.full_s,
                   help="how long Redis stays at its maxmemory")
    p.add_argument("--kills", type=whole(1), default=d.kills, help="worker SIGKILLs")
    p.add_argument("--joins", type=whole(1), default=d.joins,
                   help="times a second worker joins and leaves")


def _local_settings() -> Settings:
    """Settings on the local stack (started if needed); a non-local server is refused."""
    from streams.chaos.private_redis import ChaosError
    from streams.settings import Settings
    from streams.stack import control

    base = Settings.from_env()
    given_kafka, given_redis = os.environ.get("ARBITER_KAFKA"), os.environ.get("ARBITER_REDIS_URL")
    now = control.status()
    if given_kafka or given_redis:
        local_kafka = f"127.0.0.1:{now.kafka.port}" if now.kafka.up else None
        local_redis = f"redis://127.0.0.1:{now.redis.port}/0" if now.redis.up else None
        if (given_kafka and given_kafka != local_kafka) or (given_redis
                                                             and given_redis != local_redis):
            raise ChaosError("chaos runs against the local stack only (it stops its broker); "
                             "unset ARBITER_KAFKA/ARBITER_REDIS_URL or point them at "
                             "`arbiter stack up`'s servers")
    if base.redis_cluster:
        raise ChaosError("chaos runs on the local stack's single Redis, not a Redis Cluster")
    info = control.up()
    return base.with_(kafka=info.kafka, redis_url=info.redis_url)


def run(args: argparse.Namespace) -> int:
    from streams.chaos.report import payload, table
    from streams.chaos.run import Timings, run_scenario
    from streams.chaos.scenarios import SCENARIOS

    # The clients' retries while a server is away are the run's subject, not news.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    settings = _local_settings()
    timings = Timings(events=args.events, rate=args.rate, fault_s=args.fault_seconds,
                      pause_s=args.pause_seconds, full_s=args.full_seconds, kills=args.kills,
                      joins=args.joins)
    names = list(dict.fromkeys(args.scenario or SCENARIOS))
    workdir = Path(tempfile.mkdtemp(prefix="arbiter-chaos-"))
    outcomes = []
    try:
        for i, name in enumerate(names):
            for sc in SCENARIOS[name]:
                if not args.json:
                    print(f"arbiter chaos: {sc.name} ...", file=sys.stderr, flush=True)
                outcomes.append(asyncio.run(run_scenario(
                    sc.name, sc.fault, settings, workdir / sc.name,
                    timings, sc.private_redis, seed=100 + i)))
    except BaseException:
        print(f"arbiter chaos: worker logs kept in {workdir}", file=sys.stderr)
        raise
    ok = all(o.ok() for o in outcomes)
    if ok:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"arbiter chaos: worker logs kept in {workdir}", file=sys.stderr)
    if args.json:
        print(orjson.dumps(payload(outcomes, timings)).decode())
    else:
        print(table(outcomes, timings))
    return 0 if ok else 1
