"""Check 1: the hand-written dh against torch autograd, jax grad and central differences of h.

Points: batches drawn by Hypothesis (uniform over [−50, 50] and log-uniform magnitudes up to
1e4, steered by ``target()`` toward the largest error), the special points 0, ±1e-300, ±1e-8,
a fixed ladder of magnitudes from 1e-8 to 1e4, both sides of every kink, a dense grid over
[−20, 20] that finds a derivative wrong only in a narrow band, and fixed grids beyond it (0.01
apart out to ±100, 0.1 out to ±1000) so that a narrow band far out is met by every seed. Every
point is judged by the rule of ``run``, with s = |y| of that point:

    |dh − y| ≤ rtol |y| + u + floor,

rtol from the tolerance table (float64 rows), u the finite differences' own error bar (with
the measured error of h: log cosh near 0 is off by ε however small h is) and the floor 16 ε
(max(1, |h'|) + |a| |h''|) of deltacheck.judging.rounding plus the conditioning of h' itself
(``conditioning``: how far dh and autograd's h' move when tanh, exp, cosh… are 16 ε off).
err = |dh − y| / (|y| + (u + floor) / rtol), so a point passes iff err ≤ rtol; a non-finite dh
or oracle value never passes. Where the oracles disagree with each other, ``summary.widen``
judges the point to the widest of their bars. Exactly at a kink torch and jax follow their own
conventions, and a central difference within its steps of a kink straddles it: those points
are counted as not judged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from deltacheck.audit import conditioning
from deltacheck.audit.frameworks import FrameworkFailure, NumpyEval, evaluator
from deltacheck.audit.summary import json_value, summarise, widen
from deltacheck.audit.summary import score as _score
from deltacheck.core import tolerances
from deltacheck.core.tolerances import (
    FD_BAR_FACTOR,
    FD_ROUNDING_FACTOR,
    FD_STEP,
    KINK_SLACK_FACTOR,
)
from deltacheck.judging import rounding

SPECIAL = (0.0, 1e-300, -1e-300, 1e-8, -1e-8)
GRID = (-20.0, 20.0, 40_001)  # spacing 0.001: a band 0.5 wide holds 500 points
BATCH = 64  # points per Hypothesis example; one size, so that jax compiles once
DRAW_RANGE, LOG_MAX = 50.0, 4.0
KINK_SIDES = (1e-9, 1e-5)  # relative distances from a kink at which both sides are checked


# Beyond the dense grid, fixed grids out to the draws' reach: a band 0.5 wide beyond ±20
# holds 50 of their points (5 beyond ±100), whatever the seed.
FAR = ((20.0, 100.0, 0.01), (100.0, 1000.0, 0.1))
KINK_FAR = ((20.0, 100.0, 0.01), (100.0, 10.0**LOG_MAX, 0.1))  # the kink search: every draw


def grid() -> np.ndarray:
    """The dense grid over [−20, 20]."""
    lo, hi, n = GRID
    return np.linspace(lo, hi, n)


def far_segments(far: Sequence[tuple[float, float, float]] = FAR) -> list[np.ndarray]:
    """Evenly spaced grids on either side beyond the dense one, each open at its inner end."""
    out = []
    for lo, hi, step in far:
        side = np.linspace(lo, hi, round((hi - lo) / step) + 1)[1:]
        out += [side, -side[::-1]]
    return out


def far_grid() -> np.ndarray:
    """The fixed points beyond the dense grid: 0.01 apart out to ±100, 0.1 out to ±1000."""
    return np.concatenate(far_segments())


def special_points(kinks: Sequence[float]) -> np.ndarray:
    """0, ±1e-300, ±1e-8, ±10**u for u every 0.05 in [−8, 4] (so every decade out to 1e4 is
    met, whatever Hypothesis draws), and each kink with points just left and right of it."""
    ladder = 10.0 ** np.linspace(-8.0, LOG_MAX, 241)
    pts = [*SPECIAL, *ladder, *(-ladder)]
    for k in kinks:
        scale = max(1.0, abs(k))
        pts += [k, *(k + sign * d * scale for d in KINK_SIDES for sign in (-1, 1))]
    return np.array(pts, dtype=np.float64)


def points_strategy() -> st.SearchStrategy[list[float]]:
    """A batch of points: uniform over [−50, 50], or ± 10**u with u uniform in [−8, 4]."""
    uniform = st.floats(-DRAW_RANGE, DRAW_RANGE, allow_nan=False)
    log_uniform = st.builds(lambda s, u: s * 10.0**u, st.sampled_from((-1.0, 1.0)),
                            st.floats(-8.0, LOG_MAX))
    return st.lists(st.one_of(uniform, log_uniform), min_size=1, max_size=BATCH)


def fd_derivative(ev: NumpyEval, a: np.ndarray, h_err: np.ndarray | float = 0.0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central differences of h with an error bar fitted to the steps s, 2s and 4s (as the fd
    oracle), plus the rounding of h (at least ``h_err``, its measured error); and the step s."""
    s = FD_STEP * np.maximum(1.0, np.abs(a))
    with np.errstate(all="ignore"):
        D1, D2, D4 = ((ev.h(a + k * s) - ev.h(a - k * s)) / (2 * k * s) for k in (1, 2, 4))
        c2 = ((D4 - D2) - 2 * (D2 - D1)) / 6  # c₂s²
        c1 = (D2 - D1) - 3 * c2  # c₁s
        # each h(a ± s) is off by ε (|h| + |a| + |a h'|), as in the rounding floor: a Φ(a) and
        # friends cancel for a < 0, and the argument a ± s is rounded too
        size = np.abs(ev.h(a)) + np.abs(a) * (1.0 + np.abs(D1))
        # log cosh near 0: cosh rounds to 1, so h is off by ε however small |h| + |a| is
        noise = FD_ROUNDING_FACTOR * np.maximum(rounding.EPS64 * size, h_err) / s
        return D1, FD_BAR_FACTOR * (np.abs(c1) + np.abs(c2)) + noise, s


