"""Small inline SVG plots for the run report: a log-scale chart (``charts.chart``), a histogram,
a network sketch.

Every function returns ``Markup`` built by hand, so every piece of text that reaches the SVG
goes through ``escape`` here: names come from users. No ``xmlns`` is written, because inline
SVG in HTML5 does not need one and the report must hold no URL at all.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from deltacheck.reports import charts
from deltacheck.reports.charts import BAD, GRID, INK, MUTED, NEAR, OK, PALETTE  # noqa: F401

CHAR_W = 5.2  # rough width of one character of 9px text, to keep labels inside the plot


def colour(i: int) -> str:
    """The colour of the i-th oracle, the same in every plot."""
    return PALETTE[i % len(PALETTE)]


_svg = charts.svg


def _text(x: float, y: float, s: str, *, anchor: str = "middle", size: int = 10,
          fill: str = INK, extra: str = "", tip: str = "") -> str:
    return charts.text(x, y, s, anchor=anchor, size=size, fill=fill, extra=extra, tip=tip)


def decade(k: int) -> str:
    """10**k as short axis text."""
    return f"1e{k}"


@dataclass(frozen=True)
class Series:
    """One line of a chart: (x, y) points, y an error that may be 0, inf or nan."""

    label: str
    colour: str
    points: Sequence[tuple[int, float]]
    dashed: bool = False
    hollow: bool = False


def log_range(values: Sequence[float], floor: int | None = None) -> tuple[int, int, bool]:
    """Decades (lo, hi) that hold the positive finite values, lo raised to ``floor``, and
    whether any value lies below ``floor`` (then it is drawn on the floor)."""
    logs = [math.log10(v) for v in values if math.isfinite(v) and v > 0]
    if not logs:
        return -16, 0, False
    lo, hi = math.floor(min(logs)), math.ceil(max(logs))
    clipped = floor is not None and lo < floor
    lo = max(lo, floor) if floor is not None else lo
    return lo, max(hi, lo + 1), clipped


def log_chart(series: Sequence[Series], hlines: Sequence[tuple[float, str, str]], *,
              x_max: int, x_label: str, title: str, floor: int | None = None) -> Markup:
    """Dots and lines over whole-number x with a log10 y axis (``charts.chart``): 0 sits on a
    band below it, inf/nan above, and errors below 10**floor on the floor (far below every
    tolerance, their exact size would only squash the decades that matter)."""
    lines = [charts.Line(s.label, s.colour, sorted(s.points), dash="2 3" if s.dashed else "",
                         dots=True, hollow=s.hollow) for s in series]
    return charts.chart(lines, title=title, x_label=x_label, log_y=True, hlines=hlines,
                        size=(330.0, 240.0), floor=floor, whole_x=True,
                        x_range=(0, max(x_max, 1)), labels_beside=True)


def histogram(counts: Sequence[int], labels: Sequence[str], fills: Sequence[str], *,
              tol_at: float | None, tol_label: str, title: str) -> Markup:
    """Bars over bins; ``tol_at`` is the tolerance's position in bin units (0 = left edge)."""
    w, h, left, right, top, bottom = 330.0, 190.0, 34.0, 10.0, 30.0, 34.0
    n = max(len(counts), 1)
    bw = (w - left - right) / n
    peak = max(max(counts, default=0), 1)
    base = h - bottom
    body = [_text(left, 12, title, anchor="start", size=12, extra=' font-weight="600"'),
            f'<line x1="{left}" x2="{w - right}" y1="{base}" y2="{base}" stroke="{MUTED}"/>',
            _text(left - 4, base + 3, "0", anchor="end", size=9),
            _text(left - 4, top + 3, str(peak), anchor="end", size=9)]
    every = max(1, math.ceil(n / 9))
    for i, (c, lab, fill) in enumerate(zip(counts, labels, fills, strict=True)):
        x = left + i * bw
        bh = c / peak * (base - top)
        if c:
            body.append(f'<rect x="{x + 1:.1f}" y="{base - bh:.1f}" width="{bw - 2:.1f}" '
                        f'height="{bh:.1f}" fill="{fill}"><title>{escape(f"{lab}: {c}")}'
                        f'</title></rect>')
            if len(str(c)) * 4.8 <= bw:  # a count wider than its bar would overprint its neighbours
                body.append(_text(x + bw / 2, base - bh - 3, str(c), size=8))
        # the last bin (∞ or the top decade) is always named, so its left neighbour may not be
        if i == n - 1 or (i % every == 0 and n - 1 - i >= min(2, every)):
            body.append(_text(x + bw / 2, base + 12, lab, size=9))
    if tol_at is not None:
        x = left + tol_at * bw
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 8}" y2="{base}" stroke="{BAD}" '
                    f'stroke-width="1.5" stroke-dasharray="6 4"/>')
        fits = x + 3 + CHAR_W * len(tol_label) <= w  # else it would run off the plot's edge
        body.append(_text(x + 3 if fits else x - 3, top - 10, tol_label,
                          anchor="start" if fits else "end", size=9, fill=BAD))
    body.append(_text(left + (w - left - right) / 2, h - 4, "judged error (log10 bins)", size=10))
    return _svg(w, h, body, title)


def network(widths: Sequence[int], names: Sequence[str]) -> Markup:
    """Layers as columns of units (at most six drawn), each named by its activation."""
    shown, step, gap, pad, top = 6, 19.0, 86.0, 40.0, 12.0
    rows = max((min(int(n), shown) for n in widths), default=1)
    more = any(int(n) > shown for n in widths)
    bottom = top + rows * step  # the units end here; the ellipsis and labels go below
    h = bottom + (12 if more else 0) + 34
    w = pad * 2 + gap * max(len(widths) - 1, 1)

    def ys(n: int) -> list[float]:
        k = min(n, shown)
        mid = (top + bottom) / 2
        return [mid + (i - (k - 1) / 2) * step for i in range(k)]

    cols = [(pad + i * gap, ys(int(n))) for i, n in enumerate(widths)]
    body: list[str] = []
    for (xa, ya), (xb, yb) in itertools.pairwise(cols):
        body.extend(f'<line x1="{xa}" y1="{a:.1f}" x2="{xb}" y2="{b:.1f}" stroke="{MUTED}" '
                    f'stroke-opacity="0.5"/>' for a in ya for b in yb)
    for (x, col), n, name in zip(cols, widths, names, strict=False):
        for y in col:
            body.append(f'<circle cx="{x}" cy="{y:.1f}" r="6" fill="#fff" stroke="{INK}"/>')
        if int(n) > shown:
            body.append(_text(x, bottom + 9, "⋮", size=11))
        body.append(_text(x, h - 20, f"{n}", size=11, extra=' font-weight="600"'))
        short = name if len(name) <= 14 else name[:13] + "…"
        body.append(_text(x, h - 6, short, size=10, fill="#495057",
                          tip=name if short != name else ""))
    return _svg(w, h, body, "layer widths: " + " → ".join(str(n) for n in widths))
