"""The Faust app: `faust -A streams.app worker` or `arbiter worker`. Wiring only."""

from __future__ import annotations

import tempfile
from pathlib import Path

import faust

from streams.consume import consume
from streams.runtime import Runtime
from streams.settings import Settings


def broker_url(settings: Settings) -> str:
    return ";".join(f"kafka://{h.strip()}" for h in settings.kafka.split(",") if h.strip())


def credentials(settings: Settings) -> faust.auth.Credentials | None:
    sec = settings.security
    kw = sec.aiokafka_kwargs()
    if sec.protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=sec.sasl_username, password=sec.sasl_password,
            mechanism=sec.sasl_mechanism or "PLAIN", ssl_context=kw.get("ssl_context"),
        )
    if sec.protocol == "SSL":
        return faust.SSLCredentials(kw["ssl_context"])
    return None


settings = Settings.from_env()
app = faust.App(
    # The events are consumed by streams.consume under ARBITER_GROUP; Faust's own consumer
    # (which owns no topic here) joins a group of its own so the two never collide.
    f"{settings.group}.app",
    broker=broker_url(settings),
    broker_credentials=credentials(settings),
    key_serializer="raw",
    value_serializer="raw",
    topic_partitions=settings.partitions,
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    datadir=str(Path(tempfile.gettempdir()) / f"mot-arbiter-{settings.group}"),
    # Faust's group owns no partitions, but a worker killed without goodbye still holds up the
    # next one's start until this expires: seconds, not Faust's default minute.
    broker_session_timeout=10.0,
    broker_rebalance_timeout=10.0,
)
runtime = Runtime(settings)


@app.task
async def decide() -> None:
    """Every record of the events topic, decided one poll at a time (see streams.consume)."""
    await consume(runtime)


@app.timer(interval=settings.metrics_interval)
async def publish_metrics() -> None:
    await runtime.publish_metrics()


@app.on_before_shutdown.connect
async def _close(app: faust.App, **_: object) -> None:
    await runtime.stop()
