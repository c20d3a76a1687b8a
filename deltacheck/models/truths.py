"""The truths of a model case: the loss and gradients of the composed reference by torch autograd
and ``jax.vjp``, their rounding floors, and central differences of the model's *own* loss.

- floors: a backward-error estimate, as for layers: FLOOR_FACTOR ε times how far the true
  gradient moves per unit relative perturbation of the parameters and inputs (measured on the
  reference along two random sign directions), plus the value itself and the case's largest
  gradient.
- fd: one parameter entry at a time, (L(p + h) − L(p − h)) / 2h of ``model.loss(X, y)``; its
  error bar is FD_BAR_FACTOR times the truncation term h² L‴/6 measured by a third difference
  (one more call), plus FD_ROUNDING_FACTOR ε |L| / h.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from deltacheck.core.tolerances import FD_BAR_FACTOR, FD_ROUNDING_FACTOR, FD_STEP, FLOOR_FACTOR
from deltacheck.oracles.layers.composed import Step, loss_and_grads, scores

ETA = 1e-7  # the relative perturbation of the floor's estimate


def reference(steps: Sequence[Step], framework: str, X: np.ndarray, y: np.ndarray,
              values: Mapping[str, np.ndarray], weights: Sequence[str], reg: float,
              l2: float) -> tuple[float, dict[str, np.ndarray]]:
    """The composed reference's loss and gradients in ``framework`` (float64)."""
    return loss_and_grads(steps, framework, X, y, values, weights=weights, reg=reg, l2=l2)


def floors(steps: Sequence[Step], framework: str, X: np.ndarray, y: np.ndarray,
           values: Mapping[str, np.ndarray], weights: Sequence[str], reg: float, l2: float,
           loss: float, truth: Mapping[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Per entry: FLOOR_FACTOR ε (|∂g/∂(params, X)| · relative perturbation + |g| + max |g|);
    the loss's under ``"loss"``."""
    eps = float(np.finfo(np.float64).eps)
    rng = np.random.default_rng(seed + 3)
    both = {"loss": np.asarray(loss), **truth}
    moved = {name: np.zeros(np.shape(v)) for name, v in both.items()}
    for _ in range(2):
        shaken = {n: v * (1 + ETA * rng.choice([-1.0, 1.0], np.shape(v)))
                  for n, v in values.items()}
        X2 = X * (1 + ETA * rng.choice([-1.0, 1.0], X.shape))
        value, grads = reference(steps, framework, X2, y, shaken, weights, reg, l2)
        for name, other in {"loss": np.asarray(value), **grads}.items():
            moved[name] = np.maximum(moved[name], np.abs(other - both[name]) / ETA)
    scale = max(float(np.max(np.abs(v), initial=0.0)) for v in truth.values())
    out = {name: FLOOR_FACTOR * eps * (moved[name] + np.abs(value) + scale) + eps**2
           for name, value in truth.items()}
    out["loss"] = FLOOR_FACTOR * eps * (moved["loss"] + abs(loss)) + eps**2
    return out


def scores_floor(steps: Sequence[Step], X: np.ndarray, values: Mapping[str, np.ndarray],
                 want: np.ndarray, seed: int) -> np.ndarray:
    """The same estimate for the reference's scores (numpy)."""
    eps = float(np.finfo(np.float64).eps)
    rng = np.random.default_rng(seed + 4)
    moved = np.zeros(want.shape)
    for _ in range(2):
        shaken = {n: v * (1 + ETA * rng.choice([-1.0, 1.0], np.shape(v)))
                  for n, v in values.items()}
        X2 = X * (1 + ETA * rng.choice([-1.0, 1.0], X.shape))
        moved = np.maximum(moved, np.abs(scores(steps, "numpy", X2, shaken) - want) / ETA)
    return FLOOR_FACTOR * eps * (moved + np.abs(want) + float(np.max(np.abs(want)))) + eps**2


def fd(loss: Callable[[dict[str, np.ndarray]], float], values: Mapping[str, np.ndarray],
       names: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """Central differences of ``loss`` for every entry of ``names`` and their error bars;
    None when the loss raises or is not finite there."""
    base = {n: np.array(v, dtype=np.float64) for n, v in values.items()}
    grads, bars = {}, {}
    try:
        f0 = float(loss(base))
        for name in names:
            p = base[name].reshape(-1)
            g, bar = np.zeros(p.size), np.zeros(p.size)
            for i in range(p.size):
                h = FD_STEP * max(1.0, abs(p[i]))
                plus, minus = (p[i] + h) - p[i], p[i] - (p[i] - h)  # the steps actually taken
                f_p, f_m, f_2 = (float(loss(_moved(base, name, i, step)))
                                 for step in (plus, -minus, 2 * plus))
                g[i] = (f_p - f_m) / (plus + minus)
                third = f_2 - 3 * f_p + 3 * f0 - f_m  # ≈ h³ L‴
                bar[i] = (FD_BAR_FACTOR * abs(third) / (6 * h)
                          + FD_ROUNDING_FACTOR * float(np.finfo(np.float64).eps) * abs(f0) / h)
            grads[name] = g.reshape(base[name].shape)
            bars[name] = bar.reshape(base[name].shape)
    except Exception:
        return None
    if not all(np.all(np.isfinite(v)) for v in grads.values()):
        return None
    return grads, bars


def _moved(base: Mapping[str, np.ndarray], name: str, i: int, step: float) -> dict[str, Any]:
    value = base[name].copy()
    value.reshape(-1)[i] += step
    return {**base, name: value}
