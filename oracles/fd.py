"""Central finite differences of E: the oracle that trusts no derivative at all.

For every weight, bias and pre-activation p, ∂E/∂p ≈ (E(p + h) − E(p − h)) / 2h.

Step rule. The estimate's error is about h²|E'''|/6 (truncation) plus ε|E|/h (rounding);
h = ε^(1/3) max(1, |p|) balances the two. This oracle always evaluates E in float64, whose
ε^(1/3) ≈ 6.1e-6 leaves errors near 1e-10 relative: room below a 1e-7 tolerance. A float32
case is promoted exactly to float64 first; evaluating in float32 instead would need
h ≈ ε₃₂^(1/3) ≈ 4.9e-3 and could resolve nothing finer than about 1e-4, so it is never done.

Each estimate carries an error bar: the estimates at h, 2h and 4h are fitted with an error
c₁h + c₂h² (first order where h'' jumps, second order elsewhere), the bar is twice the size of
those terms, plus the rounding 4ε·S/h, where S is what one evaluation of E adds up (E's terms,
and every pre-activation's sums weighted by |∂E/∂a|).

Perturbing w_ji changes a[l] by h·z_i in column j, exactly as a[l] = z W[l]ᵀ + b is linear in W,
so every perturbation of layer l is applied to a[l] and only the layers above it are
re-evaluated, for all perturbations at once.

Kinks. When a perturbed pre-activation at a layer with kinks lands on a kink or on its other
side, the difference straddles a point where E is not smooth: that entry is not judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deltacheck.oracles.base import (
    FD_STEP,
    Gradients,
    as_float64,
    check_float64,
    input_eps,
    kink_taint,
    kinks_of,
    loss_terms_magnitude,
)
from deltacheck.tolerances import FD_BAR_FACTOR, FD_ROUNDING_FACTOR

name = "fd"

_EPS = float(np.finfo(np.float64).eps)
_CHUNK = 4096  # perturbations evaluated together; bounds the memory of large networks


def _log_sigmoid(a: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -a)


def _loss(loss: str, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """E over the last two axes (samples, outputs), for any leading stack of networks."""
    if loss == "mse":
        terms = 0.5 * (a - t) ** 2
    elif loss == "bce":
        terms = -(t * _log_sigmoid(a) + (1.0 - t) * _log_sigmoid(-a))
    elif loss == "ce":
        shifted = a - a.max(axis=-1, keepdims=True)
        log_y = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        terms = -(t * log_y)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return terms.sum(axis=(-2, -1))


def _crosses(a_pert: np.ndarray, a_base: np.ndarray, kinks: tuple[float, ...]) -> np.ndarray:
    """Per perturbation: did a pre-activation that it moves touch a kink or cross it?"""
    hit = np.zeros(a_pert.shape[0], dtype=bool)
    moved = a_pert != a_base
    for k in kinks:
        side_base = np.sign(a_base - k)
        side = np.sign(a_pert - k)
        hit |= (moved & ((side != side_base) | (side == 0) | (side_base == 0))).any(axis=(-2, -1))
    return hit


def _energy_from(l: int, a_l: np.ndarray, W: list[np.ndarray], b: list[np.ndarray],
                 hidden: Sequence[Any], loss: str, t: np.ndarray,
                 a_base: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """E for a stack of pre-activations of layer l, and which of them met a kink on the way."""
    a = a_l
    crossed = np.zeros(a.shape[0], dtype=bool)
    for m in range(l, len(W) - 1):
        crossed |= _crosses(a, a_base[m], kinks_of(hidden[m]))
        a = hidden[m].h(a, np) @ W[m + 1].T + b[m + 1]
    return _loss(loss, a, t), crossed


def _perturbations(a_l: np.ndarray, z_l: np.ndarray, W_l: np.ndarray,
                   b_l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Changes of a[l] for a step in each weight, each bias and each pre-activation."""
    n_samples, n_out = a_l.shape
    n_in = z_l.shape[1]
    h_w = FD_STEP * np.maximum(1.0, np.abs(W_l))
    h_b = FD_STEP * np.maximum(1.0, np.abs(b_l))
    h_a = FD_STEP * np.maximum(1.0, np.abs(a_l))
    d_w = np.zeros((n_out, n_in, n_samples, n_out))
    d_b = np.zeros((n_out, n_samples, n_out))
    d_a = np.zeros((n_samples, n_out, n_samples, n_out))
    for j in range(n_out):
        d_w[j, :, :, j] = h_w[j][:, None] * z_l.T  # ∂a_nj/∂w_ji = z_ni
        d_b[j, :, j] = h_b[j]
        d_a[:, j, :, j] = np.diag(h_a[:, j])
    shape = (-1, n_samples, n_out)
    steps = np.concatenate([h_w.ravel(), h_b.ravel(), h_a.ravel()])
    return np.concatenate([d_w.reshape(shape), d_b.reshape(shape), d_a.reshape(shape)]), steps


