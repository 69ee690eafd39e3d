"""A local Redis Cluster for the stack: 3 masters and 3 replicas, `redis-server` processes with
`cluster-enabled yes` on loopback, joined with `redis-cli --cluster create`.

Each node lives in ``<run dir>/redis-cluster/nodeN`` (its config, `nodes.conf`, log and pid
file) and is started, recognised and stopped like the stack's other servers. The cluster is
ready when every node reports ``cluster_state:ok``. A short node timeout (2 s) makes a
replica take over a killed master within seconds, which the failover tests rely on.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from streams.stack import redis_server
from streams.stack.proc import LOOPBACK, StackError, port_free, redis_answers
from streams.stack.redis_server import port_of
from streams.stack.server import Server, say

NODES, REPLICAS = 6, 1
FIRST_PORT = 7000
BUS_OFFSET = 10_000  # Redis Cluster's bus listens on the node's port + 10000
NODE_TIMEOUT_MS = 2000
READY_S = 60.0


def servers(run: Path) -> list[Server]:
    out = []
    for i in range(NODES):
        home = run / "redis-cluster" / f"node{i}"
        out.append(Server(f"redis-node{i}", home, home / "redis.conf", "redis-server",
                          redis_answers, port_of, ready_s=15.0, stop_s=10.0,
                          logs=("redis.out", "redis.log")))
    return out


def write_config(home: Path, port: int) -> Path:
    return redis_server.write_config(home, port, (
        "cluster-enabled yes", "cluster-config-file nodes.conf",
        f"cluster-node-timeout {NODE_TIMEOUT_MS}"))


def free_port(start: int, taken: set[int]) -> int:
    """A free port whose cluster bus port is free too."""
    for port in range(start, 65536 - BUS_OFFSET):
        if port not in taken and port_free(port) and port_free(port + BUS_OFFSET):
            return port
    raise StackError(f"no free port pair from {start} on {LOOPBACK}")


def start(run: Path, redis_server: str) -> tuple[list[int], list[str]]:
    """Start what is not running, form the cluster if it is not formed; (ports, started)."""
    nodes = servers(run)
    ports: list[int] = []
    started: list[str] = []
    taken: set[int] = set()
    try:
        _start_nodes(nodes, redis_server, ports, started, taken)
        if not all(cluster_state(p) == "ok" for p in ports):
            if _known_nodes(ports[0]) < 2:
                _create(ports)
            _await_ok(ports)
    except BaseException:
        for node in nodes:
            if node.name in started:
                node.stop()
        raise
    return ports, started


def _start_nodes(nodes: list[Server], redis_server: str, ports: list[int], started: list[str],
                 taken: set[int]) -> None:
    for node in nodes:
        if node.reusable() is not None and (port := node.port()) is not None:
            ports.append(port)
            taken.add(port)
            continue
        node.home.mkdir(parents=True, exist_ok=True)
        port = node.port() or free_port(FIRST_PORT, taken)
        if not port_free(port):
            port = free_port(FIRST_PORT, taken)
            (node.home / "nodes.conf").unlink(missing_ok=True)  # its old identity is gone
        taken.add(port)
        config = write_config(node.home, port)
        say(f"starting {node.name} on {LOOPBACK}:{port}")
        node.start([redis_server, str(config)], port)
        ports.append(port)
        started.append(node.name)


def stop(run: Path, purge: bool = False) -> list[str]:
    stopped = [node.name for node in servers(run) if node.stop()]
    if purge:
        shutil.rmtree(run / "redis-cluster", ignore_errors=True)
    return stopped


def node_lines(run: Path) -> list[str]:
    """One line per node that runs, for `arbiter stack status` (none when no cluster runs)."""
    lines = []
    for node in servers(run):
        pid, port = node.running(), node.port()
        if pid is None or port is None:
            continue
        state = cluster_state(port) or "not answering"
        lines.append(f"{node.name:<11} pid {pid:<8} {LOOPBACK}:{port}  cluster_state:{state}")
    return lines


def seed_port(run: Path) -> int | None:
    """The port of a running node answering `cluster_state:ok`, for ARBITER_REDIS_URL."""
    for node in servers(run):
        port = node.port()
        if node.running() is not None and port is not None and cluster_state(port) == "ok":
            return port
    return None


def _cluster_info(port: int, timeout: float = 1.0) -> dict[str, str]:
    """CLUSTER INFO of the node as a dict; empty when it does not answer."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(b"*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n")
            data = b""
            while not data.endswith(b"\r\n\r\n") and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return {}
    out = {}
    for line in data.decode(errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def cluster_state(port: int) -> str:
    """The node's `cluster_state` (ok, fail), or '' when it does not answer."""
    return _cluster_info(port).get("cluster_state", "")


def _known_nodes(port: int) -> int:
    """How many nodes the node knows (1: a fresh node, the cluster not created yet)."""
    return int(_cluster_info(port).get("cluster_known_nodes", "0") or 0)


def _create(ports: list[int]) -> None:
    cli = shutil.which("redis-cli")
    if cli is None:
        raise StackError("redis-cli not found; install Redis's tools "
                         "(apt-get install redis-tools)", code=2)
    say(f"forming a Redis Cluster of {NODES} nodes ({NODES // (REPLICAS + 1)} masters)")
    cmd = [cli, "--cluster", "create", *(f"{LOOPBACK}:{p}" for p in ports),
           "--cluster-replicas", str(REPLICAS), "--cluster-yes"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise StackError(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")


def _await_ok(ports: list[int]) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if all(cluster_state(p) == "ok" for p in ports):
            return
        time.sleep(0.25)
    states = {p: cluster_state(p) for p in ports}
    raise StackError(f"the Redis Cluster is not ok within {READY_S:.0f} s: {states} "
                     "(`arbiter stack down --purge` then `up --redis-cluster` starts it afresh)")
