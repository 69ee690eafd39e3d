"""`--report FILE.html`: the summary as one self-contained page, bars drawn as inline SVG.

No script, no font and no image from anywhere else: the page opens offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

_COLOURS = ("#2b6cb0", "#dd6b20")
_BAR_W, _ROW_H, _LABEL_W = 360, 16, 330  # labels up to "action -> action"


def _bars(title: str, sides: list[Mapping[str, float]], names: list[str], unit: str = "") -> str:
    keys = list(dict.fromkeys(k for side in sides for k in side))
    if not keys:
        return f"<h2>{escape(title)}</h2><p>none</p>"
    top = max((abs(v) for side in sides for v in side.values()), default=0) or 1
    group = _ROW_H * len(sides) + 6
    height = group * len(keys) + 4
    width = _LABEL_W + _BAR_W + 120
    out = [f'<h2>{escape(title)}</h2>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape(title)}">']
    for k_i, key in enumerate(keys):
        y0 = k_i * group + 2
        out.append(f'<text x="{_LABEL_W - 6}" y="{y0 + _ROW_H * len(sides) / 2 + 4:.0f}" '
                   f'text-anchor="end">{escape(key)}</text>')
        for s_i, side in enumerate(sides):
            v = side.get(key, 0)
            w = max(1.0, _BAR_W * abs(v) / top) if v else 0.0
            y = y0 + s_i * _ROW_H
            label = f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"
            out.append(f'<rect x="{_LABEL_W}" y="{y}" width="{w:.1f}" height="{_ROW_H - 3}" '
                       f'fill="{_COLOURS[s_i % 2]}"><title>{escape(names[s_i])}: {label}'
                       f'{unit}</title></rect>')
            out.append(f'<text x="{_LABEL_W + w + 4:.1f}" y="{y + _ROW_H - 5}">{label}</text>')
    out.append("</svg>")
    return "".join(out)


def _mot_side(r: dict, what: str) -> dict[str, float]:
    return {f"{m['mot']} ({m['product_line']})": m[what] for m in r["mots"][:15]}


def render(results: list[dict], names: list[str], text: str,
           changes: dict | None = None) -> str:
    legend = " ".join(
        f'<span style="color:{_COLOURS[i % 2]}">&#9632;</span> {escape(n)}: '
        f'{escape(str(r["catalogue"]["dir"]))} (version {escape(str(r["catalogue"]["version"]))})'
        for i, (n, r) in enumerate(zip(names, results, strict=True)))
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>arbiter simulate</title>",
        "<style>body{font:14px sans-serif;margin:24px;max-width:1100px}"
        "svg text{font:12px sans-serif}pre{background:#f6f6f6;padding:12px;overflow:auto}"
        "h2{margin-top:28px;font-size:16px}</style></head><body>",
        "<h1>arbiter simulate</h1>", f"<p>{legend}</p>",
    ]
    if changes is not None:
        parts.append(f"<p><b>{changes['events']:,}</b> events of <b>{changes['customers']:,}"
                     f"</b> customers decided differently; expected value "
                     f"{changes['expected_value_delta']:+,.2f} EUR.</p>")
        parts.append(_bars("Top changes (A -> B)", [
            {f"{t['from']} -> {t['to']}": t["count"] for t in changes["top"]}], ["changes"]))
    for title, key in (("Actions per program", "programs"), ("Actions per channel", "channels"),
                       ("Decisions per outcome", "outcomes"),
                       ("Candidates held back per policy", "held_back")):
        parts.append(_bars(title, [r[key] for r in results], names))
    parts.append(_bars("MoT value (EUR)", [_mot_side(r, "value") for r in results], names,
                       " EUR"))
    parts.append(_bars("MoT risk (EUR)", [_mot_side(r, "risk") for r in results], names,
                       " EUR"))
    parts.append(f"<h2>Tables</h2><pre>{escape(text)}</pre></body></html>")
    return "\n".join(parts)
