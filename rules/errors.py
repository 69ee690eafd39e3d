"""The arbiter's error root, and the two errors the core raises.

`ArbiterError` is the root of every error the arbiter raises on purpose (settings, local stack,
bench, send, stale build, catalogue, invalid event). The command line turns one into a single
line on stderr and exits with its `exit_code`. It lives here, in the core that imports nothing
of the shell, so that both packages can stand under it.
"""

from __future__ import annotations


class ArbiterError(Exception):
    """An error the arbiter raises on purpose; `exit_code` is what `arbiter` exits with."""

    exit_code: int = 1

    def __init__(self, message: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class CatalogueError(ArbiterError, ValueError):
    """The catalogue has problems; all of them are listed, each with its file and path."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def headline(self) -> str:
        return f"the catalogue has {len(self.problems)} problem(s):\n{self}"


class InvalidEvent(ArbiterError, ValueError):
    """An event that breaks the contract's schema; the message names the field.

    Data, not a failure: the worker turns it into a dead letter and goes on.
    """