def _error_bar(D1: np.ndarray, D2: np.ndarray, D4: np.ndarray) -> np.ndarray:
    """FD_BAR_FACTOR times the size of the error terms c₁h and c₂h² fitted to the steps h, 2h, 4h.

    Where h'' jumps (ELU or softsign at 0) the error is c₁h, elsewhere c₂h²; the two can
    cancel between two steps, which is why three steps are fitted rather than two compared.
    """
    c2 = ((D4 - D2) - 2 * (D2 - D1)) / 6  # c₂h²
    c1 = (D2 - D1) - 3 * c2  # c₁h
    return FD_BAR_FACTOR * (np.abs(c1) + np.abs(c2))


def _evaluation_magnitude(loss: str, a: list[np.ndarray], z: list[np.ndarray],
                          W: list[np.ndarray], b: list[np.ndarray], t: np.ndarray,
                          deltas: list[np.ndarray]) -> float:
    """What evaluating E adds up: its terms, and each a[l]'s own sums weighted by |∂E/∂a|."""
    terms = loss_terms_magnitude(loss, a[-1], t)
    sums = sum(float(np.sum(np.abs(d) * (np.abs(z[l]) @ np.abs(W[l]).T + np.abs(b[l]))))
               for l, d in enumerate(deltas))
    return terms + sums


def gradients(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
              activations: Sequence[Any], loss: str, x: np.ndarray, t: np.ndarray) -> Gradients:
    """Loss, δ, ∂W and ∂b by central differences, with error bars and kink masks."""
    W, b = as_float64(weights), as_float64(biases)
    x64, t64 = as_float64([x, t])
    a: list[np.ndarray] = []
    z = [x64]
    for l in range(len(W)):
        a.append(z[l] @ W[l].T + b[l])
        if l < len(W) - 1:
            z.append(activations[l].h(a[l], np))
    E = float(_loss(loss, a[-1], t64))

    grads: dict[str, list[np.ndarray]] = {"grad_weights": [], "grad_biases": [], "deltas": []}
    bars: dict[str, list[np.ndarray]] = {"grad_weights": [], "grad_biases": [], "deltas": []}
    crossed_masks: dict[str, list[np.ndarray]] = {"grad_weights": [], "grad_biases": [],
                                                  "deltas": []}
    steps_of: dict[str, list[np.ndarray]] = {"grad_weights": [], "grad_biases": [], "deltas": []}
    for l in range(len(W)):
        d, h = _perturbations(a[l], z[l], W[l], b[l])
        est, bar, crossed = np.empty(len(h)), np.empty(len(h)), np.zeros(len(h), dtype=bool)
        for s in range(0, len(h), _CHUNK):
            part = slice(s, s + _CHUNK)
            steps = (1, 2, 4)
            signed = np.concatenate([a[l] + k * sign * d[part] for k in steps
                                     for sign in (1, -1)])
            e, hit = _energy_from(l, signed, W, b, activations, loss, t64, a)
            e = e.reshape(2 * len(steps), -1)
            D1, D2, D4 = ((e[2 * i] - e[2 * i + 1]) / (2 * k * h[part])
                          for i, k in enumerate(steps))
            est[part] = D1
            bar[part] = _error_bar(D1, D2, D4)
            crossed[part] = hit.reshape(2 * len(steps), -1).any(axis=0)
        n_out, n_in = W[l].shape
        cuts = np.cumsum([n_out * n_in, n_out])
        for key, part, shape in zip(("grad_weights", "grad_biases", "deltas"),
                                    np.split(np.arange(len(h)), cuts),
                                    (W[l].shape, b[l].shape, a[l].shape), strict=True):
            grads[key].append(est[part].reshape(shape))
            bars[key].append(bar[part].reshape(shape))
            steps_of[key].append(h[part].reshape(shape))
            crossed_masks[key].append(crossed[part].reshape(shape))

    # Rounding: each evaluation of E is off by about ε times what it adds up, which in a wide
    # network is far more than ε|E|; it is not smooth in h, so the fit above cannot see it.
    noise = FD_ROUNDING_FACTOR * _EPS * _evaluation_magnitude(loss, a, z, W, b, t64, grads["deltas"])
    for key in bars:
        bars[key] = [bar + noise / h for bar, h in zip(bars[key], steps_of[key], strict=True)]

    taint = kink_taint(W, a, z, activations, biases=b, eps=input_eps(weights), step=FD_STEP)
    unjudged = {key: [c | m for c, m in zip(crossed_masks[key], taint[key], strict=True)]
                for key in taint}
    for key in grads:
        check_float64(name, grads[key])
    return Gradients(loss=E, deltas=grads["deltas"], grad_weights=grads["grad_weights"],
                     grad_biases=grads["grad_biases"], unjudged=unjudged, uncertainty=bars,
                     loss_uncertainty=0.0)
