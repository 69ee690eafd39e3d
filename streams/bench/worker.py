"""A stream worker as a child process: timed by the records it writes, weighed through /proc."""

from __future__ import annotations

import asyncio
import glob
import os
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from streams.bench.kit import BenchError, Rate, redis_cpu_s
from streams.kafka import OffsetCounter
from streams.settings import Settings
from streams.stack.worker import STOP_TIMEOUT_S, WorkerProcess

# The naive baseline; the arbiter's own worker runs ARBITER, exactly `arbiter worker`.
NAIVE = ["-m", "streams.bench.naive", "worker", "-l", "warn", "--without-web"]


def _status_kb(pid: int, name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (fields 14 and 15 of /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants, from /proc/<pid>/task/*/children."""
    pids, i = [pid], 0
    while i < len(pids):
        for path in glob.glob(f"/proc/{pids[i]}/task/*/children"):
            try:
                with open(path) as f:
                    pids.extend(int(c) for c in f.read().split())
            except OSError:
                continue
        i += 1
    return pids


class WorkerProc(WorkerProcess):
    """A worker of the bench, weighed through /proc while it runs."""

    def __init__(self, settings: Settings, argv: list[str], log_dir: Path) -> None:
        super().__init__(settings, log_dir / f"worker-{settings.group}.log", argv)
        self.peak_kb = 0

    def start(self) -> WorkerProc:
        super().start()
        return self

    def sample(self) -> None:
        """Peak resident memory: the kernel's high-water mark (VmHWM), summed over the tree,
        or the summed current RSS when that is higher."""
        if not self.running:
            return
        tree = process_tree(self.pid)
        hwm = sum(_status_kb(p, "VmHWM:") for p in tree)
        rss = sum(_status_kb(p, "VmRSS:") for p in tree)
        self.peak_kb = max(self.peak_kb, hwm, rss)

    def cpu_s(self) -> float:
        """CPU seconds used so far by the worker and its children."""
        if not self.running:
            return 0.0
        return sum(cpu_s(p) for p in process_tree(self.pid))

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"the worker exited with {self.proc.returncode}:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        self.sample()
        return super().stop(timeout)


class WorkerGroup(WorkerProc):
    """`count` workers in one consumer group, measured as one: CPU and memory summed."""

    def __init__(self, settings: Settings, argv: list[str], log_dir: Path, count: int) -> None:
        super().__init__(settings, argv, log_dir)
        self.members = [WorkerProc(settings, argv, log_dir) for _ in range(count)]
        for i, m in enumerate(self.members):
            m.log_path = log_dir / f"worker-{settings.group}-{i}.log"

    def start(self) -> WorkerGroup:
        for m in self.members:
            m.start()
        return self

    @property
    def running(self) -> bool:
        return all(m.running for m in self.members)

    def sample(self) -> None:
        for m in self.members:
            m.sample()

    def cpu_s(self) -> float:
        return sum(m.cpu_s() for m in self.members)

    @property
    def peak_mb(self) -> float:
        return sum(m.peak_mb for m in self.members)

    def check(self) -> None:
        for m in self.members:
            m.check()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(m.log_tail(lines) for m in self.members)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        codes = [m.stop(timeout) for m in self.members]
        return next((c for c in codes if c), codes[0] if codes else None)


@dataclass(frozen=True, slots=True)
class Drained:
    rate: Rate
    decisions: int
    deadletter: int
    peak_mb: float  # the worker's peak resident memory up to the end of the run
    worker_cpu_s: float  # CPU the worker used over the timed window
    redis_cpu_s: float  # CPU the Redis server used over the timed window
    broker_cpu_s: float | None  # CPU the Kafka broker used, when it runs on this machine

    def per_event_us(self, cpu_s: float) -> float:
        return 1e6 * cpu_s / self.rate.count if self.rate.count else 0.0

    @property
    def worker_share(self) -> float:
        """The worker's CPU over the timed window, as a share of one core."""
        return self.worker_cpu_s / self.rate.seconds if self.rate.seconds > 0 else 0.0


async def time_outputs(worker: WorkerProc, partitions: int, target: int, bar: tqdm,
                       broker_pid: int | None = None, startup_s: float = 120.0,
                       stall_s: float = 60.0, settle_s: float = 0.0) -> Drained:
    """Wait until `target` inputs are decided or dead-lettered; time it from the first output
    (plus `settle_s`, for a group still rebalancing as its workers join; a run shorter than
    that is timed from the first output).

    Startup (process, Faust, group join) is excluded: the clock starts at the first poll
    that sees an output, and the outputs already there then are not counted. The worker's,
    the Redis server's and (given its pid) the Kafka broker's CPU are read at the same two
    moments.
    """
    t = worker.settings.topics
    started = time.monotonic()
    first: tuple[float, int] | None = None
    seen: tuple[float, int, tuple[float, float, float]] | None = None  # the first output
    cpu0 = (0.0, 0.0, 0.0)
    last, last_change, last_sample = 0, started, 0.0
    async with OffsetCounter(worker.settings, partitions) as counter:
        while True:
            worker.check()
            counts = await counter.count(t.decisions, t.deadletter)
            done, now = sum(counts.values()), time.monotonic()
            if done and first is None:
                cpu = (worker.cpu_s(), await redis_cpu_s(worker.settings),
                       cpu_s(broker_pid) if broker_pid else 0.0)
                seen = seen or (now, done, cpu)
                if now - seen[0] >= settle_s:
                    first, cpu0 = (now, done), cpu
            if done >= target and first is None and seen is not None:
                first, cpu0 = (seen[0], seen[1]), seen[2]
            if done != last:
                bar.update(done - last)
                last, last_change = done, now
            if done >= target:
                break
            _check_stall(worker, first, now - started > startup_s, now - last_change > stall_s)
            if now - last_sample > 0.5:
                worker.sample()
                last_sample = now
            await asyncio.sleep(0.05)
    worker.sample()
    cpu1 = (worker.cpu_s(), await redis_cpu_s(worker.settings),
            cpu_s(broker_pid) if broker_pid else 0.0)
    assert first is not None
    return Drained(Rate(done - first[1], now - first[0]), counts[t.decisions],
                   counts[t.deadletter], worker.peak_mb, cpu1[0] - cpu0[0], cpu1[1] - cpu0[1],
                   cpu1[2] - cpu0[2] if broker_pid else None)


def _check_stall(worker: WorkerProc, first: tuple[float, int] | None, late: bool,
                 stalled: bool) -> None:
    if first is None and late:
        raise BenchError(f"no output from the worker after startup:\n{worker.log_tail()}")
    if first is not None and stalled:
        raise BenchError(f"the worker stopped making progress:\n{worker.log_tail()}")
