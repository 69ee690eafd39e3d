"""One worker, one stream and one `arbiter dashboard` process for the dashboard's tests.

Session-scoped: the worker decides the stream once, then every test reads the same topics.
A test that sends more events adds them to `running.sent` and `running.valid`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from streams import synthetic
from streams.settings import Settings
from tests.dashboard.support import (
    ARTEFACTS,
    STREAM,
    Running,
    _answers,
    _free_port,
    read_decisions,
    scripted,
    state,
    valid_count,
    wait_for,
)
from tests.harness import Worker, encoded, prepare, produce


@pytest.fixture(scope="session")
def running(stack) -> Iterator[Running]:  # type: ignore[no-untyped-def]
    settings = Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url,
                                         metrics_interval=1.0).isolated("d")
    asyncio.run(prepare(settings))
    ARTEFACTS.mkdir(exist_ok=True)
    worker = Worker(settings, ARTEFACTS).start()
    port = _free_port()
    dash_log = (ARTEFACTS / f"dashboard-{settings.group}.log").open("wb")
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "dashboard", "--port", str(port)],
        env={**os.environ, **settings.to_env()}, stdout=dash_log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        script = scripted()
        records = encoded(script) + list(
            synthetic.records(STREAM, seed=14, malformed_ratio=0.01))
        asyncio.run(produce(settings, records))
        valid = valid_count(records)
        decisions = asyncio.run(read_decisions(settings, valid, worker))
        run = Running(settings, base_url, len(records), valid, decisions, worker, dashboard,
                      script)
        wait_for("the dashboard to count every event",
                 lambda: dashboard.poll() is None and state(base_url)["totals"]["events"]
                 >= len(records) if _answers(base_url) else False, timeout=90)
        yield run
    finally:
        worker.stop()
        if dashboard.poll() is None:
            dashboard.terminate()
            try:
                dashboard.wait(timeout=20)
            except subprocess.TimeoutExpired:
                dashboard.kill()
        dash_log.close()


