"""How far rounding alone can move a correct implementation: the floor under every tolerance.

A computed δ_j = h'(a_j) Σ_k w_kj δ_k can lose all its relative accuracy when the sum cancels,
but its absolute error stays below a small multiple of ε times the magnitudes it is built
from. This module runs that first-order error analysis, in units of ε:

  forward   A[l] = (Z[l] + |z[l]|) |W[l]|ᵀ + |b[l]|          (error of a[l])
            Z[l+1] = |h'(a[l])| A[l] + |z[l+1]| + |a[l]|        (error of z[l+1])
  output    D[L−1] = |y| + |t| + |∂y/∂a| A[L−1]                (error of δ = y − t)
  backward  D[l] = |h'| (D[l+1] + |δ[l+1]|) |W[l+1]| + (|h''| A[l] + max(1, |h'|)) B[l],
            B[l] = |δ[l+1]| |W[l+1]|
  gradients M(∂W[l]) = (D[l] + |δ[l]|)ᵀ |z[l]| + |δ[l]|ᵀ Z[l],  M(∂b[l]) = Σ_n (D[l] + |δ[l]|)
  loss      M(E) = Σ |δ[L−1]| A[L−1] + the absolute values of E's terms

|δ| is the oracle's; |h'| and |h''| are central differences of h (never an implementation's
dh): only their size matters, to a digit or so. The floor is FLOOR_FACTOR ε M in the
implementation's dtype (deltacheck/core/tolerances.py holds every constant); tests/test_rounding.py
measures how much of it correct code uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltacheck.core import tolerances
from deltacheck.core.case import Case
from deltacheck.core.gradients import Gradients
from deltacheck.core.tolerances import CURVE_RESOLUTION, FD_STEP, FLOOR_FACTOR, SLOPE_RESOLUTION
from deltacheck.oracles.base import kinks_of, loss_terms_magnitude

__all__ = ["FLOOR_FACTOR", "Forward", "floors", "floors_of_each", "forward", "magnitudes"]

_EPS = float(np.finfo(np.float64).eps)


def _derivatives(act: Any, a: np.ndarray,
                 h_a: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on |h'(a)| and |h''(a)|: differences of h plus their own resolution.

    Near a kink the curvature is differenced one-sidedly, on a's side: a difference across
    the kink would read its jump in h' as a curvature of 1/step, and carry that size to every
    layer. The slope bound there is the larger of the two sides. ``h_a`` is h(a), if known.
    """
    step1 = FD_STEP * np.maximum(1.0, np.abs(a))
    step2 = _EPS ** 0.25 * np.maximum(1.0, np.abs(a))
    side = np.zeros(a.shape)  # 0: central; ±1: one-sided, away from the kink
    for k in kinks_of(act):
        side = np.where(np.abs(a - k) < 2 * step2, np.where(a >= k, 1.0, -1.0), side)
    with np.errstate(all="ignore"):
        h_a = act.h(a, np) if h_a is None else h_a
        h = np.abs(h_a)
        if not side.any():  # central differences everywhere (what follows, in fewer calls)
            first = np.abs(act.h(a + step1, np) - act.h(a - step1, np)) / (2 * step1)
            second = (act.h(a + step2, np) - 2 * h_a + act.h(a - step2, np)) / step2**2
            return (first + SLOPE_RESOLUTION * _EPS * h / step1,
                    np.abs(second) + CURVE_RESOLUTION * _EPS * h / step2**2)
        # central: points a − s, a, a + s; one-sided: a, a + σs, a + 2σs
        lo, mid = np.where(side == 0, -1.0, 0.0), np.where(side == 0, 0.0, side)
        hi = np.where(side == 0, 1.0, 2 * side)
        # The slope bound takes both sides: rounding may move the implementation's a across
        # the kink, and its z then grows with the other side's slope.
        first = np.maximum(
            np.abs(act.h(a + step1, np) - act.h(a - step1, np)) / (2 * step1),
            np.where(side == 0, 0.0, np.maximum(
                np.abs(act.h(a + 2 * step1, np) - h_a),
                np.abs(h_a - act.h(a - 2 * step1, np))) / (2 * step1)))
        second = (act.h(a + hi * step2, np) - 2 * act.h(a + mid * step2, np)
                  + act.h(a + lo * step2, np)) / step2**2
        # A difference of h cannot see a slope below about ε|h|/step: an ELU far below 0 has
        # h' = e^a, which the difference reads as 0; the bound must not.
        return (np.abs(first) + SLOPE_RESOLUTION * _EPS * h / step1,
                np.abs(second) + CURVE_RESOLUTION * _EPS * h / step2**2)


