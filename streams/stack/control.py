"""`arbiter stack up|down|status`: a local Apache Kafka (KRaft) and Redis on loopback.

Both run as plain processes that outlive the command, with their data, logs and pid files
in the run dir (`ARBITER_STACK_DIR`, default `<checkout>/.arbiter/stack`). `up` is idempotent:
a server of ours that is alive and answering is reused, never started twice.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from streams.stack import kafka_server as stack_kafka
from streams.stack import redis_cluster as redis_cluster_nodes
from streams.stack import redis_server as stack_redis
from streams.stack.proc import (
    LOOPBACK,
    StackError,
    choose_port,
    file_lock,
    kafka_answers,
    redis_answers,
)
from streams.stack.server import Server, say

__all__ = ["Service", "StackError", "StackInfo", "StackStatus", "down", "say", "status", "up"]

KAFKA_PORT, REDIS_PORT = 9092, 6379
SERVICES = ("kafka", "redis")


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    pid: int | None
    port: int | None
    answering: bool

    @property
    def up(self) -> bool:
        return self.pid is not None and self.answering

    def line(self) -> str:
        if self.pid is None:
            return f"{self.name:<6} not running"
        state = "answering" if self.answering else "NOT answering"
        return f"{self.name:<6} pid {self.pid:<8} {LOOPBACK}:{self.port}  {state}"


@dataclass(frozen=True, slots=True)
class StackStatus:
    kafka: Service
    redis: Service
    run_dir: Path
    redis_cluster: tuple[str, ...] = ()  # a line per running node of the local Redis Cluster

    @property
    def up(self) -> bool:
        return self.kafka.up and self.redis.up


@dataclass(frozen=True, slots=True)
class StackInfo:
    kafka: str  # bootstrap servers, e.g. 127.0.0.1:9092
    redis_url: str
    kafka_pid: int
    redis_pid: int
    started: tuple[str, ...]  # the services this call started; empty when all were up
    run_dir: Path
    redis_cluster_url: str | None = None  # a seed node of the local Redis Cluster, if up

    def env_lines(self) -> list[str]:
        """The settings that reach the stack (its Redis Cluster when it was asked for)."""
        if self.redis_cluster_url is not None:
            return [f"ARBITER_KAFKA={self.kafka}", f"ARBITER_REDIS_URL={self.redis_cluster_url}",
                    "ARBITER_REDIS_CLUSTER=true"]
        return [f"ARBITER_KAFKA={self.kafka}", f"ARBITER_REDIS_URL={self.redis_url}"]


def run_dir() -> Path:
    override = os.environ.get("ARBITER_STACK_DIR")
    if override:
        return Path(override).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]  # streams/stack/control.py -> the checkout
    if (checkout / "pyproject.toml").is_file():  # a source checkout (editable install)
        return checkout / ".arbiter" / "stack"
    here = Path.cwd()
    root = next((p for p in (here, *here.parents) if (p / ".git").exists()), here)
    return root / ".arbiter" / "stack"


def _servers(run: Path) -> dict[str, Server]:
    kafka, redis = run / "kafka", run / "redis"
    return {
        "kafka": Server("kafka", kafka, kafka / "server.properties", "kafka.Kafka",
                        kafka_answers, stack_kafka.port_of, ready_s=90.0, stop_s=30.0,
                        logs=("kafka.out", "server.log")),
        "redis": Server("redis", redis, redis / "redis.conf", "redis-server",
                        redis_answers, stack_redis.port_of, ready_s=15.0, stop_s=10.0,
                        logs=("redis.out", "redis.log")),
    }


def _preferred(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise StackError(f"{name}={raw!r} is not a port number", code=2)
    return int(raw)


def up(redis_cluster: bool = False) -> StackInfo:
    """Starts what is not running yet and returns once both servers answer (and, asked for,
    a Redis Cluster of 3 masters and 3 replicas says `cluster_state:ok`)."""
    run = run_dir()
    servers = _servers(run)
    cluster_url = None
    with file_lock(run / ".lock"):
        pids = {name: server.reusable() for name, server in servers.items()}
        need = {name for name, pid in pids.items() if pid is None}
        java, redis_server = _require_tools(need | ({"redis"} if redis_cluster else set()))
        lib = stack_kafka.ensure_jars() if java else None
        started: list[str] = []
        try:
            if java and lib:
                started.append("kafka")
                pids["kafka"] = _start_kafka(servers["kafka"], java, lib)
            if redis_server and "redis" in need:
                started.append("redis")
                pids["redis"] = _start_redis(servers["redis"], redis_server)
            if redis_cluster and redis_server:
                ports, nodes = redis_cluster_nodes.start(run, redis_server)
                started.extend(nodes)
                # Three seeds: a client starting while one node is down still finds the cluster.
                cluster_url = ",".join(f"redis://{LOOPBACK}:{p}/0" for p in ports[:3])
        except BaseException:
            for name in started:
                if name in servers:
                    servers[name].stop()
            if any(name not in servers for name in started):
                redis_cluster_nodes.stop(run)
            raise
    kafka_pid, redis_pid = pids["kafka"], pids["redis"]
    assert kafka_pid is not None and redis_pid is not None
    return StackInfo(
        kafka=f"{LOOPBACK}:{servers['kafka'].port()}",
        redis_url=f"redis://{LOOPBACK}:{servers['redis'].port()}/0",
        kafka_pid=kafka_pid, redis_pid=redis_pid, started=tuple(started), run_dir=run,
        redis_cluster_url=cluster_url,
    )


def _require_tools(need: set[str]) -> tuple[str | None, str | None]:
    """Checks every tool before anything starts, so a missing one leaves nothing behind."""
    java = stack_kafka.java_binary() if "kafka" in need else None
    if java and not stack_kafka.jars_cached() and not shutil.which("mvn"):
        raise StackError("mvn not found; install Maven to fetch Apache Kafka "
                         "(apt-get install maven)", code=2)
    redis_server = shutil.which("redis-server") if "redis" in need else None
    if "redis" in need and not redis_server:
        raise StackError("redis-server not found; install Redis "
                         "(apt-get install redis-server)", code=2)
    return java, redis_server


def _start_kafka(server: Server, java: str, lib: Path) -> int:
    server.home.mkdir(parents=True, exist_ok=True)
    port = choose_port(_preferred("ARBITER_STACK_KAFKA_PORT", KAFKA_PORT))
    controller = choose_port(port + 1, avoid=frozenset({port}))
    config = stack_kafka.write_config(server.home, port, controller)
    stack_kafka.format_storage(java, lib, config)
    say(f"starting Apache Kafka {stack_kafka.KAFKA_VERSION} on {LOOPBACK}:{port}")
    return server.start(stack_kafka.command(java, lib, config), port)


def _start_redis(server: Server, redis_server: str) -> int:
    server.home.mkdir(parents=True, exist_ok=True)
    port = choose_port(_preferred("ARBITER_STACK_REDIS_PORT", REDIS_PORT))
    config = stack_redis.write_config(server.home, port)
    say(f"starting redis-server on {LOOPBACK}:{port}")
    return server.start([redis_server, str(config)], port)


def down(services: Iterable[str] = (*SERVICES, "redis-cluster"),
         purge: bool = False) -> list[str]:
    """Stops the named servers of this run dir that we started (`redis-cluster`: every node
    of the local Redis Cluster, or the nodes named `redis-nodeN`); returns those that ran."""
    run = run_dir()
    servers = _servers(run)
    wanted = list(services)
    with file_lock(run / ".lock"):
        stopped = [name for name in wanted if name in servers and servers[name].stop()]
        if "redis-cluster" in wanted or any(n.startswith("redis-node") for n in wanted):
            stopped += redis_cluster_nodes.stop(run, purge=purge)
        if purge:
            for server in servers.values():
                if server.running() is None:
                    shutil.rmtree(server.home, ignore_errors=True)
    return stopped


def status() -> StackStatus:
    run = run_dir()
    found = {}
    for name, server in _servers(run).items():
        pid, port = server.running(), server.port()
        answering = pid is not None and port is not None and server.probe(port)
        found[name] = Service(name, pid, port, answering)
    return StackStatus(kafka=found["kafka"], redis=found["redis"], run_dir=run,
                       redis_cluster=tuple(redis_cluster_nodes.node_lines(run)))
