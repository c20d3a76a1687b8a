"""Central finite differences of E: the oracle that trusts no derivative at all.

For every pre-activation a_nj, δ_nj = ∂E/∂a_nj ≈ (E(a_nj + h) − E(a_nj − h)) / 2h.

Step rule. The estimate's error is about h²|E'''|/6 (truncation) plus ε|E|/h (rounding);
h = ε^(1/3) max(1, |a|) balances the two. This oracle always evaluates E in float64, whose
ε^(1/3) ≈ 6.1e-6 leaves errors near 1e-10 relative: room below a 1e-7 tolerance. A float32
case is promoted exactly to float64 first; evaluating in float32 instead would need
h ≈ ε₃₂^(1/3) ≈ 4.9e-3 and could resolve nothing finer than about 1e-4, so it is never done.

Each estimate carries an error bar: the estimates at h, 2h and 4h are fitted with an error
c₁h + c₂h² (first order where h'' jumps, second order elsewhere), the bar is FD_BAR_FACTOR
times the size of those terms, plus the rounding FD_ROUNDING_FACTOR ε·S_n/h, where S_n is what
one evaluation of E_n adds up (its terms, and every pre-activation's sums weighted by |∂E/∂a|).

Weights and biases. a[l] = z[l] W[l]ᵀ + b[l] is linear in W[l] and b[l], and E = Σ_n E_n, so
∂E/∂w_ji = Σ_n δ_nj z_ni and ∂E/∂b_j = Σ_n δ_nj exactly: no derivative of any activation or
loss enters. Their error bars are the same sums over |z| times the bars of δ.

Speed. A step in a_nj moves only sample n, so each difference evaluates E_n alone, not the
batch (and cancels none of the other samples' terms). It changes z[l+1]_n in entry j only, so
a[l+1]_n moves by that change times column j of W[l+1] (a rank-one update); only the layers
above are evaluated in full. When every layer's steps fit one chunk of _CHUNK_ENTRIES numbers
per array, the rows of all layers go through each layer above together; otherwise each layer's
steps go in chunks of at most that: the memory stays bounded for any network size.

Kinks. When a perturbed pre-activation at a layer with kinks lands on a kink or on its other
side, the difference straddles a point where E is not smooth: that entry is not judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deltacheck.core.gradients import Gradients
from deltacheck.core.tolerances import FD_BAR_FACTOR, FD_ROUNDING_FACTOR, FD_STEP
from deltacheck.oracles.base import (
    as_float64,
    check_float64,
    input_eps,
    kink_taint,
    kinks_of,
    loss_terms_per_sample,
)

name = "fd"

_EPS = float(np.finfo(np.float64).eps)
_CHUNK_ENTRIES = 2**20  # numbers per array evaluated together: about 8 MB each
_STEPS = (1, 2, 4)  # multiples of h, each taken with both signs
_SIGNED = np.array([k * sign for k in _STEPS for sign in (1, -1)], dtype=float)
_MULTIPLES = np.array(_STEPS, dtype=float)[:, None]


def _log_sigmoid(a: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -a)


def _loss(loss: str, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """E_n, summed over the last axis (outputs), for any leading stack of samples."""
    if loss == "mse":
        terms = 0.5 * (a - t) ** 2
    elif loss == "bce":
        terms = -(t * _log_sigmoid(a) + (1.0 - t) * _log_sigmoid(-a))
    elif loss == "ce":
        shifted = a - a.max(axis=-1, keepdims=True)
        log_y = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        terms = -(t * log_y)
    elif loss == "mse_sigmoid":
        terms = 0.5 * (np.exp(_log_sigmoid(a)) - t) ** 2  # ½ (σ(a) − t)²
    elif loss == "mse_tanh":
        terms = 0.5 * (np.tanh(a) - t) ** 2
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return terms.sum(axis=-1)


def _crosses(moved: np.ndarray, base: np.ndarray, kinks: tuple[float, ...]) -> np.ndarray:
    """Per row: did a pre-activation that the step moved touch a kink or cross it?"""
    hit = np.zeros(moved.shape[0], dtype=bool)
    if not kinks:
        return hit
    changed = moved != base
    for k in kinks:
        side_base = np.sign(base - k)
        side = np.sign(moved - k)
        hit |= (changed & ((side != side_base) | (side == 0) | (side_base == 0))).any(axis=-1)
    return hit


def _first_rows(l: int, n: np.ndarray, j: np.ndarray, step: np.ndarray,
                W: list[np.ndarray], hidden: Sequence[Any], a: list[np.ndarray],
                z: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows with a[l]_nj moved by ``step``, one per (n, j, step), and which met a kink.

    An output pre-activation's row is a[l]_n itself; a hidden one's is a[l+1]_n, which moves by
    Δz W[l+1][:, j] as z[l+1]_nj changes by Δz.
    """
    if l == len(W) - 1:
        rows = a[l][n]
        rows[np.arange(len(n)), j] += step
        return rows, np.zeros(len(n), dtype=bool)
    moved = a[l][n, j] + step
    crossed = _crosses(moved[:, None], a[l][n, j][:, None], kinks_of(hidden[l]))
    dz = hidden[l].h(moved, np) - z[l + 1][n, j]
    return a[l + 1][n] + dz[:, None] * W[l + 1].T[j], crossed