def _near(a: np.ndarray, kinks: Sequence[float], reach: np.ndarray | float) -> np.ndarray:
    mask = np.zeros(a.shape, dtype=bool)
    for k in kinks:
        mask |= np.abs(a - k) <= reach
    return mask


def judge(act: Any, a: np.ndarray, oracles: Sequence[str], kinks: Sequence[float],
          evals: dict[str, Any]) -> dict[str, Any]:
    """Every point against every oracle: values, error bars, err and the judged masks."""
    a = np.asarray(a, dtype=np.float64)
    num = evals["numpy"]
    dh = num.dh(a)
    slope, curve = rounding.derivative_bounds(act, a)
    # the conditioning of h′ itself: what a few ulp in tanh, exp, cosh… do to dh and to h′
    floor = rounding.elementwise_floor(a, slope, curve, "float64") + np.maximum(
        conditioning.dh_error(act, a, dh), conditioning.grad_error(act, a))
    h_err = conditioning.h_error(act, a, num.h(a))
    out: dict[str, Any] = {"a": a, "dh": dh, "values": {}, "bar": {}, "err": {}, "judged": {},
                           "problem": {}}
    for name in oracles:
        rtol = tolerances.lookup(name, "float64").rtol
        if name == "fd":
            y, u, s = fd_derivative(num, a, h_err)
            # within the largest step (4s) of a kink, the difference straddles it
            judged = ~_near(a, kinks, 4 * s + 4 * rounding.EPS64 * np.abs(a))
        else:
            ev = evals[name]  # setup() puts every framework oracle in
            if isinstance(ev, str):  # the framework could not even be set up
                out["problem"][name] = ev
                y = np.full(a.shape, np.nan)
            else:
                try:
                    y = ev.grad(a)
                except FrameworkFailure as exc:
                    out["problem"][name] = str(exc)
                    y = np.full(a.shape, np.nan)
            u = np.zeros(a.shape)
            # exactly at a kink (to a's own rounding) the frameworks' conventions differ
            judged = ~_near(a, kinks, KINK_SLACK_FACTOR * rounding.EPS64 * np.maximum(1.0, np.abs(a)))
        with np.errstate(all="ignore"):
            diff = np.abs(dh - y)
            err = diff / (np.abs(y) + (u + floor) / rtol)
        err = np.where(diff == 0, 0.0, err)
        err = np.where(np.isfinite(dh) & np.isfinite(y) & np.isfinite(err), err, np.inf)
        out["values"][name], out["bar"][name], out["err"][name] = y, u, err
        # a non-finite dh fails wherever it sits, judged or not
        out["judged"][name] = judged | ~np.isfinite(dh)
    widen(out, floor)
    return out


