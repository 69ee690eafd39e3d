"""The Faust app: `faust -A streams.app worker` or `arbiter worker`. Wiring only."""

from __future__ import annotations

from typing import Any

import faust

from streams import native

native.check()  # before importing what may be compiled

from streams import kafka  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.worker.consume import consume  # noqa: E402
from streams.worker.faust_conf import app_options  # noqa: E402
from streams.worker.runtime import Runtime  # noqa: E402

settings = Settings.from_env()
kafka.quiet_retried_errors()  # Faust's own consumer joins a group too, before ours starts
app = faust.App(
    # The events are consumed by streams.worker.consume under ARBITER_GROUP; Faust's own consumer
    # (which owns no topic here) joins a group of its own so the two never collide.
    f"{settings.group}.app",
    **app_options(settings, f"mot-arbiter-{settings.group}"),
    # Faust's group owns no partitions, but a worker killed without goodbye still holds up the
    # next one's start until this expires: seconds, not Faust's default minute.
    broker_session_timeout=10.0,
    broker_rebalance_timeout=10.0,
)
runtime = Runtime(settings)


@app.task
async def decide() -> None:
    """Every record of the events topic, decided one poll at a time (see streams.worker.consume)."""
    await consume(runtime)


@app.task
async def join_responses() -> None:
    """Responses joined to their decisions (see streams.worker.responses)."""
    await runtime.join_responses()


@app.timer(interval=settings.metrics_interval)
async def publish_metrics() -> None:
    await runtime.publish_metrics()


@app.on_before_shutdown.connect
async def _close(app: Any, /, *_: Any, signal: Any, **__: Any) -> None:
    await runtime.stop()
