"""The Faust app: `faust -A streams.app worker` or `arbiter worker`. Wiring only."""

from __future__ import annotations

import tempfile
from pathlib import Path

import faust
from faust.types import EventT

from streams.codec import Record
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


def to_record(event: EventT) -> Record:
    m = event.message
    return Record(m.topic, m.partition, m.offset, m.key, m.value, int(m.timestamp * 1000))


settings = Settings.from_env()
app = faust.App(
    settings.group,
    broker=broker_url(settings),
    broker_credentials=credentials(settings),
    key_serializer="raw",
    value_serializer="raw",
    topic_partitions=settings.partitions,
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    datadir=str(Path(tempfile.gettempdir()) / f"mot-arbiter-{settings.group}"),
    broker_commit_interval=1.0,
    stream_buffer_maxsize=settings.batch_max * 4,
)
events_topic = app.topic(settings.topics.events, key_type=bytes, value_type=bytes,
                         partitions=settings.partitions)
runtime = Runtime(settings)


@app.agent(events_topic, concurrency=1)
async def decide(stream: faust.StreamT) -> None:
    """Each poll's records, decided as one batch; Faust acks them only after it returns."""
    await runtime.start()
    async for batch in stream.take_events(settings.batch_max, within=0.01):
        await runtime.process([to_record(e) for e in batch])


@app.timer(interval=settings.metrics_interval)
async def publish_metrics() -> None:
    await runtime.publish_metrics()


@app.on_before_shutdown.connect
async def _close(app: faust.App, **_: object) -> None:
    await runtime.stop()
