"""One server of the local stack: where it lives in the run dir, how it starts, stops and
is recognised as ours."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streams.stack.proc import StackError, alive, owned_pid, tail, terminate

# Kept so our own children are reaped by this process instead of lingering as zombies.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def say(message: str) -> None:
    print(f"arbiter stack: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    home: Path
    config: Path
    marker: str  # a word of the process's command line besides the config path
    probe: Callable[[int], bool]
    port_of: Callable[[Path], int | None]
    ready_s: float
    stop_s: float
    logs: tuple[str, ...]  # the first one takes the process's stdout and stderr

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    def port(self) -> int | None:
        return self.port_of(self.config)

    def running(self) -> int | None:
        """Our pid: alive, and its command line names this run dir's config file."""
        return owned_pid(self.pid_file, (self.marker, str(self.config)))

    def reusable(self) -> int | None:
        """Our running server's pid when it answers; a hung or stale one is cleared away."""
        pid, port = self.running(), self.port()
        if pid is not None and port is not None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and alive(pid):
                if self.probe(port):
                    say(f"{self.name} already up (pid {pid}, port {port})")
                    return pid
                time.sleep(0.25)
            say(f"{self.name} (pid {pid}) does not answer; restarting it")
            terminate(pid, self.stop_s)
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, cmd: list[str], port: int) -> int:
        """Starts the server in its own session (it outlives this command) and waits for it."""
        with (self.home / self.logs[0]).open("ab") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=self.home,
                                    start_new_session=True)
        _CHILDREN[proc.pid] = proc
        self.pid_file.write_text(f"{proc.pid}\n")
        self._await_ready(proc.pid, port)
        return proc.pid

    def _await_ready(self, pid: int, port: int) -> None:
        deadline = time.monotonic() + self.ready_s
        while time.monotonic() < deadline:
            if not alive(pid):
                raise self._failure(f"{self.name} exited while starting")
            if self.probe(port):
                return
            time.sleep(0.25)
        raise self._failure(f"{self.name} did not answer on port {port} "
                            f"within {self.ready_s:.0f} s")

    def _failure(self, message: str) -> StackError:
        for log in self.logs:
            lines = tail(self.home / log)
            if lines:
                print(f"--- last {len(lines)} lines of {self.home / log}", file=sys.stderr)
                print("\n".join(lines), file=sys.stderr)
        return StackError(message)

    def stop(self) -> bool:
        """Stops our process, if it runs, and removes the pid file; True when it ran."""
        pid = self.running()
        if pid is not None:
            say(f"stopping {self.name} (pid {pid})")
            terminate(pid, self.stop_s)
            _CHILDREN.pop(pid, None)
        self.pid_file.unlink(missing_ok=True)
        return pid is not None
