"""Finite differences' step: the error of a central difference against the step h (the V).

    (E(p + h) − E(p − h)) / 2h = ∂E/∂p + h² E‴/6 + O(ε E / h)

Truncation grows like h² (the right arm of the V, slope 2 on log-log axes) and rounding like
ε/h (the left arm, slope −1); the two meet near h ≈ ε^(1/3) ≈ 6e-6. The truth is torch
autograd's gradient; the error at each h is the median over a few parameters of a small network.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deltacheck.core import activations as registry
from deltacheck.reference_impl import LOSSES, forward

WIDTHS, HIDDEN, LOSS = (3, 6, 2), ("tanh",), "ce"
STEPS = np.logspace(-13, -1, 49)
PARAMETERS = 8  # weights of the first layer whose derivatives are taken
EPS = float(np.finfo(np.float64).eps)
BEST_WITHIN = 30.0  # the best step is within this factor of ε^(1/3)
TRUNCATION = (1.6, 2.4)  # fitted slope of the right arm
ROUNDING = (-1.4, -0.6)  # fitted slope of the left arm


def run(seed: int) -> dict[str, Any]:
    """The median relative error of a central difference at every step in ``STEPS``."""
    from deltacheck.oracles import torch_oracle

    rng = np.random.default_rng(seed)
    W = [rng.normal(0, 1, (WIDTHS[l + 1], WIDTHS[l])) for l in range(len(WIDTHS) - 1)]
    b = [rng.normal(0, 0.5, n) for n in WIDTHS[1:]]
    x = rng.normal(size=(4, WIDTHS[0]))
    t = rng.dirichlet(np.ones(WIDTHS[-1]), size=4)
    hidden = [registry.get(h) for h in HIDDEN]
    loss = LOSSES[LOSS]
    truth = torch_oracle.gradients(W, b, hidden, LOSS, x, t).grad_weights[0].reshape(-1)

    def E() -> float:
        a, _ = forward(W, b, hidden, x, loss.output)
        return loss.value(a[-1], t)

    p = W[0].reshape(-1)  # a view: writing p writes the weights
    errors = np.empty((len(STEPS), PARAMETERS))
    for i in range(PARAMETERS):
        keep = p[i]
        for k, h in enumerate(STEPS):
            p[i] = keep + h
            up = E()
            p[i] = keep - h
            down = E()
            p[i] = keep
            errors[k, i] = abs((up - down) / (2 * h) - truth[i]) / abs(truth[i])
    return measured([float(h) for h in STEPS], np.median(errors, axis=1).tolist())


def _arm_slope(h: np.ndarray, err: np.ndarray) -> float:
    ok = err > 0
    if ok.sum() < 3:
        return math.nan
    return float(np.polyfit(np.log10(h[ok]), np.log10(err[ok]), 1)[0])


def measured(steps: list[float], errors: list[float]) -> dict[str, Any]:
    """The curve with its best step and the slopes of its two arms (a decade clear of the best)."""
    h, err = np.asarray(steps), np.asarray(errors)
    finite = np.isfinite(err)
    best = float(h[finite][np.argmin(err[finite])]) if finite.any() else math.nan
    left = finite & (h <= best / 10)
    right = finite & (h >= best * 10)
    return {"steps": steps, "errors": errors, "best_step": best,
            "best_error": float(err[finite].min()) if finite.any() else math.nan,
            "eps_cbrt": EPS ** (1 / 3), "rounding_slope": _arm_slope(h[left], err[left]),
            "truncation_slope": _arm_slope(h[right], err[right])}


def claims(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The V: the arms' slopes and the best step beside ε^(1/3) (NaN never holds)."""
    best, cbrt = doc["best_step"], doc["eps_cbrt"]
    factor = max(best / cbrt, cbrt / best) if best > 0 else math.inf
    lo_t, hi_t = TRUNCATION
    lo_r, hi_r = ROUNDING
    return [
        {"holds": bool(lo_t <= doc["truncation_slope"] <= hi_t and
                       lo_r <= doc["rounding_slope"] <= hi_r),
         "text": f"finite differences' step: the error is a V — truncation ∝ h^"
                 f"{doc['truncation_slope']:.2f} (needed {lo_t} to {hi_t}), rounding ∝ h^"
                 f"{doc['rounding_slope']:.2f} (needed {lo_r} to {hi_r})"},
        {"holds": bool(factor <= BEST_WITHIN),
         "text": f"finite differences' step: the best step {best:.1e} (error {doc['best_error']:.1e})"
                 f" is within a factor of {factor:.1f} of ε^(1/3) = {cbrt:.1e} "
                 f"(needed {BEST_WITHIN:g})"},
    ]
