"""Checks across files: every program's table is served by actions, every MoT can happen."""

from __future__ import annotations

from collections.abc import Mapping

from rules.load.reader import Loc, Problems
from rules.model import Action, EventType, MoT, Program
from rules.vocab import NBA, NBO, PRODUCT_LINES


def _where(doc: object, key: str, ident: str) -> int | None:
    """Position of the entry with this id in the file's top-level list."""
    entries = doc.get(key) if isinstance(doc, dict) else None
    for i, e in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(e, dict) and e.get("id") == ident:
            return i
    return None


def _table_loc(problems: Problems, doc: object, pid: str, line: str, mot: str) -> Loc:
    i = _where(doc, "programs", pid)
    at = Loc("programs.yaml", f"programs[{i}].mots.{line}", problems)
    listed = doc["programs"][i]["mots"][line] if i is not None else None  # type: ignore[index]
    return at / listed.index(mot) if isinstance(listed, list) and mot in listed else at


def check_coverage(problems: Problems, programs_doc: object, programs: Mapping[str, Program],
                   actions: Mapping[str, Action]) -> None:
    """Each (program, line, MoT) of a table has an action; NBO and NBA tables are served."""
    served: set[tuple[str, str, str]] = set()
    for a in actions.values():
        for line in a.eligibility.product_lines:
            served.update((a.program, line, mot) for mot in a.mots)
    by_any = {(line, mot) for _, line, mot in served}
    commercial = {(line, mot) for p in programs.values() if p.kind == "commercial"
                  for line in PRODUCT_LINES for mot in p.mots[line]}
    for p in programs.values():
        for line in PRODUCT_LINES:
            for mot in p.mots[line]:
                if p.kind != "umbrella" and (p.id, line, mot) not in served:
                    msg = f"no action of {p.id} answers {mot} on {line} (see actions.yaml)"
                elif p.id == NBO and (line, mot) not in commercial:
                    msg = f"no commercial program acts on {mot} on {line}"
                elif p.id == NBA and (line, mot) not in by_any:
                    msg = f"no action of any program answers {mot} on {line}"
                else:
                    continue
                _table_loc(problems, programs_doc, p.id, line, mot).err(msg)


def check_reachable(problems: Problems, mots_doc: object, mots: Mapping[str, MoT],
                    event_types: Mapping[str, EventType]) -> None:
    """Every MoT, on each of its product lines, is yielded by some event type."""
    yielded: set[str] = set()
    for et in event_types.values():
        for r in et.rules:
            if r.by_channel is not None:
                yielded.update(r.by_channel.values())
            elif r.mot is not None:
                yielded.add(r.mot)
    for mot in mots:
        if mot not in yielded:
            i = _where(mots_doc, "mots", mot)
            problems.add("mots.yaml", f"mots[{i}].id", f"no event type yields MoT {mot!r}")


def interaction_mots(event_types: Mapping[str, EventType]) -> frozenset[str]:
    """MoTs that are the customer's own conversation: those picked by the event's channel."""
    return frozenset(m for et in event_types.values() for r in et.rules
                     if r.by_channel is not None for m in r.by_channel.values())


def mot_attrs(event_types: Mapping[str, EventType]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for et in event_types.values():
        for r in et.rules:
            for mot in r.by_channel.values() if r.by_channel is not None else (r.mot,):
                out.setdefault(mot, {}).update(et.attrs)  # type: ignore[arg-type]
    return out
