"""The one chart engine of every report: curves over linear or log axes, as inline SVG.

The run report's error-by-depth charts, the audit's h, h′ and error charts and the demo's
curves are all ``chart`` with options. Every function returns ``Markup`` built by hand, every
piece of text goes through ``escape`` (names come from users), and nothing holds a URL.

What a chart never hides: a y that is inf or nan (a float, or the JSON's strings) breaks its
line and is marked on a band above the frame, labelled ∞/nan; on a log axis an exact 0 sits on
a band below it, labelled 0, and a value under ``floor`` sits on the floor, whose tick reads ≤.
Legends sit to the right of the frame, never over the curves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#d9480f", "#1c7ed6", "#7048e8", "#0b7285", "#a61e4d", "#5c940d")
OK, NEAR, BAD, MUTED, INK, GRID = "#2f9e44", "#f59f00", "#e03131", "#adb5bd", "#343a40", "#e9ecef"

# Sized for a projector: at least 600 px wide, ticks and labels readable from the back row.
W, H = 640.0, 400.0
LEGEND_W = 190.0  # a legend sits to the right of the frame, never over the curves


def svg(width: float, height: float, body: list[str], label: str) -> Markup:
    """An inline SVG element holding ``body``, labelled for screen readers."""
    return Markup(f'<svg class="plot" viewBox="0 0 {width:g} {height:g}" width="{width:g}" '
                  f'height="{height:g}" role="img" aria-label="{escape(label)}">'
                  + "".join(body) + "</svg>")


def text(x: float, y: float, s: str, *, anchor: str = "middle", size: int = 16,
         fill: str = INK, extra: str = "", tip: str = "") -> str:
    """One escaped piece of text (``tip``: shown on hover)."""
    title = f"<title>{escape(tip)}</title>" if tip else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}"{extra}>{title}{escape(s)}</text>')


def tick(v: float) -> str:
    """A short axis label."""
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-2:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:.5g}"


def nice(span: float) -> float:
    """A round step that cuts ``span`` into about four pieces."""
    raw = span / 4 if span > 0 else 1.0
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def number(v: object) -> float:
    """A plotted value: a float, or the JSON's "inf", "-inf" and "nan"; anything else is nan."""
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


@dataclass(frozen=True)
class Line:
    """One curve: (x, y) points; y may be a float or the JSON's "inf", "-inf", "nan"."""

    label: str
    colour: str
    points: Sequence[Sequence[object]]
    dash: str = ""
    width: float = 1.6
    dots: bool = False  # a dot at every point (always for a single point)
    hollow: bool = False  # dots drawn as rings


@dataclass(frozen=True)
class _Fonts:
    title: int
    label: int
    tick: int

    @classmethod
    def for_width(cls, width: float) -> _Fonts:
        scale = min(1.0, width / W)
        return cls(max(12, round(18 * scale)), max(10, round(16 * scale)),
                   max(9, round(14 * scale)))


def legend(entries: Sequence[tuple[str, str, str]], x: float, y: float, size: int) -> list[str]:
    """(label, colour, dash) entries, one per line, each with a sample of its line."""
    out = []
    for i, (label, colour, dash) in enumerate(entries):
        yy = y + (size + 10) * i
        d = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x:.1f}" x2="{x + 26:.1f}" y1="{yy - 5:.1f}" y2="{yy - 5:.1f}" '
                   f'stroke="{colour}" stroke-width="3"{d}/>')
        out.append(text(x + 32, yy, label, anchor="start", size=size))
    return out


def _ticks(lo: float, hi: float, log: bool, whole: bool) -> list[float]:
    if log:
        every = max(1, math.ceil((hi - lo) / 6))
        return [10.0 ** k for k in range(int(lo), int(hi) + 1, every)]
    step = max(1.0, round(nice(hi - lo))) if whole else nice(hi - lo)
    return [k * step for k in range(math.ceil(lo / step - 1e-9),
                                    math.floor(hi / step + 1e-9) + 1)]


