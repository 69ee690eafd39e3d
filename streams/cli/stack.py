"""`arbiter stack up|down|status`: the local Kafka and Redis (see `streams.stack.control`)."""

from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", required=True)
    start = sub.add_parser("up", help="start what is not running; print the ARBITER_* settings")
    start.add_argument("--redis-cluster", action="store_true",
                       help="also a Redis Cluster of 3 masters and 3 replicas; print its settings")
    stop = sub.add_parser("down", help="stop the servers `up` started")
    stop.add_argument("--purge", action="store_true", help="also delete their data and logs")
    sub.add_parser("status", help="what runs where; exit 3 unless both answer")


def run(args: argparse.Namespace) -> int:
    from streams.stack import control

    if args.what == "up":
        print("\n".join(control.up(args.redis_cluster).env_lines()), flush=True)
        return 0
    if args.what == "down":
        if not control.down(purge=args.purge):
            control.say("nothing of ours was running")
        return 0
    now = control.status()
    print("\n".join([now.kafka.line(), now.redis.line(), *now.redis_cluster,
                     f"run dir {now.run_dir}"]))
    return 0 if now.up else 3
