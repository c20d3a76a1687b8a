"""What a gradient costs: one forward pass, forward + backward, and central differences.

Backprop gets all P derivatives for a small constant multiple of one forward pass; central
differences need two forward passes per parameter, each costing ∝ P, so ∝ P² in all. The
reference implementation is timed on networks of growing width. Central differences at the
larger widths would take minutes, so they are timed on a fixed sample of parameters and
scaled to all P: every parameter costs the same two forward passes (the report sets each
time beside 2P forward passes, so that a reader can see how far that holds).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.core import activations as registry
from deltacheck.reference_impl import LOSSES, backprop, forward

WIDTHS = (16, 32, 64, 128, 256, 512)
N_IN, N_OUT, BATCH = 32, 8, 256
FD_SAMPLE = 32  # parameters timed by central differences at widths where all P would be slow
FD_FULL_UP_TO = 1500  # below this many parameters, every parameter is timed
# ReLU costs next to nothing per unit, so the matrix products (∝ P) dominate a pass from
# modest widths on; tanh's exp, ∝ units ∝ √P, would hide the scaling below width ~500.
HIDDEN = "relu"


def network(width: int, rng: np.random.Generator,
            ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    """Two ReLU hidden layers of ``width`` units; inputs, targets and parameters."""
    widths = (N_IN, width, width, N_OUT)
    W = [rng.normal(0, 1 / math.sqrt(widths[l]), (widths[l + 1], widths[l])) for l in range(3)]
    b = [np.zeros(n) for n in widths[1:]]
    x = rng.normal(size=(BATCH, N_IN))
    t = rng.dirichlet(np.ones(N_OUT), size=BATCH)
    return W, b, x, t


def params(W: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> int:
    """P, the number of weights and biases."""
    return sum(w.size for w in W) + sum(v.size for v in b)


def seconds(*fns: Callable[[], Any], budget: float = 0.01, repeats: int = 5) -> list[float]:
    """The fastest time of one call of each function, over ``repeats`` rounds.

    Time is the process's CPU time, not the wall clock: on a shared machine the wall clock
    also counts the time other processes hold the core. Each round runs every function in
    turn, often enough to fill ``budget``; the minimum over rounds, as timeit advises, because
    interference (caches, frequency) only ever adds time.
    """
    counts = []
    for fn in fns:
        t0 = time.process_time()
        fn()
        counts.append(max(1, int(budget / max(time.process_time() - t0, 1e-7))))
    best = [math.inf] * len(fns)
    for _ in range(repeats):
        for k, (fn, n) in enumerate(zip(fns, counts, strict=True)):
            t0 = time.process_time()
            for _ in range(n):
                fn()
            best[k] = min(best[k], (time.process_time() - t0) / n)
    return best


def central_differences(W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, t: np.ndarray,
                        which: Sequence[tuple[int, int]]) -> list[float]:
    """∂E/∂p ≈ (E(p + h) − E(p − h)) / 2h, one parameter at a time: two forward passes each.

    ``which`` lists (array, flat index) pairs over [*W, *b].
    """
    hidden = [registry.get(HIDDEN)] * 2
    loss = LOSSES["ce"]
    arrays = [*W, *b]

    def E() -> float:
        a, _ = forward(W, b, hidden, x, loss.output)
        return loss.value(a[-1], t)

    out = []
    for k, i in which:
        p = arrays[k].reshape(-1)  # a view: writing p writes the network's parameter
        keep = p[i]
        h = 1e-5 * max(1.0, abs(keep))
        p[i] = keep + h
        e_plus = E()
        p[i] = keep - h
        e_minus = E()
        p[i] = keep
        out.append((e_plus - e_minus) / (2 * h))
    return out


def measure(width: int, rng: np.random.Generator) -> dict[str, Any]:
    """Forward, forward + backward and central differences at one width."""
    W, b, x, t = network(width, rng)
    hidden = [registry.get(HIDDEN)] * 2
    loss = LOSSES["ce"]
    P = params(W, b)

    def fwd() -> float:
        a, _ = forward(W, b, hidden, x, loss.output)
        return loss.value(a[-1], t)

    forward_s, backprop_s = seconds(fwd, lambda: backprop(W, b, [HIDDEN, HIDDEN], "ce", x, t))
    everything = [(k, i) for k, arr in enumerate([*W, *b]) for i in range(arr.size)]
    full = P <= FD_FULL_UP_TO
    which = everything if full else [everything[j] for j in
                                     rng.choice(P, size=FD_SAMPLE, replace=False)]
    t0 = time.process_time()
    central_differences(W, b, x, t, which)
    per_param = (time.process_time() - t0) / len(which)
    return {"params": P, "forward_s": forward_s, "backprop_s": backprop_s,
            "fd_s": per_param * P, "width": width, "fd_timed_params": len(which),
            "fd_full": full}


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of log y against log x."""
    lx, ly = np.log10(np.asarray(xs, float)), np.log10(np.asarray(ys, float))
    return float(np.polyfit(lx, ly, 1)[0]) if len(lx) > 1 else math.nan