def _through(m: int, rows: np.ndarray, n: np.ndarray, W: list[np.ndarray],
             b: list[np.ndarray], hidden: Sequence[Any],
             a: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows at a[m] (of samples n) carried on to a[m+1]; and which met a kink of h[m]."""
    crossed = _crosses(rows, a[m][n], kinks_of(hidden[m]))
    return hidden[m].h(rows, np) @ W[m + 1].T + b[m + 1], crossed


def _stepped_energies(l: int, n: np.ndarray, j: np.ndarray, step: np.ndarray,
                      W: list[np.ndarray], b: list[np.ndarray], hidden: Sequence[Any],
                      loss: str, t: np.ndarray, a: list[np.ndarray],
                      z: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """E_n with a[l]_nj moved by ``step``, one row per (n, j, step); and which met a kink."""
    rows, crossed = _first_rows(l, n, j, step, W, hidden, a, z)
    for m in range(l + 1, len(W) - 1):
        rows, hit = _through(m, rows, n, W, b, hidden, a)
        crossed |= hit
    return _loss(loss, rows, t[n]), crossed


def _estimates(e: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """δ from the energies of one row per (signed step, entry), entries fastest; its error bar."""
    e = e.reshape(len(_STEPS), 2, h.size)
    D1, D2, D4 = (e[:, 0] - e[:, 1]) / (2 * _MULTIPLES * h)
    return D1, _error_bar(D1, D2, D4)


def _error_bar(D1: np.ndarray, D2: np.ndarray, D4: np.ndarray) -> np.ndarray:
    """FD_BAR_FACTOR times the size of the error terms c₁h and c₂h² fitted to the steps h, 2h, 4h.

    Where h'' jumps (ELU or softsign at 0) the error is c₁h, elsewhere c₂h²; the two can
    cancel between two steps, which is why three steps are fitted rather than two compared.
    """
    c2 = ((D4 - D2) - 2 * (D2 - D1)) / 6  # c₂h²
    c1 = (D2 - D1) - 3 * c2  # c₁h
    return FD_BAR_FACTOR * (np.abs(c1) + np.abs(c2))


def _deltas(l: int, W: list[np.ndarray], b: list[np.ndarray], hidden: Sequence[Any], loss: str,
            t: np.ndarray, a: list[np.ndarray],
            z: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """δ[l] by central differences: estimates, fitted error bars, steps h, kink crossings."""
    shape = a[l].shape
    h = FD_STEP * np.maximum(1.0, np.abs(a[l])).ravel()
    n, j = np.divmod(np.arange(h.size), shape[1])
    signed = _SIGNED
    widest = max(w.shape[0] for w in W[l:])
    per_chunk = max(1, _CHUNK_ENTRIES // (len(signed) * widest))
    est, bar = np.empty(h.size), np.empty(h.size)
    crossed = np.zeros(h.size, dtype=bool)
    for start in range(0, h.size, per_chunk):
        part = slice(start, start + per_chunk)
        count = len(h[part])
        # one row per (signed step, entry), the entries running fastest
        e, hit = _stepped_energies(l, np.tile(n[part], len(signed)),
                                   np.tile(j[part], len(signed)),
                                   np.repeat(signed, count) * np.tile(h[part], len(signed)),
                                   W, b, hidden, loss, t, a, z)
        est[part], bar[part] = _estimates(e, h[part])
        crossed[part] = hit.reshape(len(signed), count).any(axis=0)
    return est.reshape(shape), bar.reshape(shape), h.reshape(shape), crossed.reshape(shape)


def _every_layer(W: list[np.ndarray], b: list[np.ndarray], hidden: Sequence[Any], loss: str,
                 t: np.ndarray, a: list[np.ndarray], z: list[np.ndarray]) -> list[Any] | None:
    """``_deltas`` of every layer in one pass, or None when the rows would not fit one chunk.

    The same rows as layer by layer, in the same order, but the rows of all the layers below
    a layer go through it together: a deep network then costs a few array operations a layer
    rather than a few for every pair of layers.
    """
    K, L = len(_SIGNED), len(W)
    if K * sum(v.size for v in a) * max(w.shape[0] for w in W) > _CHUNK_ENTRIES:
        return None
    h = [FD_STEP * np.maximum(1.0, np.abs(v)).ravel() for v in a]
    rows: list[np.ndarray] = []
    samples: list[np.ndarray] = []
    crossed: list[np.ndarray] = []
    for l in range(L):
        if l < L - 1 and rows:  # the rows of the layers below, now at a[l]: on to a[l+1]
            n_below = np.concatenate(samples)
            below, hit = _through(l, np.concatenate(rows), n_below, W, b, hidden, a)
            rows, samples, crossed = [below], [n_below], [np.concatenate(crossed) | hit]
        entry = np.arange(K * h[l].size) % h[l].size  # a row per (signed step, entry), entries
        n, j = np.divmod(entry, a[l].shape[1])  # fastest
        new, hit = _first_rows(l, n, j, np.repeat(_SIGNED, h[l].size) * h[l][entry], W, hidden,
                               a, z)
        rows.append(new)
        samples.append(n)
        crossed.append(hit)
    n_all = np.concatenate(samples)
    energies, hits = _loss(loss, np.concatenate(rows), t[n_all]), np.concatenate(crossed)
    out, start = [], 0
    for l in range(L):
        count, shape = h[l].size, a[l].shape
        est, bar = _estimates(energies[start:start + K * count], h[l])
        hit = np.asarray(hits[start:start + K * count].reshape(K, count).any(axis=0))
        out.append((est.reshape(shape), bar.reshape(shape), h[l].reshape(shape),
                    hit.reshape(shape)))
        start += K * count
    return out


def _evaluation_magnitude(loss: str, a: list[np.ndarray], z: list[np.ndarray],
                          W: list[np.ndarray], b: list[np.ndarray], t: np.ndarray,
                          deltas: list[np.ndarray]) -> np.ndarray:
    """What evaluating E_n adds up, per sample: its terms, and a[l]_n's sums weighted by |δ|."""
    terms = loss_terms_per_sample(loss, a[-1], t)
    sums = sum(np.sum(np.abs(d) * (np.abs(z[l]) @ np.abs(W[l]).T + np.abs(b[l])), axis=1)
               for l, d in enumerate(deltas))
    return terms + sums


def gradients(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
              activations: Sequence[Any], loss: str, x: np.ndarray, t: np.ndarray, *,
              reach: Sequence[np.ndarray] | None = None) -> Gradients:
    """Loss, δ, ∂W and ∂b by central differences, with error bars and kink masks.

    ``reach``: see base.kink_taint.
    """
    W, b = as_float64(weights), as_float64(biases)
    x64, t64 = as_float64([x, t])
    a: list[np.ndarray] = []
    z = [x64]
    for l in range(len(W)):
        a.append(z[l] @ W[l].T + b[l])
        if l < len(W) - 1:
            z.append(activations[l].h(a[l], np))
    E = float(_loss(loss, a[-1], t64).sum())

    layers = _every_layer(W, b, activations, loss, t64, a, z)
    if layers is None:  # too large for one chunk: layer by layer, each in chunks
        layers = [_deltas(l, W, b, activations, loss, t64, a, z) for l in range(len(W))]
    deltas, fitted, steps, crossed = zip(*layers, strict=True)
    # Rounding: each evaluation of E_n is off by about ε times what it adds up, which in a
    # wide network is far more than ε|E_n|; it is not smooth in h, so the fit cannot see it.
    sums = _evaluation_magnitude(loss, a, z, W, b, t64, list(deltas))
    noise = FD_ROUNDING_FACTOR * _EPS * sums[:, None]
    bars = [bar + noise / h for bar, h in zip(fitted, steps, strict=True)]

    # ∂E/∂w_ji = Σ_n δ_nj z_ni and ∂E/∂b_j = Σ_n δ_nj, as a[l] is linear in W[l] and b[l]
    grads = {"deltas": list(deltas),
             "grad_weights": [d.T @ z[l] for l, d in enumerate(deltas)],
             "grad_biases": [d.sum(axis=0) for d in deltas]}
    uncertainty = {"deltas": bars,
                   "grad_weights": [u.T @ np.abs(z[l]) for l, u in enumerate(bars)],
                   "grad_biases": [u.sum(axis=0) for u in bars]}
    stepped = {"deltas": list(crossed),
               "grad_weights": [(c.T.astype(float) @ (z[l] != 0).astype(float)) > 0 if c.any()
                                else np.zeros(W[l].shape, dtype=bool)
                                for l, c in enumerate(crossed)],
               "grad_biases": [c.any(axis=0) for c in crossed]}

    taint = kink_taint(W, a, z, activations, biases=b, eps=input_eps(weights), step=FD_STEP,
                       reach=reach)
    unjudged = {key: [c | m for c, m in zip(stepped[key], taint[key], strict=True)]
                for key in taint}
    for key in grads:
        check_float64(name, grads[key])
    return Gradients(loss=E, deltas=grads["deltas"], grad_weights=grads["grad_weights"],
                     grad_biases=grads["grad_biases"], unjudged=unjudged,
                     uncertainty=uncertainty, loss_uncertainty=0.0)