def chart(lines: Sequence[Line], *, title: str, x_label: str, y_label: str = "",
          log_x: bool = False, log_y: bool = False,
          hlines: Sequence[tuple[float, str, str]] = (), hline: tuple[float, str] | None = None,
          vlines: Sequence[tuple[float, str, str]] = (), size: tuple[float, float] = (W, H),
          legend_beside: bool = False, floor: int | None = None, whole_x: bool = False,
          x_range: tuple[float, float] | None = None, labels_beside: bool = False) -> Markup:
    """Curves on linear or log axes.

    ``hlines``: (y, colour, label) lines across the frame (limits, tolerances; ``hline`` is
    one in red); ``vlines``: (x, label, colour) lines down it (a label of "" for a kink);
    ``legend_beside`` names each line to the right of the frame; ``floor``: on a log y axis,
    the lowest decade drawn (values below sit on it); ``whole_x``: whole-number x ticks;
    ``x_range``: the x axis's span, whatever the points; ``labels_beside``: hline labels to
    the right of the frame rather than inside it.
    """
    fonts = _Fonts.for_width(size[0])
    all_hlines = [*hlines, *([(hline[0], BAD, hline[1])] if hline else [])]
    w = size[0] + (LEGEND_W if legend_beside else 0.0)
    h = size[1]
    points = [(number(x), number(y)) for ln in lines for x, y in ln.points]
    xs = [x for x, _ in points if math.isfinite(x) and (x > 0 or not log_x)]
    ys = [y for _, y in points] + [v for v, _, _ in all_hlines]

    def tf(v: float, log: bool) -> float:
        return math.log10(v) if log else v

    fy = [tf(v, log_y) for v in ys if math.isfinite(v) and (v > 0 or not log_y)]
    if (not xs and x_range is None) or not fy:
        return svg(w, h, [text(w / 2, h / 2, "no data", fill=MUTED)], title)
    lo_x, hi_x = x_range if x_range is not None else (min(xs), max(xs))
    lo_x, hi_x = tf(lo_x, log_x), tf(hi_x, log_x)
    lo_y, hi_y = min(fy), max(fy)
    clipped = False
    if log_y:
        lo_y, hi_y = math.floor(lo_y), math.ceil(hi_y)
        if floor is not None and lo_y < floor:
            lo_y, clipped = floor, True
    elif lo_y >= 0:
        lo_y = 0.0
    else:
        pad = 0.05 * (hi_y - lo_y)
        lo_y, hi_y = lo_y - pad, hi_y + pad
    if log_x:
        lo_x, hi_x = math.floor(lo_x), math.ceil(hi_x)
    hi_x, hi_y = max(hi_x, lo_x + 1e-12), max(hi_y, lo_y + (1 if log_y else 1e-12))
    zero_band = log_y and any(y == 0 for _, y in points)
    bad_band = any(not math.isfinite(y) for _, y in points)
    scale = size[0] / W
    left = (92.0 if y_label else 64.0) * max(scale, 0.6)
    right = (118.0 if labels_beside else 18.0) * max(scale, 0.6)
    x0, x1 = left, size[0] - right
    y1 = 26.0 + fonts.title + (fonts.tick + 8 if bad_band else 0)
    y0 = h - (fonts.tick + fonts.label + 24 + (fonts.tick + 8 if zero_band else 0))
    zero_y, bad_y = y0 + fonts.tick + 4, y1 - fonts.tick - 2

    def px(v: float) -> float:
        return x0 + (tf(v, log_x) - lo_x) / (hi_x - lo_x) * (x1 - x0)

    def py(v: float) -> float:
        if not math.isfinite(v):
            return bad_y
        if log_y and v <= 0:
            return zero_y
        t = max(tf(v, log_y), lo_y) if log_y else tf(v, log_y)
        return y0 - (t - lo_y) / (hi_y - lo_y) * (y0 - y1)

    middle = y1 + (y0 - y1) / 2
    body = [text(8, 8 + fonts.title, title, anchor="start", size=fonts.title,
                 extra=' font-weight="600"'),
            text(x0 + (x1 - x0) / 2, h - 6, x_label, size=fonts.label)]
    if y_label:
        body.append(text(8 + fonts.label, middle, y_label, size=fonts.label,
                         extra=f' transform="rotate(-90 {8 + fonts.label} {middle:.1f})"'))
    for v in _ticks(lo_x, hi_x, log_x, whole_x):
        label = f"1e{round(math.log10(v))}" if log_x else tick(v)
        body.append(f'<line x1="{px(v):.1f}" x2="{px(v):.1f}" y1="{y0:.1f}" y2="{y1:.1f}" '
                    f'stroke="{GRID}"/>')
        body.append(text(px(v), (zero_y if zero_band else y0) + fonts.tick + 6, label,
                         size=fonts.tick))
    for k, v in enumerate(_ticks(lo_y, hi_y, log_y, False)):
        label = f"1e{round(math.log10(v))}" if log_y else tick(v)
        body.append(f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
                    f'stroke="{GRID}"/>')
        body.append(text(x0 - 6, py(v) + 5, ("≤" if clipped and k == 0 else "") + label,
                         anchor="end", size=fonts.tick))
    if zero_band:
        body.append(text(x0 - 6, zero_y + 5, "0", anchor="end", size=fonts.tick, fill=OK))
    if bad_band:
        body.append(text(x0 - 6, bad_y + 5, "∞/nan", anchor="end", size=fonts.tick, fill=BAD))
    body.append(f'<rect x="{x0:.1f}" y="{y1:.1f}" width="{x1 - x0:.1f}" height="{y0 - y1:.1f}" '
                f'fill="none" stroke="{MUTED}"/>')
    for y, colour, label in all_hlines:
        yy = py(y)
        body.append(f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{yy:.1f}" y2="{yy:.1f}" '
                    f'stroke="{colour}" stroke-width="1.4" stroke-dasharray="6 4"/>')
        for i, part in enumerate(label.split("\n")):
            if labels_beside:
                body.append(text(x1 + 8, yy + 4 + (fonts.tick + 2) * i, part, anchor="start",
                                 size=fonts.tick, fill=colour))
            else:  # above the line, or below it when the line runs along the frame's top
                below = yy - 6 < y1 + fonts.tick
                body.append(text(x1 - 4, yy + (fonts.tick + 2 if below else -6)
                                 + (fonts.tick + 2) * i, part, anchor="end", size=fonts.tick,
                                 fill=colour))
    for i, (x, label, colour) in enumerate(vlines):
        if not (math.isfinite(x) and (x > 0 or not log_x)) or not lo_x <= tf(x, log_x) <= hi_x:
            continue
        xx = px(x)
        body.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{y0:.1f}" y2="{y1:.1f}" '
                    f'stroke="{colour}" stroke-width="1.6" stroke-dasharray="6 4">'
                    f'<title>{escape(label or f"x = {x:g}")}</title></line>')
        if label:  # one under the other, each on the side with room, so that close lines stay legible
            right_side = xx < x0 + (x1 - x0) * 0.7
            body.append(text(xx + (6 if right_side else -6), y1 + 18 + 20 * i, label,
                             anchor="start" if right_side else "end", size=fonts.tick,
                             fill=colour, extra=' font-weight="600"'))
    for ln in lines:
        body += _curve(ln, px, py, log_x)
    if legend_beside:
        body += legend([(ln.label, ln.colour, ln.dash) for ln in lines], size[0] + 4,
                       y1 + 14, fonts.tick)
    return svg(w, h, body, title)


