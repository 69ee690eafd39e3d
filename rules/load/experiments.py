"""experiments.yaml (optional): at most one running experiment of the catalogue."""

from __future__ import annotations

import re

from rules.experiments import Experiment
from rules.load.reader import Loc, ident, items, mapping, number, text

VERSION = re.compile(r"^[0-9a-f]{12}$")  # a rules_version: see rules.load.files


def parse_experiments(loc: Loc, doc: object) -> Experiment | None:
    """The running experiment, or None (none listed, or problems, which are reported).

    One at a time: a customer must be in exactly one arm, and two experiments would each
    claim a share of the same customers.
    """
    top = mapping(loc, doc, required=("experiments",))
    if top is None:
        return None
    entries = items(loc / "experiments", top.get("experiments"))
    if len(entries) > 1:
        (loc / "experiments").err(f"{len(entries)} experiments: run one at a time (a customer "
                                  "is in exactly one arm)")
    found: Experiment | None = None
    for at, node in entries[:1]:
        m = mapping(at, node, required=("name", "challenger", "challenger_share",
                                         "control_share"), optional=("description",))
        if m is None:
            continue
        name = ident(at / "name", m.get("name"))
        challenger = m.get("challenger")
        if not isinstance(challenger, str) or not VERSION.match(challenger):
            (at / "challenger").err(f"{challenger!r} is not a rules_version (12 hex digits, as "
                                    "`arbiter rules history` lists them)")
            challenger = None
        share = number(at / "challenger_share", m.get("challenger_share"), 0.0, 1.0)
        control = number(at / "control_share", m.get("control_share"), 0.0, 1.0)
        description = text(at / "description", m["description"]) if "description" in m else ""
        if share is not None and control is not None and share + control > 1.0:
            (at / "control_share").err(f"challenger_share {share:g} plus control_share "
                                       f"{control:g} is over 1")
            continue
        if None in (name, challenger, share, control, description):
            continue
        found = Experiment(name, challenger, share, control, description)  # type: ignore[arg-type]
    return found
