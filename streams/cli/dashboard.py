"""`arbiter dashboard [--port 8080] [--host 127.0.0.1]`: the operator's page, /metrics and
/healthz, as a process of its own (it reads the topics; it never slows a worker)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from aiokafka.errors import KafkaError

from rules.errors import ArbiterError
from streams.cli.args import whole
from streams.cli.send import stop_on_interrupt
from streams.dashboard.server import serve
from streams.settings import Settings


class _QuietFreshTopics(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "NotLeaderForPartitionError" not in record.getMessage()


def configure(p: argparse.ArgumentParser) -> None:
    p.description = "Serve the live page, /metrics and /healthz."
    p.add_argument("--port", type=port, default=8080, help="TCP port (default 8080)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")


def port(raw: str) -> int:
    value = whole(1)(raw)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be 1-65535, not {value}")
    return value


async def _run(settings: Settings, host: str, port: int) -> None:
    stop = stop_on_interrupt()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)  # docker stop
    await serve(settings, host, port, stop)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    # Fresh topics have no leader for a moment; the client retries, a person needs no alarm.
    logging.getLogger("aiokafka").addFilter(_QuietFreshTopics())
    logging.getLogger("aiokafka.consumer.fetcher").addFilter(_QuietFreshTopics())
    try:
        asyncio.run(_run(Settings.from_env(), args.host, args.port))
    except KeyboardInterrupt:
        return 0
    except (KafkaError, OSError) as exc:
        raise DashboardError(str(exc)) from exc
    return 0


class DashboardError(ArbiterError):
    """The dashboard could not serve (the message says why)."""