def output_and_slope(loss: str, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y = g(a) and a bound on |∂y/∂a| per entry."""
    if loss == "mse":
        return a, np.ones_like(a)
    if loss in ("bce", "mse_sigmoid"):
        y = np.exp(-np.logaddexp(0.0, -a))
        return y, y * np.exp(-np.logaddexp(0.0, a))  # σ(a) σ(−a)
    if loss == "mse_tanh":
        y = np.tanh(a)
        return y, 1.0 - y * y
    shifted = a - a.max(axis=1, keepdims=True)
    y = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return y, 2 * y  # |dy_k| ≤ y_k (|da_k| + Σ_j y_j |da_j|)


@dataclass(frozen=True)
class Forward:
    """The truth-independent half of the analysis: one float64 forward pass and its bounds."""

    W: list[np.ndarray]  # |W[l]|
    signed_W: list[np.ndarray]
    b: list[np.ndarray]
    t: np.ndarray
    a: list[np.ndarray]
    z: list[np.ndarray]
    Z: list[np.ndarray]  # error of z[l], in units of ε
    A: list[np.ndarray]  # error of a[l], in units of ε
    slope: list[np.ndarray]  # bounds on |h'(a[l])| and |h''(a[l])| of the hidden layers
    curve: list[np.ndarray]
    D_out: np.ndarray  # error of the output δ = y − t
    loss_terms: float


def forward(case: Case, activations: Sequence[Any]) -> Forward:
    """The forward half of ``magnitudes``: computed once per case, shared by every oracle."""
    W = [np.abs(np.asarray(w, dtype=np.float64)) for w in case.weights]
    signed_W = [np.asarray(w, dtype=np.float64) for w in case.weights]
    b = [np.asarray(v, dtype=np.float64) for v in case.biases]
    t = np.asarray(case.t, dtype=np.float64)
    z = [np.asarray(case.x, dtype=np.float64)]
    Z = [np.zeros_like(z[0])]  # x is given exactly
    a, A, slope, curve = [], [], [], []
    for l in range(len(W)):
        a.append(z[l] @ signed_W[l].T + b[l])
        A.append((Z[l] + np.abs(z[l])) @ W[l].T + np.abs(b[l]))
        if l < len(W) - 1:
            z.append(activations[l].h(a[l], np))
            first, second = _derivatives(activations[l], a[l], z[-1])
            slope.append(first)
            curve.append(second)
            # evaluating h costs about ε (|h| + |a|): a Φ(a) and friends cancel for a < 0
            Z.append(first * A[l] + np.abs(z[-1]) + np.abs(a[l]))
    y, dy = output_and_slope(case.loss, a[-1])
    A_out = A[-1] + (A[-1].max(axis=1, keepdims=True) if case.loss == "ce" else 0.0)
    return Forward(W=W, signed_W=signed_W, b=b, t=t, a=a, z=z, Z=Z, A=A, slope=slope, curve=curve,
                   D_out=np.abs(y) + np.abs(t) + dy * A_out,
                   loss_terms=loss_terms_magnitude(case.loss, a[-1], t))


def magnitudes(case: Case, activations: Sequence[Any], truth: Gradients, *,
               forward_pass: Forward | None = None) -> dict[str, Any]:
    """M, in units of ε, for the loss and for every δ, ∂W and ∂b of the case."""
    m = _magnitudes(forward_pass or forward(case, activations), [np.abs(d) for d in truth.deltas])
    return {**m, "loss": float(m["loss"])}


def _magnitudes(f: Forward, delta: list[np.ndarray]) -> dict[str, Any]:
    """M from the forward half and |δ|; |δ| may be stacked (one set per oracle) on a first axis."""
    W, z, Z, A, slope, curve = f.W, f.z, f.Z, f.A, f.slope, f.curve
    D = [np.broadcast_to(f.D_out, delta[-1].shape)]
    for l in reversed(range(len(W) - 1)):
        back = delta[l + 1] @ W[l + 1]
        # h' itself is often computed as 1 − tanh², σ(1 − σ), ...: its absolute error is
        # about ε max(1, |h'|), not ε |h'|, hence the third term.
        D.insert(0, slope[l] * ((D[0] + delta[l + 1]) @ W[l + 1]) + curve[l] * A[l] * back
                 + np.maximum(1.0, slope[l]) * back)
    return {
        "loss": np.sum(delta[-1] * A[-1], axis=(-2, -1)) + f.loss_terms,
        "deltas": D,
        "grad_weights": [np.swapaxes(D[l] + delta[l], -1, -2) @ np.abs(z[l])
                         + np.swapaxes(delta[l], -1, -2) @ Z[l] for l in range(len(W))],
        "grad_biases": [(D[l] + delta[l]).sum(axis=-2) for l in range(len(W))],
    }


def floors(case: Case, activations: Sequence[Any], truth: Gradients, *,
           forward_pass: Forward | None = None) -> dict[str, Any]:
    """The absolute floor of every entry: FLOOR_FACTOR ε M, and never below ε² max(1, |E|).

    The second term is for values that underflow differently on the two sides (a saturated
    unit's 1e-59 against an oracle's exact 0): below ε² of the loss, a gradient is zero to
    any precision that the dtype can hold beside E.
    """
    return floors_of_each(case, activations, [truth], forward_pass=forward_pass)[0]


def floors_of_each(case: Case, activations: Sequence[Any], truths: Sequence[Gradients], *,
                   forward_pass: Forward | None = None) -> list[dict[str, Any]]:
    """``floors`` for each of several oracles' values, computed together (one backward pass)."""
    f = forward_pass or forward(case, activations)
    shapes = {tuple(np.shape(d) for d in t.deltas) for t in truths}
    if len(shapes) > 1:  # an oracle gave other shapes: each on its own
        return [floors_of_each(case, activations, [t], forward_pass=f)[0] for t in truths]
    L = len(case.weights)
    m = _magnitudes(f, [np.stack([np.abs(t.deltas[l]) for t in truths]) for l in range(L)])
    scale = tolerances.floor_scale(case.dtype)
    least = np.array([tolerances.least_floor(case.dtype, truth.loss) for truth in truths])
    floor = {key: [np.maximum(least.reshape(-1, *[1] * (v.ndim - 1)), scale * v) for v in m[key]]
             for key in ("deltas", "grad_weights", "grad_biases")}
    return [{"loss": max(float(least[i]), scale * float(m["loss"][i])),
             **{key: [v[i] for v in floor[key]] for key in floor}}
            for i in range(len(truths))]


EPS64 = _EPS


def derivative_bounds(act: Any, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on |h'(a)| and |h''(a)| from differences of h (never an activation's dh)."""
    return _derivatives(act, np.asarray(a, dtype=np.float64))


def elementwise_floor(a: np.ndarray, slope: np.ndarray, curve: np.ndarray,
                      dtype: str) -> np.ndarray:
    """The floor of h'(a) computed alone: FLOOR_FACTOR ε (max(1, |h'|) + |a| |h''|), in dtype.

    As in a network's δ: h' is often computed as 1 − tanh², σ(1 − σ), ..., whose absolute error
    is about ε max(1, |h'|); the rounding of a inside the formula adds ε |a| |h''|.
    """
    with np.errstate(all="ignore"):
        bound = np.maximum(1.0, slope) + np.abs(a) * curve
    # where h is not finite nearby the bounds are unknown: the strictest floor, never a wide one
    return tolerances.floor_scale(dtype) * np.where(np.isfinite(bound), bound, 1.0)