def concat(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One judgement from several."""
    first = parts[0]
    out: dict[str, Any] = {"a": np.concatenate([p["a"] for p in parts]),
                           "dh": np.concatenate([p["dh"] for p in parts]), "problem": {},
                           "widened": np.concatenate([p["widened"] for p in parts])}
    for key in ("values", "bar", "err", "judged"):
        out[key] = {o: np.concatenate([p[key][o] for p in parts]) for o in first[key]}
    for p in parts:
        for o, msg in p["problem"].items():
            out["problem"].setdefault(o, msg)
    return out


def drawn(act: Any, oracles: Sequence[str], kinks: Sequence[float], evals: dict[str, Any], *,
          batches: int, seed: int) -> dict[str, Any]:
    """Hypothesis draws ``batches`` batches of points, steered toward the largest error."""
    parts: list[dict[str, Any]] = []

    def test(points: list[float]) -> None:
        a = np.array(points + [points[0]] * (BATCH - len(points)), dtype=np.float64)
        j = judge(act, a, oracles, kinks, evals)
        parts.append(j)
        for name in oracles:
            worst = float(_score(j, name).max())
            target(50.0 if not math.isfinite(worst) else math.log10(max(worst, 1e-30)),
                   label=f"log10(err/rtol) {name}")

    run = hypothesis_seed(seed)(settings(
        max_examples=batches, deadline=None, database=None, phases=(Phase.generate, Phase.target),
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
        print_blob=False)(given(points_strategy())(test)))
    run()
    return concat(parts)


def plot_data(j: dict[str, Any], oracles: Sequence[str], bins: int = 800) -> dict[str, Any]:
    """Downsampled curves over the grid's range for the report: h, dh, autograd, worst err."""
    lo, hi, _ = GRID
    inside = (j["a"] >= lo) & (j["a"] <= hi)
    a = j["a"][inside]
    order = np.argsort(a, kind="stable")
    a = a[order]
    which = np.unique(np.linspace(0, len(a) - 1, 401).astype(int)) if len(a) else np.array([], int)
    ref = next((o for o in ("torch", "jax", "fd") if o in j["values"]), None)
    out: dict[str, Any] = {"a": [float(v) for v in a[which]],
                           "dh": [json_value(float(v)) for v in j["dh"][inside][order][which]],
                           "autograd": ([json_value(float(v)) for v in
                                         j["values"][ref][inside][order][which]] if ref else []),
                           "autograd_name": ref or "", "err": {}}
    edges = np.linspace(lo, hi, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    slot = np.clip(np.searchsorted(edges, a, side="right") - 1, 0, bins - 1)
    for name in oracles:
        rtol = tolerances.lookup(name, "float64").rtol
        err = np.where(j["judged"][name][inside][order], j["err"][name][inside][order], np.nan)
        worst = np.full(bins, np.nan)
        for b in np.unique(slot):  # the largest err per bin, so a narrow band stays visible
            vals = err[slot == b]
            vals = vals[~np.isnan(vals)]
            if vals.size:
                worst[b] = vals.max()
        out["err"][name] = {"rtol": rtol, "a": [float(c) for c in centres],
                            "err": [json_value(float(v)) for v in worst]}
    return out


def setup(act: Any, oracles: Sequence[str]) -> dict[str, Any]:
    """The evaluators the oracles need, or the reason a framework could not be set up."""
    evals: dict[str, Any] = {"numpy": NumpyEval(act)}
    for name in oracles:
        if name in ("torch", "jax"):
            try:
                evals[name] = evaluator(name, act)
            except FrameworkFailure as exc:
                evals[name] = str(exc)
    return evals


def check_derivative(act: Any, oracles: Sequence[str], kinks: Sequence[float], *,
                     batches: int, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check 1; returns its JSON record and the plot data."""
    evals = setup(act, oracles)
    fixed = judge(act, np.concatenate([special_points(kinks), grid(), far_grid()]), oracles,
                  kinks, evals)
    parts = [fixed]
    if batches:
        parts.append(drawn(act, oracles, kinks, evals, batches=batches, seed=seed))
    j = concat(parts)
    return summarise(j, oracles), plot_data(fixed, oracles)
