"""What the reliability tests share: workers with their own environment, a Redis of their own,
the group's offsets, and producing the way other clients do."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from aiokafka import TopicPartition
from harness import Worker

from streams import kafka
from streams.chaos.audit import partitions
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


async def ends(s: Settings, topic: str) -> int:
    """The sum of a topic's end offsets (its records so far, on a topic of plain records)."""
    consumer = kafka.consumer(s, group_id=None)
    await consumer.start()
    try:
        parts = await partitions(consumer, topic)
        got = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return sum(got.values())
    finally:
        await consumer.stop()


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test's own, to stop, freeze and resume under a worker."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = free_port(), workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("private redis did not start")

    def freeze(self) -> None:
        """SIGSTOP: connections stay open, nothing answers (a hung Redis); data kept."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
