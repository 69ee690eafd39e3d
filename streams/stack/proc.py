"""Process, port and wire helpers for the local stack: pid files, ownership checks, probes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from rules.errors import ArbiterError

LOOPBACK = "127.0.0.1"


class StackError(ArbiterError):
    """The local stack cannot do what was asked; `exit_code` is the command's exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message, code)


# ---- ports -------------------------------------------------------------------------------

def port_free(port: int) -> bool:
    """True when nothing listens on loopback:port (a bind is the only reliable test)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The servers set SO_REUSEADDR too, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def choose_port(preferred: int, avoid: frozenset[int] = frozenset(), tries: int = 100) -> int:
    """The preferred port, or the next free one above it."""
    for port in range(preferred, min(preferred + tries, 65536)):
        if port not in avoid and port_free(port):
            return port
    raise StackError(f"no free port in {preferred}..{preferred + tries - 1} on {LOOPBACK}")


# ---- processes ---------------------------------------------------------------------------

def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def cmdline(pid: int) -> str:
    """The process's command line, '' when it is gone (redis rewrites it as its title)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def alive(pid: int) -> bool:
    """True for a running process; a zombie child of ours is reaped and counts as gone."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def owned_pid(pid_file: Path, markers: tuple[str, ...]) -> int | None:
    """The pid in pid_file if that process is alive and its command line holds every marker."""
    pid = read_pid(pid_file)
    if pid is None or not alive(pid):
        return None
    line = cmdline(pid)
    return pid if all(m in line for m in markers) else None


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM, then SIGKILL when the process outlives the timeout."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while alive(pid) and time.monotonic() < deadline + 5:
        time.sleep(0.05)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Serialises `up`/`down` between processes sharing a run or cache dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tail(path: Path, lines: int = 30) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


# ---- probes ------------------------------------------------------------------------------

def redis_answers(port: int, timeout: float = 1.0) -> bool:
    """A PING over RESP; the stack must not depend on an event loop to check readiness."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def kafka_answers(port: int, timeout: float = 2.0) -> bool:
    """A Metadata v4 request (all topics); ready once the broker lists itself in the answer."""
    client = b"arbiter-stack"
    header = struct.pack(">hhih", 3, 4, 1, len(client)) + client
    body = struct.pack(">i?", -1, False)  # null topic list = all topics; no auto-create
    request = header + body
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            size = struct.unpack(">i", _recv_exact(sock, 4))[0]
            data = _recv_exact(sock, size)
        # correlation id, throttle_time_ms, then the broker array: [node_id, host, port, rack]
        correlation, _throttle, brokers = struct.unpack_from(">iii", data, 0)
    except (OSError, struct.error):
        return False
    return bool(correlation == 1 and brokers > 0)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise OSError("connection closed")
        chunks += chunk
    return bytes(chunks)
