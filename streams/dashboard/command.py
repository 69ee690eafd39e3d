"""`arbiter dashboard [--port 8080] [--host 127.0.0.1]`: the operator's page, /metrics and
/healthz, as a process of its own (it reads the topics; it never slows a worker)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from aiokafka.errors import KafkaError

from streams.dashboard.server import serve
from streams.send import stop_on_interrupt
from streams.settings import Settings


class _QuietFreshTopics(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "NotLeaderForPartitionError" not in record.getMessage()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="arbiter dashboard",
                                description="Serve the live page, /metrics and /healthz.")
    p.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    return p


async def _run(settings: Settings, host: str, port: int) -> None:
    stop = stop_on_interrupt()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)  # docker stop
    await serve(settings, host, port, stop)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if not 0 < args.port < 65536:
        parser().error("--port must be 1-65535")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    # Fresh topics have no leader for a moment; the client retries, a person needs no alarm.
    logging.getLogger("aiokafka").addFilter(_QuietFreshTopics())
    logging.getLogger("aiokafka.consumer.fetcher").addFilter(_QuietFreshTopics())
    try:
        asyncio.run(_run(Settings.from_env(), args.host, args.port))
    except KeyboardInterrupt:
        return 0
    except (KafkaError, OSError) as exc:
        print(f"arbiter dashboard: {exc}", file=sys.stderr)
        return 1
    return 0
