"""`arbiter worker` as a child process: what the demo, the bench and the tests all start.

The child gets the settings through its environment (`Settings.to_env`), runs in a session of
its own (so a kill reaches its whole process group) and writes its log to a file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from streams.settings import Settings

# Exactly what `arbiter worker` runs: the Faust app streams.app.
ARBITER = ["-m", "streams.cli", "worker", "-l", "warning"]
STOP_TIMEOUT_S = 30.0


class WorkerProcess:
    """One worker process. `argv` is what follows the Python interpreter (default: ARBITER)."""

    def __init__(self, settings: Settings, log_path: Path, argv: list[str] | None = None) -> None:
        self.settings = settings
        self.log_path = log_path
        self.argv = list(ARBITER if argv is None else argv)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings.to_env()}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, *self.argv], env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the worker was not started")
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        """Send `sig` to the worker (not its group): SIGTERM or SIGINT drain, SIGKILL does not."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL to the whole group after `timeout` seconds. The exit status
        (negative: the signal that ended it), or None if it was never started."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode
