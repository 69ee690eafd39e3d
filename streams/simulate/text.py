"""A simulation's summary as tables for a person; two catalogues side by side with --against."""

from __future__ import annotations

from collections.abc import Mapping

_MOT_ROWS = 15


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:5.1f} %" if total else "    -"


def _counts(title: str, sides: list[Mapping[str, int]], names: list[str]) -> list[str]:
    keys = list(dict.fromkeys(k for side in sides for k in side))
    if not keys:
        return [f"{title}: none"]
    totals = [sum(side.values()) for side in sides]
    width = max(len(title), *(len(k) for k in keys))
    head = f"{title:<{width}}" + "".join(f" {n:>18}" for n in names)
    out = [head, "-" * len(head)]
    for k in keys:
        out.append(f"{k:<{width}}" + "".join(
            f" {side.get(k, 0):>10,} {_pct(side.get(k, 0), t)}" for side, t in zip(
                sides, totals, strict=True)))
    return out


def render(results: list[dict], names: list[str], changes: dict | None = None) -> str:
    lines: list[str] = []
    for name, r in zip(names, results, strict=True):
        ev, cat = r["events"], r["catalogue"]
        lines.append(f"{name}: catalogue {cat['dir']} (version {cat['version']}, NBO by "
                     f"{cat['nbo_rank_by']}): {ev['in']:,} events, {ev['decided']:,} decided, "
                     f"{ev['deadletter']:,} dead letters, {ev['duplicates']:,} duplicates; "
                     f"{ev['seconds']:.2f} s, {ev['per_s']:,.0f} events/s ({ev['per_cpu_s']:,.0f} "
                     f"per CPU second)")
    lines.append("")
    for title, key in (("dead letter", "deadletters"), ("outcome", "outcomes"),
                       ("program", "programs"), ("channel", "channels"),
                       ("held back by", "held_back")):
        lines += _counts(title, [r[key] for r in results], names)
        lines.append("")
    for name, r in zip(names, results, strict=True):
        c = r["contacts"]
        lines.append(f"{name}: contacts per customer over {c['customers']:,} customers "
                     f"({c['contacted']:,} contacted): max {c['max']}, p99 {c['p99']}; most in "
                     f"a day {c['max_per_day']}, in a week {c['max_per_week']}; expected value "
                     f"of the actions {r['expected_value']:,.2f} EUR")
    lines.append("")
    for name, r in zip(names, results, strict=True):
        lines.append(f"{name}: MoTs by value + risk (EUR, counts over the whole replay)")
        lines.append(f"  {'mot':<26} {'line':<9} {'count':>9} {'value':>12} {'risk':>12}")
        for m in r["mots"][:_MOT_ROWS]:
            lines.append(f"  {m['mot']:<26} {m['product_line']:<9} {m['count']:>9,} "
                         f"{m['value']:>12,.2f} {m['risk']:>12,.2f}")
        if len(r["mots"]) > _MOT_ROWS:
            lines.append(f"  ... {len(r['mots']) - _MOT_ROWS} more (--json has them all)")
        lines.append("")
    if changes is not None:
        lines.append(f"changed: {changes['events']:,} events of {changes['customers']:,} "
                     f"customers decided differently by B; expected value "
                     f"{changes['expected_value_delta']:+,.2f} EUR")
        for t in changes["top"]:
            lines.append(f"  {t['count']:>8,}  {t['from']} -> {t['to']}")
    return "\n".join(lines).rstrip() + "\n"
