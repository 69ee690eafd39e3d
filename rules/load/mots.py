"""settings.yaml and mots.yaml: catalogue settings, MoTs and their economics."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from rules.economics import CURRENCY, Economics
from rules.load.reader import Loc, ident, integer, items, mapping, number, one_of, text, unique_list
from rules.model import MoT
from rules.vocab import NBO_RANKINGS, PRODUCT_LINES

FIGURES = ("value_positive", "p_positive", "value_negative", "p_negative")


@dataclass(frozen=True)
class Settings:
    bill_shock_ratio: float = 1.5
    history_max_entries: int = 64
    nbo_rank_by: str = "value"  # how NBO picks among commercial offers (NBO_RANKINGS)

    def factor(self, name: str) -> float | None:
        """A setting a condition may multiply by (`times: bill_shock_ratio`)."""
        return {"bill_shock_ratio": self.bill_shock_ratio}.get(name)


def parse_settings(loc: Loc, doc: object) -> Settings | None:
    top = mapping(loc, doc, required=("currency", "bill_shock_ratio", "history_max_entries"),
                  optional=("nbo",))
    if top is None:
        return None
    rank_by = "value"
    if "nbo" in top:
        nbo = mapping(loc / "nbo", top["nbo"], optional=("rank_by",))
        if nbo is not None and "rank_by" in nbo:
            rank_by = one_of(loc / "nbo" / "rank_by", nbo["rank_by"], NBO_RANKINGS) or rank_by
    one_of(loc / "currency", top.get("currency"), (CURRENCY,), "currency")
    ratio = number(loc / "bill_shock_ratio", top.get("bill_shock_ratio"), 1.0, 10.0, low_open=True)
    cap = integer(loc / "history_max_entries", top.get("history_max_entries"), 1, 10_000)
    if ratio is None or cap is None:
        return None
    return Settings(ratio, cap, rank_by)


def _line(loc: Loc, v: object) -> str | None:
    return one_of(loc, v, PRODUCT_LINES, "product line")


def parse_mots(loc: Loc, doc: object) -> dict[str, MoT]:
    top = mapping(loc, doc, required=("mots",))
    out: dict[str, MoT] = {}
    if top is None:
        return out
    for at, node in items(loc / "mots", top.get("mots")):
        m = mapping(at, node, required=("id", "name", "product_lines", "economics"),
                    optional=("positive_outcome",))  # read by rules.load.outcomes
        if m is None:
            continue
        mot_id = ident(at / "id", m.get("id"))
        name = text(at / "name", m.get("name"))
        lines = unique_list(at / "product_lines", m.get("product_lines"), _line)
        if not lines and isinstance(m.get("product_lines"), list):
            (at / "product_lines").err("must list at least one product line")
        econ = _economics(at / "economics", m.get("economics"), lines)
        # A MoT whose figures are wrong is kept (the problem is reported): programs and
        # events naming it must not all fail as "unknown MoT".
        if mot_id is None or name is None or not lines:
            continue
        if mot_id in out:
            (at / "id").err(f"duplicate MoT id {mot_id!r}")
            continue
        ordered = tuple(line for line in PRODUCT_LINES if line in lines)
        out[mot_id] = MoT(mot_id, name, ordered, MappingProxyType(econ or {}))
    return out


def _economics(loc: Loc, node: object, lines: list[str]) -> dict[str, Economics] | None:
    m = mapping(loc, node, optional=PRODUCT_LINES)
    if m is None:
        return None
    ok = True
    for line in lines:
        if line not in m:
            (loc / line).err("missing: every product line of the MoT needs its figures")
            ok = False
    out: dict[str, Economics] = {}
    for line, figures in m.items():
        at = loc / line
        if line in PRODUCT_LINES and line not in lines:
            at.err(f"{line} is not a product line of this MoT")
            ok = False
        f = mapping(at, figures, required=FIGURES)
        if f is None:
            ok = False
            continue
        values = [
            number(at / k, f.get(k), 0.0, 1.0 if k.startswith("p_") else None) if k in f else None
            for k in FIGURES
        ]
        if any(v is None for v in values):
            ok = False
            continue
        out[line] = Economics(*values)  # type: ignore[arg-type]
    return out if ok else None
