"""The chaos run's table and JSON object."""

from __future__ import annotations

from collections.abc import Sequence

from streams.chaos.run import Outcome, Timings

COLUMNS = ("scenario", "sent", "decided", "twice same id", "twice diff ids", "lost",
           "count errors", "longest stall s", "recover s", "restarts", "ok")


def _row(o: Outcome) -> tuple[str, ...]:
    a = o.audit
    counts = "reset" if o.counts_reset else f"{a.count_errors}"
    recover = "-" if o.recover_s is None else f"{o.recover_s:.1f}"
    return (o.scenario, f"{a.sent:,}", f"{a.decided:,}", f"{a.repeated_same:,}",
            f"{a.repeated_different}", f"{a.lost}", counts, f"{o.longest_stall_s:.1f}",
            recover, f"{o.restarts}", "yes" if o.ok() else "NO")


def table(outcomes: Sequence[Outcome], t: Timings) -> str:
    """A fixed-width table, then a line per scenario with notes or a failed invariant."""
    rows = [COLUMNS, *(_row(o) for o in outcomes)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = [f"{t.events:,} events per scenario at {t.rate:,.0f}/s"]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    for o in outcomes:
        a = o.audit
        extra = [f"{k}={v}" for k, v in (("unexpected", a.unexpected),
                                          ("action_conflicts", a.action_conflicts),
                                          ("lag", a.lag), ("crashes", o.crashes)) if v]
        if extra or o.notes:
            lines.append(f"{o.scenario}: {'; '.join([*extra, *o.notes])}")
    return "\n".join(lines)


def payload(outcomes: Sequence[Outcome], t: Timings) -> dict[str, object]:
    return {"ok": all(o.ok() for o in outcomes), "events": t.events, "rate": t.rate,
            "fault_s": t.fault_s, "pause_s": t.pause_s, "full_s": t.full_s, "kills": t.kills,
            "joins": t.joins, "scenarios": [o.as_dict() for o in outcomes]}
