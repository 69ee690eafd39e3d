"""programs.yaml: the CVM programs, their kind, priority and MoTs per product line."""

from __future__ import annotations

from types import MappingProxyType

from rules.load.reader import Loc, ident, integer, items, mapping, one_of, text
from rules.model import MoT, Program
from rules.vocab import NBA, NBO, PRODUCT_LINES, PROGRAM_KINDS

ALL = "all"  # in a program's MoT table: every MoT of that product line (NBA's table)


def parse_programs(loc: Loc, doc: object, mots: dict[str, MoT] | None) -> dict[str, Program]:
    top = mapping(loc, doc, required=("programs",))
    out: dict[str, Program] = {}
    if top is None:
        return out
    for at, node in items(loc / "programs", top.get("programs")):
        m = mapping(at, node, required=("id", "name", "purpose", "kind", "priority", "mots"))
        if m is None:
            continue
        pid = ident(at / "id", m.get("id"))
        name = text(at / "name", m.get("name"))
        purpose = text(at / "purpose", m.get("purpose"))
        kind = one_of(at / "kind", m.get("kind"), PROGRAM_KINDS, "kind")
        priority = integer(at / "priority", m.get("priority"), 0, 1000)
        table = _table(at / "mots", m.get("mots"), mots)
        if pid is not None and kind is not None and (kind == "umbrella") != (pid in (NBO, NBA)):
            (at / "kind").err(f"{pid} must be an umbrella program" if pid in (NBO, NBA)
                              else f"only {NBO} and {NBA} are umbrella programs")
            kind = None
        if pid is None or kind is None or table is None:
            continue
        if name is None or purpose is None or priority is None:
            # Reported above, and the catalogue will not load. The program stays, with
            # stand-ins, so its actions and policies are checked against it instead of each
            # failing again as "unknown program".
            name, purpose, priority = name or pid, purpose or "", priority or 0
        if pid in out:
            (at / "id").err(f"duplicate program id {pid!r}")
            continue
        out[pid] = Program(pid, name, purpose, kind, priority, table)
    for pid in (NBO, NBA):
        if top.get("programs") and isinstance(top["programs"], list) and not any(
                isinstance(n, dict) and n.get("id") == pid for n in top["programs"]):
            (loc / "programs").err(f"the umbrella program {pid!r} is missing")
    return out


def _table(loc: Loc, node: object, mots: dict[str, MoT] | None):  # type: ignore[no-untyped-def]
    m = mapping(loc, node, optional=PRODUCT_LINES)
    if m is None:
        return None
    # Bad entries are reported and left out; the program stays, so that its actions are
    # still checked against it instead of all failing as "unknown program".
    table: dict[str, tuple[str, ...]] = {}
    for line in PRODUCT_LINES:
        if line not in m:
            table[line] = ()
            continue
        at = loc / line
        if m[line] == ALL:
            table[line] = tuple(k for k, v in (mots or {}).items() if line in v.product_lines)
            continue
        got: list[str] = []
        for iat, v in items(at, m[line]):
            mot = ident(iat, v)
            if mot is None:
                continue
            if mots is not None and mot not in mots:
                iat.err(f"unknown MoT {mot!r}")
            elif mots is not None and line not in mots[mot].product_lines:
                iat.err(f"MoT {mot!r} does not exist on {line} "
                        f"(only {', '.join(mots[mot].product_lines)})")
            elif mot in got:
                iat.err(f"MoT {mot!r} is listed twice")
            else:
                got.append(mot)
        table[line] = tuple(got)
    return MappingProxyType(table)
