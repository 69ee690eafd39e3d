"""Argument types for the command line: argparse reports a bad value as a usage error (exit 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole(minimum: int) -> Callable[[str], int]:
    """An int of at least `minimum`."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def positive(raw: str) -> float:
    """A float above 0."""
    value = fraction_or_number(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {raw}")
    return value


def share(raw: str) -> float:
    """A float between 0 and 1."""
    value = fraction_or_number(raw)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {raw}")
    return value


def fraction_or_number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
