"""policies.yaml: contact policies, each a cap per window or a quiet period after a risk."""

from __future__ import annotations

from collections.abc import Collection

from rules.load.reader import (
    Loc,
    duration,
    ident,
    integer,
    items,
    mapping,
    one_of,
    text,
    unique_list,
)
from rules.model import Policy, Program
from rules.vocab import CHANNELS

KINDS = ("cap", "quiet")
SCOPES = ("any", "commercial", "program", "channel")
INBOUND = ("exempt", "apply")


def parse_policies(loc: Loc, doc: object, programs: dict[str, Program] | None,
                   mots: Collection[str] | None) -> dict[str, Policy]:
    top = mapping(loc, doc, required=("policies",))
    out: dict[str, Policy] = {}
    if top is None:
        return out
    for at, node in items(loc / "policies", top.get("policies")):
        m = mapping(at, node, required=("id", "kind", "scope", "window", "inbound", "description"),
                    optional=("limit", "channels", "programs", "except_programs", "after"))
        if m is None:
            continue
        pid = ident(at / "id", m.get("id"))
        kind = one_of(at / "kind", m.get("kind"), KINDS, "kind")
        scope = one_of(at / "scope", m.get("scope"), SCOPES, "scope")
        window = duration(at / "window", m.get("window"))
        inbound = one_of(at / "inbound", m.get("inbound"), INBOUND, "inbound")
        description = text(at / "description", m.get("description"))
        limit: int | None = 1
        if kind == "cap":
            limit = integer(at / "limit", m["limit"], 1, 1000) if "limit" in m else None
            if "limit" not in m:
                (at / "limit").err("missing: a cap needs its limit")
        elif "limit" in m:
            (at / "limit").err("only a cap has a limit")
        after = _after(at, m, kind, mots)
        channels = unique_list(at / "channels", m.get("channels", []), _channel)
        if (scope == "channel") != bool(channels):
            (at / "channels").err("a channel scope needs its channels; other scopes take none")
            scope = None
        names = {k: _programs(at / k, m.get(k, []), programs)
                 for k in ("programs", "except_programs")}
        if None in (pid, kind, scope, window, inbound, description, limit, after, *names.values()):
            continue
        if pid in out:
            (at / "id").err(f"duplicate policy id {pid!r}")
            continue
        out[pid] = Policy(pid, kind, scope, limit, window[0], window[1],  # type: ignore
                          frozenset(channels), names["programs"],  # type: ignore[arg-type]
                          names["except_programs"], after, inbound == "exempt",  # type: ignore
                          description)  # type: ignore[arg-type]
    return out


def _channel(loc: Loc, v: object) -> str | None:
    return one_of(loc, v, CHANNELS, "channel")


def _after(at: Loc, m: dict[str, object], kind: str | None,
           mots: Collection[str] | None) -> tuple[str, ...] | None:
    if kind != "quiet":
        if "after" in m:
            (at / "after").err("only a quiet period follows risk moments")
            return None
        return ()
    if "after" not in m:
        (at / "after").err("missing: a quiet period needs the MoTs that start it")
        return None
    got = unique_list(at / "after", m["after"])
    ok = bool(got)
    for mot in got:
        if mots is not None and mot not in mots:
            (at / "after" / m["after"].index(mot)).err(f"unknown MoT {mot!r}")  # type: ignore
            ok = False
    return tuple(got) if ok else None


def _programs(loc: Loc, node: object, programs: dict[str, Program] | None) -> frozenset[str] | None:
    got = unique_list(loc, node)
    ok = True
    for i, pid in enumerate(got):
        if programs is not None and pid not in programs:
            (loc / i).err(f"unknown program {pid!r}")
            ok = False
    return frozenset(got) if ok else None