RATIO_AT_MOST = 5.0  # (forward + backward) / forward at every width: "a small constant"
FD_SLOPE = (0.7, 1.3)  # the fitted log-log slope of fd / backprop against P: "grows like P"


def claim_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The cost's two claims with their measured ranges and verdicts (NaN never holds)."""
    r = summary["ratio"]
    fd_ratio = [row["fd_s"] / row["backprop_s"] for row in summary["rows"]]
    lo, hi = FD_SLOPE
    slope_fd = summary["fd_over_backprop_slope"]
    return [
        {"claim": "(forward + backward) / forward is a small constant",
         "holds": bool(1.0 <= r["min"] and r["max"] <= RATIO_AT_MOST),
         "measured": [r["min"], r["max"]], "needed": [1.0, RATIO_AT_MOST],
         "text": f"cost: (forward + backward) / forward is a small constant — between "
                 f"{r['min']:.2f} and {r['max']:.2f} at every width (needed 1 to "
                 f"{RATIO_AT_MOST:g})"},
        {"claim": "fd / backprop grows like P",
         "holds": bool(lo <= slope_fd <= hi),
         "measured": slope_fd, "needed": [lo, hi],
         "range": [min(fd_ratio), max(fd_ratio)] if fd_ratio else [],
         "text": f"cost: finite differences / backprop grows like P — fitted slope "
                 f"{slope_fd:.2f} (needed {lo} to {hi}), from {min(fd_ratio):,.0f} to "
                 f"{max(fd_ratio):,.0f} times dearer" if fd_ratio else "cost: no widths timed"},
    ]


def claims(summary: dict[str, Any]) -> list[tuple[bool, str]]:
    """The cost's claims as (holds, text)."""
    return [(row["holds"], row["text"]) for row in claim_rows(summary)]


ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                      "MKL_NUM_THREADS")}


def run(widths: Sequence[int] = WIDTHS, *, seed: int = 0) -> dict[str, Any]:
    """Timings at every width, taken in a fresh process with one BLAS thread.

    BLAS picks its thread count when numpy loads, and several threads on a shared machine
    make a matrix product's time jump with contention, not with its size: the measurement
    would be of the machine's load, not of the algorithm.
    """
    cmd = [sys.executable, "-m", "deltacheck.demo.cost", str(seed), *map(str, widths)]
    done = subprocess.run(cmd, env={**os.environ, **ONE_THREAD}, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the timing process failed: {done.stderr.strip()[-400:]}")
    return summarise(json.loads(done.stdout))


def measure_all(widths: Sequence[int], seed: int) -> list[dict[str, Any]]:
    """One row of timings per width (in this process, as it is configured)."""
    rng = np.random.default_rng(seed)
    return [measure(w, rng) for w in widths]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows with the fitted log-log slopes and the backprop/forward ratios."""
    P = [r["params"] for r in rows]
    ratios = [r["backprop_s"] / r["forward_s"] for r in rows]
    return {
        "rows": rows,
        "slopes": {q: slope(P, [r[q] for r in rows]) for q in ("forward_s", "backprop_s", "fd_s")},
        # how much dearer central differences are than backprop: ∝ P whatever the machine
        "fd_over_backprop_slope": slope(P, [r["fd_s"] / r["backprop_s"] for r in rows]),
        "ratio": {"min": min(ratios), "median": float(np.median(ratios)), "max": max(ratios)},
        "batch": BATCH, "n_in": N_IN, "n_out": N_OUT, "fd_sample": FD_SAMPLE,
    }


if __name__ == "__main__":
    print(json.dumps(measure_all([int(w) for w in sys.argv[2:]], int(sys.argv[1]))))
