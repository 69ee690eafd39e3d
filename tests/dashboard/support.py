"""The dashboard's tests' fixture and helpers: one worker, one stream and one `arbiter
dashboard` process for the session (`running`, registered by tests/conftest.py), HTTP, topics.

The worker decides the stream once, then every test reads the same topics. A test that sends
more events adds them to `running.sent` and `running.valid`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from aiokafka import TopicPartition

from rules import InvalidEvent
from streams import kafka, synthetic
from streams.dashboard.lookup import partition_count
from streams.settings import Settings
from streams.worker.codec import decode_event
from tests.harness import Worker, collect, encoded, event, prepare, produce

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / ".arbiter"
STREAM = 1500  # synthetic events, 1 % malformed


@dataclass
class Running:
    settings: Settings
    base_url: str
    sent: int  # records sent to the events topic so far
    valid: int  # of them, valid events
    decisions: list[dict[str, object]]  # every decision on the decisions topic, read to its end
    worker: Worker
    dashboard: subprocess.Popen[bytes]
    scripted: list[dict[str, object]]  # the events of scripted(), in order


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 10.0) -> tuple[int, bytes, str]:
    """(status, body, content type) of a GET; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


def state(base_url: str) -> dict:  # type: ignore[type-arg]
    status, body, _ = get(base_url + "/api/state")
    assert status == 200, body
    return orjson.loads(body)


def wait_for(what: str, check, timeout: float = 60.0, every: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def scripted() -> list[dict[str, object]]:
    """Events whose outcomes the catalogue fixes: an action, then the same customer again
    within ten minutes (held back by the burst guard), and a top-up that is no MoT."""
    return [
        event("xa1", "addon_activated", "postpaid"),
        event("xa1", "addon_activated", "postpaid"),
        event("xn1", "top_up", "prepaid", attrs={"first": False}),
    ]


def valid_count(records: list[tuple[bytes | None, bytes]]) -> int:
    n = 0
    for _, value in records:
        try:
            decode_event(value)
            n += 1
        except InvalidEvent:
            pass
    return n


async def read_to_end(settings: Settings, topic: str) -> list[dict]:  # type: ignore[type-arg]
    """Every record of `topic` up to the end offsets of now, decoded."""
    c = kafka.consumer(settings, group_id=None)
    await c.start()
    try:
        n = await partition_count(settings, topic)
        assert n > 0, f"no topic {topic}"
        tps = [TopicPartition(topic, p) for p in range(n)]
        c.assign(tps)
        ends = await c.end_offsets(tps)
        await c.seek_to_beginning(*tps)
        out: list[dict] = []  # type: ignore[type-arg]
        todo = {tp for tp in tps if ends[tp] > 0}
        while todo:
            for tp, records in (await c.getmany(*todo, timeout_ms=1000)).items():
                out.extend(orjson.loads(r.value) for r in records if r.offset < ends[tp])
            todo = {tp for tp in todo if await c.position(tp) < ends[tp]}
        return out
    finally:
        await c.stop()


async def committed_all(settings: Settings, timeout: float = 60.0) -> None:
    """Wait until the worker's group has committed the events topic's end offsets."""
    c = kafka.consumer(settings, group_id=settings.group)  # never subscribes: does not join
    await c.start()
    try:
        tps = [TopicPartition(settings.topics.events, p) for p in range(settings.partitions)]
        ends = await c.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while True:
            committed = {tp: (await c.committed(tp)) or 0 for tp in tps}
            if all(committed[tp] >= ends[tp] for tp in tps):
                return
            assert time.monotonic() < deadline, "the worker did not commit the events' end"
            await asyncio.sleep(0.5)
    finally:
        await c.stop()


async def read_decisions(settings: Settings, valid: int, worker: Worker) -> list[dict]:  # type: ignore[type-arg]
    """Every decision, read to the topic's end once every event is decided and committed."""
    await collect(settings, [settings.topics.decisions],
                  lambda s: len({d["event_id"] for _, d in s[settings.topics.decisions]})
                  >= valid, worker=worker, timeout=120)
    await committed_all(settings)
    return await read_to_end(settings, settings.topics.decisions)


def _answers(base_url: str) -> bool:
    try:
        return get(base_url + "/healthz", timeout=2)[0] in (200, 503)
    except OSError:
        return False


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


