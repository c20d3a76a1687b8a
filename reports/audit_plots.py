"""Line charts over a for the audit report: h, dh beside autograd, and the error on a log scale.

Values may be floats or the strings "inf", "-inf" and "nan" of the JSON. A non-finite value
breaks its line and is drawn as a red mark on the chart's top edge, so it can never hide.
Every piece of text goes through ``escape``: activation names come from users.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from deltacheck.reports.common import num
from deltacheck.reports.svg import BAD, GRID, INK, MUTED, _svg, _text

W, H, LEFT, RIGHT, TOP, BOTTOM = 390.0, 210.0, 50.0, 12.0, 34.0, 30.0


@dataclass(frozen=True)
class Line:
    """One series: y over the chart's x, in one colour."""

    label: str
    colour: str
    ys: Sequence[object]
    dashed: bool = False
    width: float = 1.6


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * step:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.3g}" if v != 0 else "0"


def chart(xs: Sequence[float], lines: Sequence[Line], *, title: str, log_y: bool = False,
          hlines: Sequence[tuple[float, str, str]] = (), kinks: Sequence[float] = (),
          floor: float = 1e-20) -> Markup:
    """A chart of ``lines`` over ``xs``; ``hlines`` are (y, colour, label), e.g. tolerances."""
    x = [float(v) for v in xs]
    values = [num(y) for line in lines for y in line.ys] + [v for v, _, _ in hlines]
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log_y)]
    if log_y:
        finite = [max(v, floor) for v in finite]
        lo: float = math.floor(math.log10(min(finite, default=floor)))
        hi: float = math.ceil(math.log10(max(finite, default=1.0)))
        lo, hi = (lo, hi + 1) if hi <= lo else (lo, hi)
    else:
        lo, hi = min(finite, default=0.0), max(finite, default=1.0)
        pad = 0.05 * (hi - lo) or 1.0
        lo, hi = lo - pad, hi + pad
    x0, x1 = (min(x), max(x)) if x else (0.0, 1.0)
    x1 = x1 if x1 > x0 else x0 + 1.0
    top_edge = TOP - 8  # non-finite values are drawn here

    def px(v: float) -> float:
        return LEFT + (v - x0) / (x1 - x0) * (W - LEFT - RIGHT)

    def py(v: float) -> float:
        if log_y:
            t = (math.log10(max(v, floor)) - lo) / (hi - lo)
        else:
            t = (v - lo) / (hi - lo)
        return H - BOTTOM - t * (H - BOTTOM - TOP)

    body = [_text(LEFT, 14, title, anchor="start", size=12, extra=' font-weight="600"')]
    ticks = ([10.0 ** k for k in range(int(lo), int(hi) + 1, max(1, math.ceil((hi - lo) / 6)))]
             if log_y else _ticks(lo, hi))
    for t in ticks:
        y = py(t)
        body.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{GRID}"/>')
        body.append(_text(LEFT - 5, y + 3, f"1e{round(math.log10(t))}" if log_y else _fmt(t),
                          anchor="end", size=9))
    for t in _ticks(x0, x1, 8):
        body.append(_text(px(t), H - BOTTOM + 14, _fmt(t), size=9))
    body.append(_text((LEFT + W - RIGHT) / 2, H - 4, "a", size=10))
    body.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{H - BOTTOM}" stroke="{MUTED}"/>')
    for k in kinks:
        if x0 <= k <= x1:
            body.append(f'<line x1="{px(k):.1f}" x2="{px(k):.1f}" y1="{TOP}" '
                        f'y2="{H - BOTTOM}" stroke="{MUTED}" stroke-dasharray="3 3">'
                        f'<title>{escape(f"kink at {k:g}")}</title></line>')
    for v, colour, label in hlines:
        y = py(v)
        body.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{colour}" stroke-width="1.2" stroke-dasharray="6 4"/>')
        body.append(_text(W - RIGHT - 2, y - 3, label, anchor="end", size=9, fill=colour))
    bad_x: list[float] = []
    for line in lines:
        segment: list[str] = []
        dash = ' stroke-dasharray="5 3"' if line.dashed else ""

        def flush(seg: list[str], line: Line = line, dash: str = dash) -> None:
            if len(seg) > 1:
                body.append(f'<polyline points="{" ".join(seg)}" fill="none" '
                            f'stroke="{line.colour}" stroke-width="{line.width}"{dash}>'
                            f'<title>{escape(line.label)}</title></polyline>')

        for xv, yv in zip(x, line.ys, strict=False):
            v = num(yv)
            if not math.isfinite(v):
                bad_x.append(xv)
                flush(segment)
                segment = []
            elif log_y and v <= 0:
                flush(segment)  # an exact 0 has no place on a log axis: a gap
                segment = []
            else:
                segment.append(f"{px(xv):.1f},{py(v):.1f}")
        flush(segment)
    if bad_x:
        body.append(_text(LEFT - 5, top_edge + 3, "∞/nan", anchor="end", size=9, fill=BAD))
        for xv in sorted(set(bad_x)):
            body.append(f'<rect x="{px(xv) - 1:.1f}" y="{top_edge - 3}" width="2" height="6" '
                        f'fill="{BAD}"/>')
    legend_x = LEFT + 8
    for line in lines:
        dash = ' stroke-dasharray="5 3"' if line.dashed else ""
        body.append(f'<line x1="{legend_x}" x2="{legend_x + 16}" y1="{TOP + 6}" y2="{TOP + 6}" '
                    f'stroke="{line.colour}" stroke-width="2"{dash}/>')
        body.append(_text(legend_x + 20, TOP + 9, line.label, anchor="start", size=9, fill=INK))
        legend_x += 28 + 5.6 * len(line.label)
    return _svg(W, H, body, title)
