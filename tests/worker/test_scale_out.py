"""More than one machine: a Redis Cluster losing a master mid-stream, and a group of workers
that join, leave and die while a stream runs. Real Kafka, real Redis Cluster."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest
from harness import Worker, encoded, isolated, on_stack, prepare, produce

from streams.chaos.audit import audit
from streams.chaos.run import ends
from streams.settings import Settings
from streams.stack import control, redis_cluster
from streams.synthetic import events as synthetic_events

pytestmark = pytest.mark.integration


async def _ends(s: Settings) -> int:
    """Decisions so far: the sum of the decisions topic's end offsets."""
    return await ends(s, s.topics.decisions)


async def _until(s: Settings, decided: int, workers: list[Worker], timeout: float = 120) -> int:
    """Wait until the decisions topic holds `decided` records; the workers must stay up."""
    deadline = time.monotonic() + timeout
    while True:
        for w in workers:
            assert w.running, f"a worker exited {w.returncode}:\n{w.log_tail()}"
        got = await _ends(s)
        if got >= decided:
            return got
        assert time.monotonic() < deadline, f"{got} decisions, waited for {decided}"
        await asyncio.sleep(0.2)


def _masters(seed_port: int) -> list[int]:
    """The ports of the cluster's masters (CLUSTER NODES of a live node)."""
    with socket.create_connection(("127.0.0.1", seed_port), timeout=2) as sock:
        sock.sendall(b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nNODES\r\n")
        time.sleep(0.1)
        text = sock.recv(65536).decode(errors="replace")
    ports = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) > 2 and "master" in parts[2] and "fail" not in parts[2]:
            ports.append(int(parts[1].split("@")[0].rsplit(":", 1)[1]))
    return sorted(ports)


async def test_a_cluster_master_killed_mid_stream(stack, tmp_path: Path) -> None:
    """SIGKILL on a master while events are being decided: its replica takes over, the
    stream goes on, every event is decided once and counted once. The worker is frozen
    for the instant of the kill so that every write Redis acknowledged has reached the
    replica (Redis replicates asynchronously: writes of the last milliseconds before a
    master dies can be lost by Redis itself; docs/operations.md says what that costs)."""
    assert stack.local, "the failover test needs the local stack's Redis Cluster"
    s = isolated(on_stack(stack, "redis-cluster"), partitions=4, batch_max=200)
    await prepare(s)
    sent = [e for e in synthetic_events(12_000, seed=11) if isinstance(e, dict)]
    head, tail = sent[:8000], sent[8000:]
    await produce(s, encoded(head))
    run = control.run_dir()
    seed = int(s.redis_url.split(",")[0].rsplit(":", 1)[1].split("/")[0])
    victim_port = _masters(seed)[0]  # the seed's client still finds the cluster by the others
    victim = next(n for n in redis_cluster.servers(run) if n.port() == victim_port)
    victim_pid = victim.running()
    assert victim_pid is not None
    worker = Worker(s, tmp_path).start()
    try:
        at = await _until(s, 2000, [worker])
        assert at < len(head), "the kill must land mid-stream"
        assert worker.proc is not None
        os.killpg(worker.proc.pid, signal.SIGSTOP)
        await asyncio.sleep(0.5)  # what Redis acknowledged reaches the replicas
        os.kill(victim_pid, signal.SIGKILL)
        os.killpg(worker.proc.pid, signal.SIGCONT)
        await produce(s, encoded(tail))  # the stream goes on during the failover
        result, _ = await audit(s, sent, commit_timeout_s=180)
        live = next(p for n in redis_cluster.servers(run)
                    if (p := n.port()) is not None and p != victim_port)
        masters = _masters(live)
    finally:
        code = worker.stop()
        # Bring the killed node back (it rejoins as a replica) for whoever comes next.
        redis_cluster.start(run, shutil.which("redis-server") or "redis-server")
    assert code == 0, worker.log_tail()
    assert victim_port not in masters and len(masters) == 3, masters  # a replica took over
    assert result.decided == result.sent == len(sent), result
    assert (result.lost, result.repeated_different, result.action_conflicts,
            result.count_errors, result.lag) == (0, 0, 0, 0, 0), result
    assert "retrying" in worker.log_tail(400)  # the failover was felt, and ridden out


async def test_a_group_of_three_workers_joining_leaving_and_dying(stack, tmp_path: Path) -> None:
    """Three workers over 12 partitions and 100,000 events: one joins late, one leaves with
    SIGTERM, one is SIGKILLed and restarted, each while the stream is being decided."""
    s = isolated(on_stack(stack), partitions=12)
    await prepare(s)
    sent = [e for e in synthetic_events(100_000, seed=3) if isinstance(e, dict)]
    await produce(s, encoded(sent))
    total = len(sent)

    def worker(name: str) -> Worker:
        (tmp_path / name).mkdir()
        return Worker(s, tmp_path / name).start()

    a, b = worker("a"), worker("b")
    c = a2 = None
    try:
        assert await _until(s, total // 5, [a, b], timeout=180) < total
        c = worker("c")  # joins late
        assert await _until(s, 2 * total // 5, [a, b, c], timeout=180) < total
        assert b.stop() == 0, b.log_tail()  # leaves: SIGTERM drains and exits 0
        assert await _until(s, 3 * total // 5, [a, c], timeout=180) < total
        assert a.proc is not None
        os.killpg(a.proc.pid, signal.SIGKILL)  # dies without goodbye
        a.proc.wait()
        a2 = worker("a2")  # and comes back
        result, _ = await audit(s, sent, commit_timeout_s=240)
    finally:
        for w in (a, b, c, a2):
            if w is not None and w.running:
                assert w.stop() == 0, w.log_tail()
    assert result.decided == result.sent == total, result
    assert (result.lost, result.unexpected, result.repeated_different, result.action_conflicts,
            result.count_errors, result.lag) == (0, 0, 0, 0, 0, 0), result
