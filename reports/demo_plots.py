"""Inline SVG plots of the demo report: the diagonal and the decision maps; its curves are
``reports.charts.chart``, the engine of every report.

As there, every function returns ``Markup`` built by hand, every piece of text goes
through ``escape``, and nothing holds a URL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup

from deltacheck.reports.charts import (
    BAD,
    GRID,
    INK,
    LEGEND_W,
    OK,
    PALETTE,
    H,
    Line,
    W,
    chart,
    tick,
)
from deltacheck.reports.charts import legend as _legends
from deltacheck.reports.charts import nice as _nice
from deltacheck.reports.charts import svg as _svg
from deltacheck.reports.charts import text as _text

# The frame of the diagonal, drawn here (its axes are symmetric about 0): sized as every chart.
LEFT, RIGHT, TOP, BOTTOM = 92.0, 18.0, 40.0, 62.0
TITLE, LABEL, TICK = 18, 16, 14  # font sizes


def _legend(entries: Sequence[tuple[str, str, str]], x: float, y: float) -> list[str]:
    return _legends(entries, x, y, TICK)


def _frame(title: str, x_label: str, y_label: str, x1: float = W - RIGHT) -> list[str]:
    middle = TOP + (H - TOP - BOTTOM) / 2
    return [_text(8, 22, title, anchor="start", size=TITLE, extra=' font-weight="600"'),
            _text(LEFT + (x1 - LEFT) / 2, H - 12, x_label),
            _text(20, middle, y_label, extra=f' transform="rotate(-90 20 {middle:.1f})"')]


def diagonal(claim: Sequence[Sequence[float]], general: Sequence[Sequence[float]], *,
             canonical: bool, title: str) -> Markup:
    """Autograd's δ (vertical) against a formula's (horizontal): on the line y = x, they agree.

    ``claim`` are (y − t, δ) points; ``general`` are (general form, δ) points, drawn only for a
    pair whose y − t is not claimed. Points beyond the frame are drawn on its edge, hollow.
    """
    pts = [(x, y, "claim") for x, y in claim] + ([] if canonical else
                                                 [(x, y, "general") for x, y in general])
    mags = sorted(abs(v) for x, y, _ in pts for v in (x, y) if math.isfinite(v))
    R = mags[min(len(mags) - 1, int(0.98 * len(mags)))] if mags else 1.0
    R = _nice(2 * R) * 2 if R > 0 else 1.0
    width = W + LEGEND_W
    x0, x1, y0, y1 = LEFT, W - RIGHT, H - BOTTOM, TOP

    def px(v: float) -> float:
        return x0 + (max(-R, min(R, v)) + R) / (2 * R) * (x1 - x0)

    def py(v: float) -> float:
        return y0 - (max(-R, min(R, v)) + R) / (2 * R) * (y0 - y1)

    body = _frame(title, "δ by the formula", "δ by autograd")
    step = _nice(2 * R)
    k = math.ceil(-R / step)
    while k * step <= R + 1e-12:
        v = k * step
        body.append(f'<line x1="{px(v):.1f}" x2="{px(v):.1f}" y1="{y0}" y2="{y1}" stroke="{GRID}"/>')
        body.append(f'<line x1="{x0}" x2="{x1}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="{GRID}"/>')
        body.append(_text(px(v), y0 + 20, tick(v), size=TICK))
        body.append(_text(x0 - 6, py(v) + 5, tick(v), anchor="end", size=TICK))
        k += 1
    body.append(f'<line x1="{px(-R):.1f}" y1="{py(-R):.1f}" x2="{px(R):.1f}" y2="{py(R):.1f}" '
                f'stroke="{INK}" stroke-dasharray="5 4" stroke-width="1"/>')
    colours = {"claim": OK if canonical else BAD, "general": PALETTE[1]}
    for x, y, kind in pts:
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        out = abs(x) > R or abs(y) > R
        c = colours[kind]
        body.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.4" '
                    f'fill="{"#fff" if out else c}" fill-opacity="0.55" stroke="{c}" '
                    f'stroke-width="0.8"/>')
    keys = [("y − t", colours["claim"], "")] + ([] if canonical else
                                                 [("general form", colours["general"], "")])
    body += _legend([*keys, ("agreement: y = x", INK, "5 4")], W + 4, TOP + 14)
    return _svg(width, H, body, title)


def _blend(p: float) -> str:
    """Blue (p = 0) to orange (p = 1), pale, for a decision map."""
    p = min(1.0, max(0.0, p)) if math.isfinite(p) else 0.5
    a, b = (0x1c, 0x7e, 0xd6), (0xd9, 0x48, 0x0f)
    rgb = [round(255 - 0.45 * (255 - (u + (v - u) * p))) for u, v in zip(a, b, strict=True)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def plane(picture: dict, *, title: str) -> Markup:
    """The trained network's P(class 1) over the input plane, with the test points on it."""
    side = 400.0
    n, lo, hi = int(picture["n"]), picture["lo"], picture["hi"]
    cell = side / n
    body = [_text(0, 22, title, anchor="start", size=TITLE, extra=' font-weight="600"')]
    top = 34.0
    for k, p in enumerate(picture["p"]):
        i, j = k % n, k // n
        body.append(f'<rect x="{i * cell:.2f}" y="{top + side - (j + 1) * cell:.2f}" '
                    f'width="{cell + 0.3:.2f}" height="{cell + 0.3:.2f}" fill="{_blend(p)}"/>')
    for u, v, c in picture["data"]:
        x = (u - lo[0]) / (hi[0] - lo[0]) * side
        y = top + side - (v - lo[1]) / (hi[1] - lo[1]) * side
        colour = PALETTE[0] if c > 0.5 else PALETTE[1]
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.6" fill="{colour}" stroke="#fff" '
                    f'stroke-width="0.8"/>')
    return _svg(side, side + top, body, title)


def curve(picture: dict, *, title: str) -> Markup:
    """The trained network's y(x) over the test data."""
    data = [Line("test data", PALETTE[1], [(x, t) for x, t in picture["data"]], width=0,
                 dots=True)]
    fit = Line("network", PALETTE[0], list(zip(picture["x"], picture["y"], strict=True)), width=2)
    return chart([*data, fit], title=title, x_label="x", y_label="y", legend_beside=True)
