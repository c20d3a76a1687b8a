"""Double backward of a custom function (``--double``), in the manner of torch's gradgradcheck.

For a drawn direction v (one array per gradient), s(inputs, dout) = Σ ⟨vᵢ, backwardᵢ(dout)⟩.
Autograd through the custom backward gives ∂s/∂inputs and ∂s/∂dout; central differences of s,
computed with the custom backward itself in float64, are the truth. Each difference carries an
error bar: FD_BAR_FACTOR times how far the estimates at steps h and 2h differ, plus the rounding
of s over h. The quantities are named ``d<grad>`` per input (``ddx``) and ``dd<out>`` for dout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from deltacheck.core import tolerances
from deltacheck.core.errors import exception_text
from deltacheck.core.verdicts import ERROR, FAIL
from deltacheck.judging.compare import Entries, judge
from deltacheck.layers.discovery import LayerSpec
from deltacheck.layers.draws import LayerCase
from deltacheck.layers.judging import CaseOutcome, message, side_by_side
from deltacheck.layers.truths import as64
from deltacheck.oracles.base import OracleUnavailable
from deltacheck.oracles.layers import get_kind

ORACLE = "fd"  # the double backward is judged with this oracle's float64 row of the table


def differences(value: Callable[[Sequence[np.ndarray]], float], points: Sequence[np.ndarray]
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Central differences of ``value`` entry by entry, and their error bars."""
    eps = float(np.finfo(np.float64).eps)
    base = abs(value(points))
    grads, bars = [], []
    for k, p in enumerate(points):
        g, bar = np.zeros(p.shape), np.zeros(p.shape)
        for i in np.ndindex(p.shape):
            h = tolerances.FD_STEP * max(1.0, abs(float(p[i])))

            def at(step: float, i: tuple[int, ...] = i, k: int = k) -> float:
                moved = [q.copy() for q in points]
                moved[k][i] += step
                return value(moved)

            g1 = (at(h) - at(-h)) / (2 * h)
            g2 = (at(2 * h) - at(-2 * h)) / (4 * h)
            g[i] = g1
            bar[i] = (tolerances.FD_BAR_FACTOR * abs(g2 - g1)
                      + tolerances.FD_ROUNDING_FACTOR * eps * max(base, 1.0) / h)
        grads.append(g)
        bars.append(bar)
    return grads, bars


def check_double(spec: LayerSpec, case: LayerCase, outcome: CaseOutcome) -> CaseOutcome:
    """The case's outcome, failed where the double backward disagrees with differences."""
    if spec.double is None or outcome.run is None:
        return outcome
    kind = get_kind(spec.kind)
    rng = np.random.default_rng(case.seed + 5)
    values = as64(case.inputs)
    inputs = [values[n] for n in kind.inputs]
    params = [case.params[p] for p in kind.params]
    dout = np.array(outcome.run.dout, dtype=np.float64)
    v = [rng.standard_normal(x.shape) for x in inputs]
    try:
        value, analytic = spec.double(inputs, params, dout, v)
        numeric, bars = differences(value, [*inputs, dout])
    except OracleUnavailable as exc:
        outcome.skipped["double"] = exception_text(exc)
        return outcome
    except Exception as exc:
        return CaseOutcome(FAIL, f"the double backward raised {type(exc).__name__}: "
                           f"{exception_text(exc)}", "raised", "double", run=outcome.run)
    names = [f"d{g}" for g in kind.grads] + ["ddout"]
    rtol = tolerances.lookup(ORACLE, "float64").rtol
    eps = float(np.finfo(np.float64).eps)
    items = [Entries(name, None, a, y, rtol, None, bar,
                     tolerances.FLOOR_FACTOR * eps * (np.abs(y) + 1.0))
             for name, a, y, bar in zip(names, analytic, numeric, bars, strict=True)]
    results = judge(items)
    outcome.results["double"] = {q.quantity: q for q in results}
    for name, a, q in zip(names, analytic, results, strict=True):
        if q.verdict in (FAIL, ERROR):
            found = {"fd": dict(zip(names, numeric, strict=True))}
            return CaseOutcome(FAIL, "double backward: " + message(name, q, ORACLE, case),
                               "double backward", name, outcome.results, side_by_side(
                                   name, q, np.asarray(a, np.float64), found), outcome.run)
    return outcome


__all__ = ["check_double", "differences"]
