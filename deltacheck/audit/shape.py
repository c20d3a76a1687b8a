"""Checks 2 and 4: where h has kinks, and where h and dh stay finite.

Kinks. On the dense grid x_i (spacing g) the one-sided difference quotients of h disagree by
J_i = (h(x_i + g) − h(x_i))/g − (h(x_i) − h(x_i − g))/g. Where h is smooth J_i ≈ g h''(x_i)
and changes slowly from point to point; a kink of slope jump Δ at c puts |J| ≈ Δ (1 − |x_i −
c|/g) on the one or two points beside it. Points whose |J| stands far above their neighbours'
are zoomed into (J again, on ever finer grids) and kept only when the disagreement survives
steps a hundred times smaller: at a kink it stays Δ, on a smooth curve it shrinks with the step.

Finite range. h and dh are evaluated with numpy in float64 and float32 on a scan of
[−1e4, 1e4] (0.01 apart out to ±100, 0.1 beyond), and the first non-finite value on either
side of 0 is bisected to the dtype's last finite input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.audit.derivative import KINK_FAR, far_segments, grid
from deltacheck.audit.frameworks import FrameworkFailure, NumpyEval
from deltacheck.core.words import tuple_text

SEARCH = 1e4
NEAR, NEAR_STEP, FAR_STEP = 100.0, 0.01, 0.1  # the scan: 0.01 apart out to ±100, then 0.1
NEIGHBOUR, STANDOUT = 3, 8.0  # |J| must stand 8 times above J three points away
MATCH = 1e-6  # a found kink within 1e-6 max(1, |k|) of a declared k is that kink


def _jumps(ev: NumpyEval, x: np.ndarray, g: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        left, mid, right = ev.h(x - g), ev.h(x), ev.h(x + g)
        return ((right - mid) - (mid - left)) / g


def _noise(ev: NumpyEval, x: np.ndarray, g: float) -> np.ndarray:
    """How large J can be from the rounding of h alone."""
    with np.errstate(all="ignore"):
        return 8 * np.finfo(np.float64).eps * (np.abs(ev.h(x)) + np.abs(x) + 1.0) / g


def _candidates(ev: NumpyEval, x: np.ndarray) -> list[int]:
    g = float(x[1] - x[0])
    J = np.abs(_jumps(ev, x, g))
    J = np.where(np.isfinite(J), J, 0.0)
    pad = np.pad(J, NEIGHBOUR, mode="edge")
    around = np.maximum(pad[:-2 * NEIGHBOUR], pad[2 * NEIGHBOUR:])
    hits = np.flatnonzero((J > STANDOUT * around) & (J > 100 * _noise(ev, x, g)))
    merged: list[int] = []
    for i in hits:  # a kink between two points lights up both: keep the larger
        if merged and i - merged[-1] <= 2:
            if J[i] > J[merged[-1]]:
                merged[-1] = int(i)
        else:
            merged.append(int(i))
    return merged


def _zoom(ev: NumpyEval, centre: float, width: float) -> float:
    """The point of largest one-sided disagreement, found on grids 100 times finer each time."""
    for _ in range(4):
        x = np.linspace(centre - width, centre + width, 201)
        g = float(x[1] - x[0])
        if g <= 4 * np.finfo(np.float64).eps * max(1.0, abs(centre)):
            break
        J = np.abs(_jumps(ev, x, g))
        centre = float(x[int(np.argmax(np.where(np.isfinite(J), J, -1.0)))])
        width = 2 * g
    return centre


def one_sided(ev: NumpyEval, c: float, step: float) -> tuple[float, float]:
    """The left and right difference quotients of h at c with this step."""
    x = np.array([c - step, c, c + step])
    with np.errstate(all="ignore"):
        h = ev.h(x)
        return float((h[1] - h[0]) / step), float((h[2] - h[1]) / step)


def is_kink(ev: NumpyEval, c: float) -> bool:
    """Whether the one-sided quotients at c keep disagreeing as the step shrinks 100-fold."""
    scale = max(1.0, abs(c))
    big = np.subtract(*one_sided(ev, c, 1e-4 * scale))
    small = np.subtract(*one_sided(ev, c, 1e-6 * scale))
    noise = float(_noise(ev, np.array([c]), 1e-6 * scale)[0])
    return bool(abs(small) > 0.5 * abs(big) and abs(small) > 100 * noise)


def _tidy(c: float, declared: Sequence[float]) -> float:
    """A declared kink if c is one; else c rounded to the digits the zoom can vouch for."""
    scale = max(1.0, abs(c))
    for k in declared:
        if abs(c - k) <= MATCH * max(1.0, abs(k)):
            return float(k)
    for digits in range(0, 10):
        r = round(c, digits)
        if abs(r - c) <= 1e-9 * scale:
            return float(r)
    return c


def segments() -> list[np.ndarray]:
    """The grids searched: the dense one over [−20, 20] and evenly spaced ones beyond, out to
    the largest |a| the derivative check draws (a kink at 30 must not be met by a draw first)."""
    return [grid(), *far_segments(KINK_FAR)]


def find_kinks(ev: NumpyEval, declared: Sequence[float]) -> list[float]:
    """The kinks of h over every grid, found from one-sided difference quotients."""
    found: list[float] = []
    for x in segments():
        g = float(x[1] - x[0])
        for i in _candidates(ev, x):
            c = _tidy(_zoom(ev, float(x[i]), 1.5 * g), declared)
            if is_kink(ev, c) and not any(abs(c - f) <= MATCH * max(1.0, abs(f)) for f in found):
                found.append(c)
    return sorted(found)


def _value(v: float) -> float | str:
    return float(v) if math.isfinite(v) else str(float(v))


def check_kinks(act: Any, declared: Sequence[float], evals: dict[str, Any]) -> dict[str, Any]:
    """Check 2: declared against found kinks, and what dh, torch and jax give at each."""
    ev = evals["numpy"]
    found = find_kinks(ev, declared)

    def matched(k: float, among: Sequence[float]) -> bool:
        return any(abs(k - m) <= MATCH * max(1.0, abs(m)) for m in among)

    undeclared = [k for k in found if not matched(k, declared)]
    reach = max(float(x.max()) for x in segments())
    smooth = [k for k in declared if not matched(k, found) and abs(k) <= reach]
    at = []
    for k in sorted({*declared, *found}):
        a = np.array([k])
        left, right = one_sided(ev, k, 1e-7 * max(1.0, abs(k)))
        row: dict[str, Any] = {"a": k, "declared": matched(k, declared),
                               "found": matched(k, found), "left": _value(left),
                               "right": _value(right), "dh": _value(float(ev.dh(a)[0]))}
        for name in ("torch", "jax"):
            e = evals.get(name)
            try:
                row[name] = None if e is None or isinstance(e, str) else _value(float(e.grad(a)[0]))
            except FrameworkFailure:
                row[name] = None
        at.append(row)
    warnings = []
    if undeclared:
        fix = tuple_text(float(k) for k in sorted({*declared, *found}))
        warnings.append(f"h has undeclared kinks at {', '.join(f'{k:g}' for k in undeclared)}: "
                        f"declare them with kinks={fix}; the network check treats them as "
                        f"declared")
    if smooth:
        warnings.append(f"declared kinks at {', '.join(f'{k:g}' for k in smooth)} where the "
                        f"one-sided quotients of h agree: h is smooth there, and the entries "
                        f"near them go unjudged for nothing")
    return {"verdict": "warn" if warnings else "pass", "declared": [float(k) for k in declared],
            "found": found, "undeclared": undeclared, "at": at, "warnings": warnings,
            "searched": [-reach, reach]}


def _last_finite(fn: Callable[[np.ndarray], np.ndarray], good: float, bad: float,
                 dtype: type) -> float:
    """Bisect between a finite input and a non-finite one, down to adjacent floats of dtype."""
    g, b = dtype(good), dtype(bad)
    for _ in range(200):
        mid = dtype(g + (b - g) / 2)
        if mid in (g, b):
            break
        if np.isfinite(fn(np.array([mid], dtype=dtype))[0]):
            g = mid
        else:
            b = mid
    return float(g)


def _kind(values: np.ndarray) -> str:
    if np.isnan(values).any():
        return "nan"
    return "inf" if (values > 0).any() else "-inf"


def _range_of(fn: Callable[[np.ndarray], np.ndarray], dtype: type) -> dict[str, Any]:
    """The interval around 0 where fn stays finite, and the non-finite stretches of the scan."""
    side = np.concatenate([np.linspace(0.0, NEAR, round(NEAR / NEAR_STEP) + 1)[:-1],
                           np.linspace(NEAR, SEARCH, round((SEARCH - NEAR) / FAR_STEP) + 1)])
    scan: np.ndarray = np.concatenate([-side[::-1], side[1:]]).astype(dtype)
    with np.errstate(all="ignore"):
        v = fn(scan)
    finite = np.isfinite(v)
    zero = len(side) - 1
    if not finite[zero]:
        return {"interval": None, "bad": [{"from": 0.0, "to": 0.0, "value": _kind(v[[zero]])}]}
    above = np.flatnonzero(~finite[zero:])
    below = np.flatnonzero(~finite[:zero + 1][::-1])
    hi = float(scan[-1]) if not above.size else _last_finite(
        fn, scan[zero + above[0] - 1], scan[zero + above[0]], dtype)
    lo = float(scan[0]) if not below.size else _last_finite(
        fn, scan[zero - below[0] + 1], scan[zero - below[0]], dtype)
    bad, start = [], None
    for i in range(len(scan) + 1):  # the non-finite stretches, for the report's table
        if i < len(scan) and not finite[i]:
            start = i if start is None else start
        elif start is not None:
            bad.append({"from": float(scan[start]), "to": float(scan[i - 1]),
                        "value": _kind(v[start:i])})
            start = None
    return {"interval": [lo, hi], "bad": bad[:6]}


def check_range(act: Any) -> dict[str, Any]:
    """Check 4: for float64 and float32, where h and dh stay finite within ±1e4."""
    out: dict[str, Any] = {"searched": [-SEARCH, SEARCH]}
    for dtype in (np.float64, np.float32):
        rows: dict[str, Any] = {}
        for key in ("h", "dh"):
            fn = getattr(act, key)

            def call(a: np.ndarray, fn: Any = fn, key: str = key) -> np.ndarray:
                try:
                    with np.errstate(all="ignore"):
                        return np.asarray(fn(a, np), dtype=np.float64).reshape(a.shape)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # a user's definition, even one calling sys.exit
                    raise FrameworkFailure(f"{key}(a, numpy) raised {exc!r:.80}") from None

            try:
                rows[key] = _range_of(call, dtype)
            except FrameworkFailure as exc:
                rows[key] = {"interval": None, "bad": [], "message": str(exc)}
        out[np.dtype(dtype).name] = {"h": rows["h"]["interval"], "dh": rows["dh"]["interval"],
                                     "detail": rows}
    return out
