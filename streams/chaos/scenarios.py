"""The faults `arbiter chaos` injects, one coroutine each, run while the stream is produced.

Each records its faults' (start, end) wall-clock seconds in the context, for the recovery
figure. Redis faults act on the run's private redis-server, never on the shared stack's; the
broker restart acts on the local stack's broker and waits until it answers again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from streams import kafka
from streams.chaos.private_redis import ChaosError
from streams.chaos.run import Context, Fault
from streams.stack import control
from streams.stack.proc import terminate


def _redis(ctx: Context) -> aioredis.Redis:
    if ctx.redis is None:
        raise ChaosError("this scenario needs the run's private Redis")
    return aioredis.Redis(host="127.0.0.1", port=ctx.redis.port, socket_timeout=5)


async def worker_kills(ctx: Context) -> None:
    """SIGKILL the worker (its whole process group) `kills` times, spread over the stream,
    each once it has emitted decisions since its start, and start a new one at once."""
    n = ctx.timings.kills
    spacing = ctx.timings.stream_s / (n + 1)
    for k in range(n):
        await asyncio.sleep(spacing)
        before = await ctx.decided_so_far()
        deadline = time.monotonic() + 60
        while await ctx.decided_so_far() <= before and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # the new worker has not decided anything yet
        w = ctx.workers[0]
        ctx.expected_exit = True
        start = time.time()
        if w.proc is not None and w.running:
            os.killpg(w.proc.pid, signal.SIGKILL)
            w.proc.wait()
        ctx.workers[0] = ctx.new_worker(f"kill{k + 1}")
        ctx.expected_exit = False
        ctx.faults.append((start, time.time()))


def redis_restart(keep_data: bool) -> Fault:
    async def fault(ctx: Context) -> None:
        """Redis stopped for fault_s seconds at a third of the stream, then started again
        (SHUTDOWN SAVE and back with its keys, or NOSAVE and back empty)."""
        assert ctx.redis is not None
        await ctx.at_share(1 / 3)
        start = time.time()
        await asyncio.to_thread(ctx.redis.stop, keep_data)
        await asyncio.sleep(ctx.timings.fault_s)
        await asyncio.to_thread(ctx.redis.start)
        ctx.faults.append((start, time.time()))
        if not keep_data:
            ctx.counts_reset = True
            ctx.notes.append("Redis came back empty: MoT counts and dedupe marks reset")
    return fault


async def script_flush(ctx: Context) -> None:
    """SCRIPT FLUSH twice, at a third and two thirds of the stream (the worker reloads)."""
    r = _redis(ctx)
    try:
        for share in (1 / 3, 2 / 3):
            await ctx.at_share(share)
            t = time.time()
            await r.script_flush()
            ctx.faults.append((t, t))
    finally:
        await r.aclose()


async def kafka_restart(ctx: Context) -> None:
    """The local stack's broker stopped (SIGTERM by its pid) for fault_s seconds, then
    `control.up()` starts it again on the same port; returns once it answers."""
    await ctx.at_share(1 / 3)
    now = control.status()
    if not now.kafka.up or now.kafka.pid is None or now.kafka.port is None:
        raise ChaosError("the local stack's Kafka is not running")
    pid, port = now.kafka.pid, now.kafka.port
    start = time.time()
    await asyncio.to_thread(terminate, pid, 60.0)
    await asyncio.sleep(ctx.timings.fault_s)
    saved = os.environ.get("ARBITER_STACK_KAFKA_PORT")
    os.environ["ARBITER_STACK_KAFKA_PORT"] = str(port)  # the same port: clients reconnect
    try:
        info = await asyncio.to_thread(control.up)
    finally:
        if saved is None:
            os.environ.pop("ARBITER_STACK_KAFKA_PORT", None)
        else:
            os.environ["ARBITER_STACK_KAFKA_PORT"] = saved
    ctx.faults.append((start, time.time()))
    if info.kafka != f"127.0.0.1:{port}":
        raise ChaosError(f"the broker came back on {info.kafka}, not 127.0.0.1:{port}")


async def redis_pause(ctx: Context) -> None:
    """CLIENT PAUSE ALL for pause_s at a third of the stream: connections stay up, nothing
    is answered, past the worker's socket timeout."""
    r = _redis(ctx)
    try:
        await ctx.at_share(1 / 3)
        start = time.time()
        await r.execute_command("CLIENT", "PAUSE", int(ctx.timings.pause_s * 1000), "ALL")
        await asyncio.sleep(ctx.timings.pause_s)
        ctx.faults.append((start, start + ctx.timings.pause_s))
    finally:
        await r.aclose()


async def rebalance(ctx: Context) -> None:
    """A second worker joins, takes partitions, and leaves with SIGTERM, `joins` times."""
    n = ctx.timings.joins
    for k in range(n):
        await ctx.at_share((2 * k + 1) / (2 * n + 1))
        start = time.time()
        second = ctx.new_worker(f"second{k + 1}")
        # Leave only once it is at work (its first metrics record is out: it has started and
        # joined), then after a slice of the stream; a SIGTERM while Python is still importing
        # would prove nothing.
        if not await _metrics_from(ctx, second.pid, timeout_s=120.0):
            ctx.notes.append(f"the second worker {k + 1} published no metrics within 120 s")
        await asyncio.sleep(ctx.timings.stream_s / (2 * n + 1))
        code = await asyncio.to_thread(second.stop)
        ctx.faults.append((start, time.time()))
        if code != 0:
            ctx.crashes += 1
            ctx.notes.append(f"the second worker exited {code} on SIGTERM: "
                             f"{second.log_tail(3)[-300:]}")


async def _metrics_from(ctx: Context, pid: int, timeout_s: float) -> bool:
    """Wait until a metrics record keyed by the worker of this pid (host-pid) is out."""
    s = ctx.settings
    consumer = kafka.consumer(s, s.topics.metrics, group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = await consumer.getmany(timeout_ms=500)
            for msgs in got.values():
                if any(m.key is not None and m.key.endswith(f"-{pid}".encode()) for m in msgs):
                    return True
        return False
    finally:
        await consumer.stop()


async def redis_full(ctx: Context) -> None:
    """maxmemory just above used_memory with noeviction for full_s (writes refused), then
    maxmemory 0 (no limit)."""
    r = _redis(ctx)
    try:
        await ctx.at_share(1 / 3)
        used = int((await r.info("memory"))["used_memory"])
        start = time.time()
        await r.config_set("maxmemory-policy", "noeviction")
        await r.config_set("maxmemory", str(used + 64 * 1024))
        await asyncio.sleep(ctx.timings.full_s)
        await r.config_set("maxmemory", "0")
        ctx.faults.append((start, time.time()))
    finally:
        await r.aclose()


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    fault: Fault
    private_redis: bool  # Redis faults run on a redis-server of the run's own


SCENARIOS: dict[str, tuple[Scenario, ...]] = {
    "worker_kills": (Scenario("worker_kills", worker_kills, False),),
    "redis_restart": (Scenario("redis_restart", redis_restart(True), True),
                      Scenario("redis_restart_empty", redis_restart(False), True),
                      Scenario("script_flush", script_flush, True)),
    "kafka_restart": (Scenario("kafka_restart", kafka_restart, False),),
    "redis_pause": (Scenario("redis_pause", redis_pause, True),),
    "rebalance": (Scenario("rebalance", rebalance, False),),
    "redis_full": (Scenario("redis_full", redis_full, True),),
}
