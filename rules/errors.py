"""The two errors the core raises: a catalogue that cannot be used, an event that is invalid."""

from __future__ import annotations


class CatalogueError(ValueError):
    """The catalogue has problems; all of them are listed, each with its file and path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class InvalidEvent(ValueError):
    """An event that breaks the contract's schema; the message names the field."""
