"""What the reliability tests share: workers with their own environment, a Redis of their own,
the group's offsets, and producing the way other clients do."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from aiokafka import TopicPartition
from harness import Worker

from streams import kafka
from streams.chaos.audit import partitions
from streams.chaos.private_redis import PrivateRedis
from streams.chaos.run import ends

__all__ = ["EnvWorker", "PrivateRedis", "committed", "ends", "kcat_produce"]
from streams.settings import Settings


class EnvWorker(Worker):
    """A worker process with extra environment and a log level of choice."""

    def __init__(self, settings: Settings, log_dir: Path, env: dict[str, str] | None = None,
                 level: str = "warning", name: str = "") -> None:
        super().__init__(settings, log_dir)
        self.env = env or {}
        self.level = level
        if name:
            self.log_path = log_dir / f"worker-{name}.log"

    def start(self) -> EnvWorker:
        env = {**os.environ, **self.settings.to_env(), **self.env}
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "-l", self.level],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        """The exit code; a worker still running after timeout is killed and fails the test."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"worker did not stop within {timeout:.0f}s:\n"
                                 f"{self.log_tail(60)}") from None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def committed(s: Settings) -> int:
    """The sum of the group's committed offsets on the events topic."""
    consumer = kafka.consumer(s, group_id=s.group)
    await consumer.start()
    try:
        parts = await partitions(consumer, s.topics.events)
        total = 0
        for p in parts:
            total += (await consumer.committed(TopicPartition(s.topics.events, p))) or 0
        return total
    finally:
        await consumer.stop()


def kcat_produce(bootstrap: str, topic: str, lines: list[bytes], codec: str) -> None:
    """Produce lines (one record each, no key) with kcat, compressed with codec."""
    exe = shutil.which("kcat")
    assert exe, "kcat is not installed"
    subprocess.run([exe, "-P", "-b", bootstrap, "-t", topic, "-z", codec, "-X", "linger.ms=50"],
                   input=b"\n".join(lines) + b"\n", check=True, timeout=60)
