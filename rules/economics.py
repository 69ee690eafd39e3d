"""What a Moment of Truth is worth: the figures per MoT and product line, and the two formulas."""

from __future__ import annotations

from typing import NamedTuple

CURRENCY = "EUR"


class Economics(NamedTuple):
    """Averages for one MoT on one product line, in EUR."""

    value_positive: float  # incremental margin when the customer decides for us
    p_positive: float
    value_negative: float  # margin lost when the customer decides against us (e.g. churns)
    p_negative: float


def incremental_value(count: float, econ: Economics) -> float:
    """# of MoTs x value of a positive decision x its probability."""
    return count * econ.value_positive * econ.p_positive


def incremental_risk(count: float, econ: Economics) -> float:
    """# of MoTs x value of a negative decision x its probability."""
    return count * econ.value_negative * econ.p_negative
