"""A redis-server of a run's own, to stop, freeze, restart and fill under a worker, so the
shared stack's Redis is never harmed."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from rules.errors import ArbiterError


class ChaosError(ArbiterError):
    """A fault-injection run that cannot start or cannot put things back (the message says)."""

    exit_code = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as c:
            c.sendall(b"PING\r\n")
            return c.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class PrivateRedis:
    """One redis-server on a free loopback port, its data (dump.rdb) in `workdir`.

    Nothing is saved on its own (`--save ""`); `stop(keep_data=True)` saves on the way out, so
    `start()` on the same port comes back with the same keys.
    """

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = free_port(), workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, ready_s: float = 10.0) -> PrivateRedis:
        exe = shutil.which("redis-server")
        if exe is None:
            raise ChaosError("redis-server not found; install Redis (apt-get install redis-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + ready_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if _answers(self.port):
                return self
            time.sleep(0.05)
        raise ChaosError(f"a private redis-server on port {self.port} did not start")

    def freeze(self) -> None:
        """SIGSTOP: connections stay open, nothing answers (a hung Redis); data kept."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self, keep_data: bool) -> None:
        """SHUTDOWN SAVE (the keys come back at the next start) or NOSAVE (and no dump left)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as c:
            c.sendall(b"SHUTDOWN SAVE\r\n" if keep_data else b"SHUTDOWN NOSAVE\r\n")
            with contextlib.suppress(OSError):
                c.recv(64)  # the connection closes when the server exits
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        if not keep_data:
            (self.workdir / "dump.rdb").unlink(missing_ok=True)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
