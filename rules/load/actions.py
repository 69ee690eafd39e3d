"""actions.yaml: what each program can do at each MoT, in which channel, and for whom."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rules.load.conditions import parse_conditions
from rules.load.reader import Loc, ident, items, mapping, number, one_of, text, unique_list
from rules.model import Action, Eligibility, Program
from rules.vocab import CHANNELS, EVENT_CHANNEL, PRODUCT_LINES

_ELIGIBILITY = ("product_lines", "segments", "exclude_segments", "when")


def parse_actions(loc: Loc, doc: object, programs: dict[str, Program] | None,
                  tables_ok: bool, mot_attrs: Mapping[str, Mapping[str, object]] | None,
                  interaction_mots: frozenset[str] | None, known_mots: frozenset[str] | None,
                  factor: Callable[[str], float | None]) -> dict[str, Action]:
    """`mot_attrs`: MoT -> attrs the event types yielding it carry (what conditions may test).
    `mot_attrs` and `interaction_mots` are None when events.yaml has problems, `tables_ok` is
    False when programs.yaml has: the checks that need them are then skipped rather than
    echo those problems."""
    top = mapping(loc, doc, required=("actions",))
    out: dict[str, Action] = {}
    if top is None:
        return out
    for at, node in items(loc / "actions", top.get("actions")):
        m = mapping(at, node, required=("id", "program", "mots", "channel", "description",
                                         "weight"), optional=("commercial", "eligibility"))
        if m is None:
            continue
        aid = ident(at / "id", m.get("id"))
        program = _program(at / "program", m.get("program"), programs)
        mots = unique_list(at / "mots", m.get("mots"))
        mot_at = {mot: at / "mots" / m["mots"].index(mot) for mot in mots}  # type: ignore
        for mot in mots:
            if known_mots is not None and mot not in known_mots:
                mot_at[mot].err(f"unknown MoT {mot!r}")
                program = None  # nothing more to check against
        channel = one_of(at / "channel", m.get("channel"), (*CHANNELS, EVENT_CHANNEL), "channel")
        description = text(at / "description", m.get("description"))
        weight = number(at / "weight", m.get("weight"), 0.0, 10.0, low_open=True)
        commercial = m.get("commercial", None if program is None else program.kind == "commercial")
        if not isinstance(commercial, bool | None):
            (at / "commercial").err("must be true or false")
            commercial = None
        attrs: dict[str, object] | None = None
        if mot_attrs is not None:
            attrs = {}
            for mot in mots:
                attrs.update(mot_attrs.get(mot, {}))
        elig = _eligibility(at / "eligibility", m.get("eligibility", {}), attrs, factor)
        if elig is not None and program is not None and tables_ok and not _acts(
                mot_at, program, elig):
            elig = None
        if channel == EVENT_CHANNEL and interaction_mots is not None:
            for mot in mots:
                if mot not in interaction_mots and (known_mots is None or mot in known_mots):
                    mot_at[mot].err(f"{mot!r} is no customer-initiated interaction, so "
                                    f"channel '{EVENT_CHANNEL}' cannot answer it")
                    channel = None
        if None in (aid, program, channel, description, weight, commercial, elig) or not mots:
            if not mots and isinstance(m.get("mots"), list):
                (at / "mots").err("must list at least one MoT")
            continue
        if aid in out:
            (at / "id").err(f"duplicate action id {aid!r}")
            continue
        out[aid] = Action(aid, program.id, tuple(mots), channel, description,  # type: ignore
                          weight, commercial, elig)  # type: ignore[arg-type]
    return out


def _program(loc: Loc, node: object, programs: dict[str, Program] | None) -> Program | None:
    pid = ident(loc, node)
    if pid is None or programs is None:
        return None
    p = programs.get(pid)
    if p is None:
        loc.err(f"unknown program {pid!r}")
    elif p.kind == "umbrella":
        loc.err(f"{pid} is an umbrella: it ranks other programs' actions and has none of its own")
        return None
    return p


def _line(loc: Loc, v: object) -> str | None:
    return one_of(loc, v, PRODUCT_LINES, "product line")


def _eligibility(loc: Loc, node: object, attrs: dict[str, object] | None,
                 factor: Callable[[str], float | None]) -> Eligibility | None:
    m = mapping(loc, node, optional=_ELIGIBILITY)
    if m is None:
        return None
    lines = unique_list(loc / "product_lines", m["product_lines"], _line) if (
        "product_lines" in m) else list(PRODUCT_LINES)
    segments = unique_list(loc / "segments", m.get("segments", []))
    exclude = unique_list(loc / "exclude_segments", m.get("exclude_segments", []))
    for s in set(segments) & set(exclude):
        (loc / "exclude_segments").err(f"segment {s!r} is both required and excluded")
    when = parse_conditions(loc / "when", m.get("when", []), attrs, factor)
    if when is None or not lines or set(segments) & set(exclude):
        return None
    ordered = tuple(x for x in PRODUCT_LINES if x in lines)
    return Eligibility(ordered, frozenset(segments), frozenset(exclude), when)


def _acts(mot_at: dict[str, Loc], program: Program, elig: Eligibility) -> bool:
    """Every MoT of the action must be one its program acts on, on one of its product lines."""
    ok = True
    for mot, loc in mot_at.items():
        if not any(mot in program.mots[line] for line in elig.product_lines):
            loc.err(f"program {program.id} does not act on MoT {mot!r} on "
                                   f"{', '.join(elig.product_lines)}")
            ok = False
    return ok
