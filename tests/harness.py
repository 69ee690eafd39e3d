"""Helpers for tests that run a real worker process against the local Kafka and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from streams import kafka
from streams.settings import Settings


def isolated(base: Settings, **changes: object) -> Settings:
    """Settings with topics, consumer group and Redis keys of their own."""
    return base.isolated().with_(**changes)


class Worker:
    """`arbiter worker` as a child process, stopped (and its log shown on failure) at exit."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_path = log_dir / f"worker-{settings.group}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        env = {**os.environ, **self.settings.to_env()}
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "-l", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()


async def prepare(settings: Settings) -> None:
    await kafka.ensure_topics(settings, kafka.all_topics(settings), settings.partitions)


async def produce(settings: Settings, records: Iterable[tuple[bytes | None, bytes]]) -> int:
    producer = kafka.producer(settings)
    await producer.start()
    try:
        futures = [await producer.send(settings.topics.events, value, key=key)
                   for key, value in records]
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


def event(customer: str, type_: str, line: str, **extra: object) -> dict[str, object]:
    return {
        "event_id": uuid.uuid4().hex,
        "customer_id": customer,
        "type": type_,
        "product_line": line,
        "ts": int(time.time() * 1000),
        **extra,
    }


def encoded(events: Iterable[dict[str, object]]) -> list[tuple[bytes | None, bytes]]:
    return [(str(e["customer_id"]).encode(), orjson.dumps(e)) for e in events]


Collected = dict[str, list[tuple[bytes | None, dict]]]


async def collect(
    settings: Settings,
    topics: list[str],
    done: Callable[[Collected], bool],
    worker: Worker | None = None,
    timeout: float = 90.0,
) -> Collected:
    """Read the topics from the beginning until done(seen) holds; fail with the worker's log."""
    consumer = kafka.consumer(settings, *topics, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    seen: Collected = {t: [] for t in topics}
    deadline = time.monotonic() + timeout
    try:
        while not done(seen):
            if time.monotonic() > deadline:
                counts = {t: len(v) for t, v in seen.items()}
                log = worker.log_tail() if worker else ""
                raise AssertionError(f"timed out waiting; got {counts}\nworker log:\n{log}")
            if worker is not None and worker.proc is not None and worker.proc.poll() is not None:
                raise AssertionError(f"worker exited {worker.proc.returncode}:\n"
                                     f"{worker.log_tail()}")
            batch = await consumer.getmany(timeout_ms=500)
            for tp, msgs in batch.items():
                seen[tp.topic].extend((m.key, orjson.loads(m.value)) for m in msgs)
    finally:
        await consumer.stop()
    return seen
