"""Redis going away is weather: the worker waits, keeps its offsets, and decides everything."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Worker, collect, encoded, event, isolated, prepare, produce

from streams.chaos.audit import audit
from streams.settings import Settings

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
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
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("private redis did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    r = PrivateRedis(_free_port(), tmp_path)
    r.start()
    yield r
    r.kill()


async def test_worker_rides_out_a_redis_outage(stack, private_redis: PrivateRedis,
                                               tmp_path: Path) -> None:
    base = Settings.from_env().with_(kafka=stack.kafka,
                                     redis_url=f"redis://127.0.0.1:{private_redis.port}/0")
    s = isolated(base, partitions=2)
    await prepare(s)
    worker = Worker(s, tmp_path).start()
    try:
        before = [event(f"w-{uuid.uuid4().hex[:6]}", "complaint_submitted", "home")
                  for _ in range(20)]
        await produce(s, encoded(before))
        ids = {e["event_id"] for e in before}

        def decided(seen: dict) -> set[str]:
            return {d["event_id"] for _, d in seen[s.topics.decisions]}

        await collect(s, [s.topics.decisions], lambda seen: ids <= decided(seen), worker)

        private_redis.kill()
        during = [event(f"w-{uuid.uuid4().hex[:6]}", "port_out_requested", "prepaid")
                  for _ in range(20)]
        await produce(s, encoded(during))
        time.sleep(3)
        assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()
        private_redis.start()

        # Read to the end offsets once the group committed the input's end, then count.
        result, _ = await audit(s, before + during, commit_timeout_s=90)
    finally:
        code = worker.stop()
    assert code == 0, worker.log_tail()
    # Redis restarted empty: its counts are gone, the per-event invariants are not.
    assert result.decided == result.sent == len(before) + len(during), result
    assert (result.lost, result.unexpected, result.repeated_different, result.lag) == (0,) * 4
    assert result.repeated_same == 0, "each event decided exactly once"
    assert "retrying" in worker.log_tail(200)