def _curve(ln: Line, px: object, py: object, log_x: bool) -> list[str]:
    """A line's polylines, broken at every non-finite y, and its dots."""
    out: list[str] = []
    segment: list[tuple[float, float]] = []
    dots: list[tuple[float, float, float, float]] = []
    dash = f' stroke-dasharray="{ln.dash}"' if ln.dash else ""

    def flush() -> None:
        if len(segment) > 1 and ln.width > 0:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
            out.append(f'<polyline points="{path}" fill="none" stroke="{ln.colour}" '
                       f'stroke-width="{ln.width}"{dash}><title>{escape(ln.label)}</title>'
                       f'</polyline>')
        segment.clear()

    for xv, yv in ln.points:
        x, y = number(xv), number(yv)
        if not math.isfinite(x) or (log_x and x <= 0):
            continue
        point = (px(x), py(y))  # type: ignore[operator]
        if math.isfinite(y):
            segment.append(point)
        else:  # a break, and a red mark on the ∞/nan band
            flush()
            out.append(f'<rect x="{point[0] - 1.5:.1f}" y="{point[1] - 4:.1f}" width="3" '
                       f'height="8" fill="{BAD}"><title>{escape(f"{ln.label}: {yv} at {x:g}")}'
                       f'</title></rect>')
        dots.append((*point, x, y))
    flush()
    if ln.dots or len(dots) == 1:
        fill = "#fff" if ln.hollow else ln.colour
        for cx, cy, x, y in dots:
            if math.isfinite(y):
                out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.6" fill="{fill}" '
                           f'stroke="{ln.colour}" stroke-width="1.4"><title>'
                           f'{escape(f"{ln.label}: {y:.3g} at {x:g}")}</title></circle>')
    return out
