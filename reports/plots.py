"""What the charts show: judged errors by layer depth, and their distribution per oracle.

This module gathers and bins the numbers; ``reports.svg`` draws them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup

from deltacheck.reports import svg
from deltacheck.reports.common import (
    GRADIENTS,
    NOT_JUDGED,
    SYMBOL,
    arch,
    fmt_err,
    num,
    quantities,
    rank,
)

FLOOR_DECADES = 8  # errors this far below every rtol are drawn together: all that matters is 0


def _judged_errors(cases: list[dict]) -> Iterable[tuple[str, int, Mapping[str, Any], float]]:
    """(oracle, layers L, quantity record, rtol) for every judged quantity of every case."""
    for c in cases:
        n_layers = len(arch(c)["widths"]) - 1
        for o, r in (c.get("oracles") or {}).items():
            rtol = num(r.get("rtol"))
            for qd in quantities(r, n_layers):
                if qd.get("verdict") != NOT_JUDGED:
                    yield o, n_layers, qd, rtol


def _tolerance_lines(rtols: Mapping[str, set[float]], oracles: list[str],
                     colours: Mapping[str, str]) -> list[tuple[float, str, str]]:
    by_value: dict[float, list[str]] = defaultdict(list)
    for o in oracles:
        for r in rtols.get(o, ()):
            if math.isfinite(r):
                by_value[r].append(o)
    return [(r, colours[os[0]] if len(os) == 1 else svg.INK,
             "\n".join([f"rtol {fmt_err(r)}", *_wrap(os)])) for r, os in sorted(by_value.items())]


def _wrap(names: list[str], width: int = 11) -> list[str]:
    """Names joined by commas into lines of about ``width`` characters: the chart's margin."""
    lines: list[str] = []
    for name in names:
        if lines and len(lines[-1]) + 2 + len(name) <= width:
            lines[-1] += f", {name}"
        else:
            lines.append(name)
    return [f"{line}," for line in lines[:-1]] + lines[-1:]


def _floor(rtols: Iterable[float]) -> int | None:
    """The decade below which errors are drawn together: eight below the smallest rtol."""
    good = [r for r in rtols if math.isfinite(r) and r > 0]
    return math.floor(math.log10(min(good))) - FLOOR_DECADES if good else None


def _median(v: list[float]) -> float:
    s = sorted(v, key=rank)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def depth(cases: list[dict], oracles: list[str], colours: Mapping[str, str]) -> list[Markup]:
    """Worst and median err of δ, ∂W and ∂b against the layer's distance from the output."""
    errs: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    rtols: dict[str, set[float]] = defaultdict(set)
    far = 0
    for o, n_layers, qd, rtol in _judged_errors(cases):
        rtols[o].add(rtol)
        layer = qd.get("layer")
        if qd.get("q") in GRADIENTS and isinstance(layer, int) and 0 <= layer < n_layers:
            d = n_layers - 1 - layer
            far = max(far, d)
            errs[(qd["q"], o)][d].append(num(qd.get("err")))
    lines = _tolerance_lines(rtols, oracles, colours)
    floor = _floor(r for rs in rtols.values() for r in rs)
    charts = []
    for q in GRADIENTS:
        series = []
        for o in oracles:
            by_d = errs.get((q, o), {})
            worst = [(d, max(v, key=rank)) for d, v in by_d.items()]
            series.append(svg.Series(f"{o} worst {SYMBOL[q]}", colours[o], worst))
            series.append(svg.Series(f"{o} median {SYMBOL[q]}", colours[o],
                                     [(d, _median(v)) for d, v in by_d.items()],
                                     dashed=True, hollow=True))
        charts.append(svg.log_chart(series, lines, x_max=far, title=f"{SYMBOL[q]} ({q})",
                                    x_label="layers from the output (0 = output layer)",
                                    floor=floor))
    return charts


def histograms(cases: list[dict], oracles: list[str],
               colours: Mapping[str, str]) -> list[Markup]:
    """One histogram of log10(err) per oracle, on shared decade bins."""
    errs: dict[str, list[float]] = {o: [] for o in oracles}
    rtols: dict[str, float] = {}
    for o, _, qd, rtol in _judged_errors(cases):
        errs.setdefault(o, []).append(num(qd.get("err")))
        rtols[o] = min(rtols.get(o, rtol), rtol) if math.isfinite(rtol) else rtols.get(o, rtol)
    pos = [e for v in errs.values() for e in v if math.isfinite(e) and e > 0]
    lo, hi, clipped = svg.log_range(pos + list(rtols.values()), _floor(rtols.values()))
    # bins are [10**k, 10**(k+1)): the top one must hold the largest value itself
    top = [v for v in pos + list(rtols.values()) if math.isfinite(v) and v > 0]
    hi = max(hi, lo + 1, math.floor(math.log10(max(top))) + 1 if top else lo + 1)
    odd = any(not math.isfinite(e) for v in errs.values() for e in v)
    labels = ["0", *(("≤" if clipped and k == lo else "") + str(k) for k in range(lo, hi)),
              *(["∞"] if odd else [])]
    charts = []
    for o in oracles:
        counts = [0] * len(labels)
        for e in errs.get(o, []):
            i = (len(labels) - 1 if not math.isfinite(e) else 0 if e <= 0 else
                 1 + min(max(math.floor(math.log10(e)) - lo, 0), hi - lo - 1))
            counts[i] += 1
        r = rtols.get(o, math.nan)
        fills = [svg.OK] + [svg.BAD if 10.0**k >= r else svg.NEAR if 10.0 ** (k + 1) > r
                            else colours[o] for k in range(lo, hi)] + ([svg.BAD] if odd else [])
        tol_at = 1 + math.log10(r) - lo if math.isfinite(r) and r > 0 else None
        charts.append(svg.histogram(counts, labels, fills, tol_at=tol_at,
                                    tol_label=f"rtol {fmt_err(r)}",
                                    title=f"{o}: {len(errs.get(o, []))} judged quantities"))
    return charts
