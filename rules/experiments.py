"""Champion, challenger and control: which arm decides for a customer, and what it measured.

An experiment names a challenger catalogue (a published `rules_version`) and the shares of
customers it decides for and that are held out as control; everyone else stays with the
champion (the running catalogue). The arm is a pure function of the experiment's name and the
customer id, so a customer keeps one arm for the experiment's life on every worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from hashlib import blake2b
from typing import Final

# Final: compiled modules read them as constants, not from this module's namespace.
CHAMPION: Final = "champion"
CHALLENGER: Final = "challenger"
CONTROL: Final = "control"
ARMS = (CHAMPION, CHALLENGER, CONTROL)
_SCALE = float(1 << 64)


@dataclass(frozen=True, slots=True)
class Experiment:
    """`challenger`: the rules_version deciding for `challenger_share` of customers;
    `control_share` of them get no action (decided and recorded, nothing sent)."""

    name: str
    challenger: str
    challenger_share: float
    control_share: float
    description: str = ""

    def arm(self, customer_id: str) -> str:
        """The customer's arm: a 64-bit BLAKE2b of name and id, as a point in [0, 1).

        Control takes [0, control_share), challenger the next challenger_share, champion the
        rest. BLAKE2b is in the standard library, stable across processes and versions (unlike
        `hash()`), and costs well under a microsecond.
        """
        h = blake2b(f"{self.name}\0{customer_id}".encode(), digest_size=8).digest()
        point = int.from_bytes(h, "big") / _SCALE
        if point < self.control_share:
            return CONTROL
        if point < self.control_share + self.challenger_share:
            return CHALLENGER
        return CHAMPION


@dataclass(frozen=True, slots=True)
class Rate:
    """`hits` of `n`, its proportion (0 when n is 0)."""

    hits: int
    n: int

    @property
    def p(self) -> float:
        return self.hits / self.n if self.n else 0.0


Z95 = 1.959964  # the standard normal's 97.5th percentile


def uplift(arm: Rate, control: Rate, z: float = Z95) -> tuple[float, float, float] | None:
    """Difference of two proportions, arm minus control, with its normal-approximation
    (Wald) confidence interval: d +- z * sqrt(p1 (1 - p1) / n1 + p0 (1 - p0) / n0).

    Returns (d, low, high) as proportions; None when either side has no trials. z = 1.96
    gives the 95 % interval (any introductory statistics text, e.g. Agresti, Categorical
    Data Analysis, section 3.1.2).
    """
    if arm.n == 0 or control.n == 0:
        return None
    d = arm.p - control.p
    se = math.sqrt(arm.p * (1 - arm.p) / arm.n + control.p * (1 - control.p) / control.n)
    return d, d - z * se, d + z * se


def proportion_ci(rate: Rate, z: float = Z95) -> tuple[float, float] | None:
    """Normal-approximation interval of one proportion: p +- z * sqrt(p (1 - p) / n)."""
    if rate.n == 0:
        return None
    half = z * math.sqrt(rate.p * (1 - rate.p) / rate.n)
    return rate.p - half, rate.p + half
