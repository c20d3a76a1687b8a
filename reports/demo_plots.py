"""Inline SVG plots of the demo report: the diagonal, curves, a log-log chart, decision maps.

Like ``reports.svg``, every function returns ``Markup`` built by hand, every piece of text goes
through ``escape``, and nothing holds a URL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from deltacheck.reports.svg import BAD, GRID, INK, MUTED, OK, PALETTE

# Sized for a projector: at least 600 px wide, ticks and labels readable from the back row.
W, H = 640.0, 400.0
LEFT, RIGHT, TOP, BOTTOM = 92.0, 18.0, 40.0, 62.0
TITLE, LABEL, TICK = 18, 16, 14  # font sizes
LEGEND_W = 190.0  # a legend sits to the right of the frame, never over the curves


def _svg(width: float, height: float, body: list[str], label: str) -> Markup:
    return Markup(f'<svg class="plot" viewBox="0 0 {width:g} {height:g}" width="{width:g}" '
                  f'height="{height:g}" role="img" aria-label="{escape(label)}">'
                  + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, *, anchor: str = "middle", size: int = LABEL,
          fill: str = INK, extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}"{extra}>{escape(s)}</text>')


def tick(v: float) -> str:
    """A short axis label."""
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-2:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:.5g}"


def _nice(span: float) -> float:
    """A round step that cuts ``span`` into about four pieces."""
    raw = span / 4 if span > 0 else 1.0
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def _frame(title: str, x_label: str, y_label: str, x1: float = W - RIGHT) -> list[str]:
    middle = TOP + (H - TOP - BOTTOM) / 2
    return [_text(8, 22, title, anchor="start", size=TITLE, extra=' font-weight="600"'),
            _text(LEFT + (x1 - LEFT) / 2, H - 12, x_label),
            _text(20, middle, y_label, extra=f' transform="rotate(-90 20 {middle:.1f})"')]


def _legend(entries: Sequence[tuple[str, str, str]], x: float, y: float) -> list[str]:
    """(label, colour, dash) entries, one per line, each with a sample of its line."""
    out = []
    for i, (label, colour, dash) in enumerate(entries):
        yy = y + 24 * i
        d = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x:.1f}" x2="{x + 26:.1f}" y1="{yy - 5:.1f}" y2="{yy - 5:.1f}" '
                   f'stroke="{colour}" stroke-width="3"{d}/>')
        out.append(_text(x + 32, yy, label, anchor="start", size=TICK, fill=INK))
    return out


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


@dataclass(frozen=True)
class Line:
    """One curve: (x, y) points."""

    label: str
    colour: str
    points: Sequence[Sequence[float]]
    dash: str = ""
    width: float = 1.6
    dots: bool = False


def chart(lines: Sequence[Line], *, title: str, x_label: str, y_label: str, log_x: bool = False,
          log_y: bool = False, hline: tuple[float, str] | None = None,
          size: tuple[float, float] = (W, H), legend: bool = False,
          vlines: Sequence[tuple[float, str, str]] = ()) -> Markup:
    """Curves on linear or log axes, with an optional labelled horizontal line (a limit) and
    labelled vertical lines (x, label, colour).

    ``legend`` names each line beside a sample of it, to the right of the frame."""
    w, h = size[0] + (LEGEND_W if legend else 0.0), size[1]
    xs = [p[0] for ln in lines for p in ln.points]
    ys = [p[1] for ln in lines for p in ln.points] + ([hline[0]] if hline else [])

    def tf(v: float, log: bool) -> float:
        return math.log10(v) if log else v

    fx = [tf(v, log_x) for v in xs if math.isfinite(v) and (v > 0 or not log_x)]
    fy = [tf(v, log_y) for v in ys if math.isfinite(v) and (v > 0 or not log_y)]
    if not fx or not fy:
        return _svg(w, h, [_text(w / 2, h / 2, "no data", fill=MUTED)], title)
    lo_x, hi_x = min(fx), max(fx)
    lo_y, hi_y = min(fy), max(fy)
    if log_y:
        lo_y, hi_y = math.floor(lo_y), math.ceil(hi_y)
    elif lo_y >= 0:
        lo_y = 0.0
    if log_x:
        lo_x, hi_x = math.floor(lo_x), math.ceil(hi_x)
    hi_x, hi_y = max(hi_x, lo_x + 1e-12), max(hi_y, lo_y + (1 if log_y else 1e-12))
    x0, x1, y0, y1 = LEFT, size[0] - RIGHT, h - BOTTOM, TOP

    def px(v: float) -> float:
        return x0 + (tf(v, log_x) - lo_x) / (hi_x - lo_x) * (x1 - x0)

    def py(v: float) -> float:
        t = tf(v, log_y) if (v > 0 or not log_y) else lo_y
        return y0 - (t - lo_y) / (hi_y - lo_y) * (y0 - y1)

    body = [_text(8, 22, title, anchor="start", size=TITLE, extra=' font-weight="600"'),
            _text(x0 + (x1 - x0) / 2, h - 12, x_label),
            _text(20, y1 + (y0 - y1) / 2, y_label,
                  extra=f' transform="rotate(-90 20 {y1 + (y0 - y1) / 2:.1f})"')]
    for axis_lo, axis_hi, log, is_x in ((lo_x, hi_x, log_x, True), (lo_y, hi_y, log_y, False)):
        if log:
            every = max(1, math.ceil((axis_hi - axis_lo) / 6))
            ticks = [10.0 ** k for k in range(int(axis_lo), int(axis_hi) + 1, every)]
        else:
            step = _nice(axis_hi - axis_lo)
            ticks = [k * step for k in range(math.ceil(axis_lo / step),
                                             math.floor(axis_hi / step + 1e-9) + 1)]
        for v in ticks:
            label = f"1e{round(math.log10(v))}" if log else tick(v)
            if is_x:
                body.append(f'<line x1="{px(v):.1f}" x2="{px(v):.1f}" y1="{y0}" y2="{y1}" '
                            f'stroke="{GRID}"/>')
                body.append(_text(px(v), y0 + 20, label, size=TICK))
            else:
                body.append(f'<line x1="{x0}" x2="{x1}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
                            f'stroke="{GRID}"/>')
                body.append(_text(x0 - 6, py(v) + 5, label, anchor="end", size=TICK))
    body.append(f'<rect x="{x0}" y="{y1}" width="{x1 - x0:.1f}" height="{y0 - y1:.1f}" '
                f'fill="none" stroke="{MUTED}"/>')
    if hline:
        y = py(hline[0])
        body.append(f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="{BAD}" '
                    f'stroke-width="1.4" stroke-dasharray="6 4"/>')
        # the label above the line, or below it when the line runs along the frame's top
        below = y - 6 < y1 + TICK
        body.append(_text(x1 - 4, y + (TICK + 2 if below else -6), hline[1], anchor="end",
                          size=TICK, fill=BAD))
    for i, (x, label, colour) in enumerate(vlines):
        if not (math.isfinite(x) and (x > 0 or not log_x)):
            continue
        xx = px(x)
        body.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{y0}" y2="{y1}" stroke="{colour}" '
                    f'stroke-width="1.6" stroke-dasharray="6 4"/>')
        # one label under the other, each on the side with room, so that close lines stay legible
        right = xx < x0 + (x1 - x0) * 0.7
        body.append(_text(xx + (6 if right else -6), y1 + 18 + 20 * i, label,
                          anchor="start" if right else "end", size=TICK, fill=colour,
                          extra=' font-weight="600"'))
    for ln in lines:
        pts = [(px(x), py(y)) for x, y in ln.points if math.isfinite(x) and math.isfinite(y)
               and (x > 0 or not log_x)]
        if len(pts) > 1 and ln.width > 0:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            dash = f' stroke-dasharray="{ln.dash}"' if ln.dash else ""
            body.append(f'<polyline points="{path}" fill="none" stroke="{ln.colour}" '
                        f'stroke-width="{ln.width}"{dash}><title>{escape(ln.label)}</title>'
                        f'</polyline>')
        if ln.dots or len(pts) == 1:
            body.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.6" fill="{ln.colour}"/>'
                        for x, y in pts)
    if legend:
        body += _legend([(ln.label, ln.colour, ln.dash) for ln in lines], size[0] + 4, y1 + 14)
    return _svg(w, h, body, title)


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
    return chart([*data, fit], title=title, x_label="x", y_label="y", legend=True)
