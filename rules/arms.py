"""The catalogues a worker decides with at one time: the champion and, while its experiment
runs, the challenger. One immutable object, swapped whole between two batches."""

from __future__ import annotations

from rules.catalogue import Catalogue
from rules.experiments import CHALLENGER, CHAMPION, CONTROL


class ActiveRules:
    """`champion` decides for champion and control customers; `challenger` (the version its
    experiment names) for challenger customers. Control decisions are made by the champion
    and keep their would-be action, but nothing is sent."""

    __slots__ = ("challenger", "champion", "experiment")

    def __init__(self, champion: Catalogue, challenger: Catalogue | None = None) -> None:
        exp = champion.experiment
        if exp is not None and (challenger is None or challenger.version != exp.challenger):
            raise ValueError(f"experiment {exp.name} needs catalogue {exp.challenger}")
        self.champion = champion
        self.challenger = challenger if exp is not None else None
        self.experiment = exp

    def catalogue(self, arm: str) -> Catalogue:
        if arm == CHALLENGER and self.challenger is not None:
            return self.challenger
        return self.champion

    @property
    def versions(self) -> dict[str, str]:
        """Arm -> the rules_version its decisions carry."""
        out = {CHAMPION: self.champion.version}
        if self.experiment is not None and self.challenger is not None:
            out[CHALLENGER] = self.challenger.version
            out[CONTROL] = self.champion.version
        return out
