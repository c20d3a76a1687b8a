"""The regions where backprop bugs hide, placed on purpose in drawn cases.

A uniformly drawn network almost never reaches them: a logit beyond 709.78 (where e^a
overflows in float64; 88.7 in float32), a unit a hair away from a ReLU kink, an exact 0/1
label, inputs of very different magnitudes. Each function here takes a case's values (lists
of arrays, changed in place) and moves them into one region, with numbers from a numpy
Generator, so that a Hypothesis draw only has to decide *whether* and *where*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deltacheck.core import activations as registry
from deltacheck.oracles.base import kinks_of

# beyond these, e^a overflows (and e^-a underflows) in the dtype
OVERFLOW = {"float64": 710.0, "float32": 89.0}
# the built-in activations are stable up to |a| = 1e3 (docs/activations.md); losses at any logit
HIDDEN_REACH, LOGIT_REACH = 1e3, 1.5e3


def _affine(z: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a = z Wᵀ + b in float64, z being the layer's input in float64."""
    return z @ np.asarray(W, dtype=np.float64).T + np.asarray(b, dtype=np.float64)


def _h(name: str, a: np.ndarray) -> np.ndarray:
    """z = h(a) of a hidden layer; overflow inside h is the point of some cases."""
    with np.errstate(all="ignore"):
        return registry.get(name).h(a, np)


def _inputs_of(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
               activations: Sequence[str], x: np.ndarray, layer: int) -> np.ndarray:
    """z[layer − 1], the input of weight layer ``layer``, in float64."""
    z = np.asarray(x, dtype=np.float64)
    for l in range(layer):
        z = _h(activations[l], _affine(z, weights[l], biases[l]))
    return z


def pre_activations(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                    activations: Sequence[str], x: np.ndarray) -> list[np.ndarray]:
    """a[l] of every layer, in float64."""
    z, out = np.asarray(x, dtype=np.float64), []
    for l, (W, b) in enumerate(zip(weights, biases, strict=True)):
        a = _affine(z, W, b)
        out.append(a)
        if l < len(activations):
            z = _h(activations[l], a)
    return out


def _cap(weights: list[np.ndarray], biases: list[np.ndarray], activations: Sequence[str],
         x: np.ndarray, start: int) -> None:
    """Scale layers from ``start`` on down until no |a| passes the stated stable range."""
    if start >= len(weights):
        return
    # one forward pass: layer m is capped before layer m + 1 sees its output
    z = _inputs_of(weights, biases, activations, x, start)
    for m in range(start, len(weights)):
        a = _affine(z, weights[m], biases[m])
        reach = LOGIT_REACH if m == len(weights) - 1 else HIDDEN_REACH
        top = float(np.abs(a).max())
        if top > reach:
            weights[m] = (weights[m] * (reach / top)).astype(weights[m].dtype)
            biases[m] = (biases[m] * (reach / top)).astype(biases[m].dtype)
            a = _affine(z, weights[m], biases[m])
        if m < len(activations):
            z = _h(activations[m], a)


def overflow(rng: np.random.Generator, weights: list[np.ndarray], biases: list[np.ndarray],
             activations: Sequence[str], x: np.ndarray, layer: int, dtype: str) -> float:
    """Scale one layer so its largest a of a drawn sign lies beyond the dtype's overflow, and
    move one other unit beyond it with the other sign.

    The sign matters: eᵃ/(1 + eᵃ) overflows only above +710, a softmax's row maxima only where
    they are positive; with units of both signs, a layer wider than one unit meets both. The
    other units and samples of that layer scale with it (never beyond the stated range), so
    row maxima land far apart and many units saturate or underflow at once. Returns the largest
    |a| reached.
    """
    a = _affine(_inputs_of(weights, biases, activations, x, layer), weights[layer], biases[layer])
    sign = float(rng.choice([-1.0, 1.0]))
    reach = LOGIT_REACH if layer == len(weights) - 1 else HIDDEN_REACH
    top = float(np.abs(a).max())
    signed = float((sign * a).max())
    if top == 0:
        return 0.0
    goal = rng.uniform(OVERFLOW[dtype], reach)
    scale = goal / (signed if signed > 0 else top)
    scale = min(scale, reach / top)  # the other sign's units stay in range
    weights[layer] = (weights[layer] * scale).astype(dtype)
    biases[layer] = (biases[layer] * scale).astype(dtype)
    _other_sign(rng, a * scale, biases, layer, -sign, reach, dtype)
    _cap(weights, biases, activations, x, layer + 1)
    return float(np.abs(_affine(_inputs_of(weights, biases, activations, x, layer),
                                weights[layer], biases[layer])).max())


def _other_sign(rng: np.random.Generator, a: np.ndarray, biases: list[np.ndarray], layer: int,
                sign: float, reach: float, dtype: str) -> None:
    """Shift the bias of the unit reaching furthest toward ``sign`` (not the one that already
    overflows the other way) so that it lies beyond the overflow with that sign, if every
    sample of that unit stays within ``reach``."""
    if a.shape[1] < 2:
        return
    first = int(np.unravel_index(np.argmax(-sign * a), a.shape)[1])
    extreme = (sign * a).max(axis=0)
    extreme[first] = -np.inf
    unit = int(np.argmax(extreme))
    if (a[:, unit] == 0).any():  # exactly on a kink (a sample at the origin): it stays there
        return
    shift = sign * rng.uniform(OVERFLOW[dtype], reach) - sign * extreme[unit]
    if np.abs(a[:, unit] + shift).max() <= reach:
        biases[layer][unit] = biases[layer][unit] + shift
        biases[layer] = biases[layer].astype(dtype)


def _squeeze(rng: np.random.Generator, z: np.ndarray, W: np.ndarray, b: np.ndarray,
             unit: int, kink: float, sample: int) -> None:
    """Scale the unit's incoming weights so that its a = k + o lies within 10⁻ᵘ of the kink in
    every sample, on both sides (o ∝ its spread over the samples); with one sample (or no
    spread) o = ±10⁻ᵘ in ``sample``."""
    reach = 10.0 ** -rng.uniform(1.0, 13.0)
    c = z @ np.asarray(W[unit], dtype=np.float64)
    spread = float(np.max(np.abs(c - c.mean())))
    if spread > 0 and np.isfinite(spread):
        W[unit] = W[unit] * (reach / spread)
        c = z @ np.asarray(W[unit], dtype=np.float64)
        b[unit] = kink - c.mean()
    else:
        b[unit] = kink + float(rng.choice([-1.0, 1.0])) * reach - c[sample]


def near_kink(rng: np.random.Generator, weights: list[np.ndarray], biases: list[np.ndarray],
              activations: Sequence[str], x: np.ndarray, choice: int, dtype: str) -> int:
    """Put units of every layer with kinks within 10⁻ᵘ of a kink k (u uniform in [1, 13]),
    or exactly on it.

    In each such layer, from unit j on (picked by ``choice``): one unit squeezed within 10⁻ᵘ
    of a kink on both sides in every sample and, three cases in four, one exactly on it in
    every sample (these two in a random order); then one at k + 10⁻ᵘ in sample n and one at
    k − 10⁻ᵘ in sample n + 1, each with its own u: as many as the layer has units. Returns
    the number of units placed.
    """
    kinks = [kinks_of(registry.get(name)) for name in activations]
    placed = 0
    N = x.shape[0]
    z = np.asarray(x, dtype=np.float64)
    # One forward pass: a unit's weights and bias move only its own a, so the units of a
    # layer are placed from the same z, and the next layer sees the moved ones.
    for l in range(max((l + 1 for l, k in enumerate(kinks) if k), default=0)):
        if kinks[l]:
            a = _affine(z, weights[l], biases[l])
            width = weights[l].shape[0]
            j, n = choice % width, (choice // width) % N
            first = ["squeeze"] + (["exact"] if rng.random() < 0.75 else [])
            for step, where in enumerate([*rng.permutation(first), "above", "below"][:width]):
                unit, sample, kink = (j + step) % width, (n + step) % N, float(rng.choice(kinks[l]))
                if where == "squeeze":
                    _squeeze(rng, z, weights[l], biases[l], unit, kink, sample)
                elif where == "exact":  # in any implementation: a = 0·z + k
                    weights[l][unit] = 0
                    biases[l][unit] = kink
                else:
                    offset = (1.0 if where == "above" else -1.0) * 10.0 ** -rng.uniform(1.0, 13.0)
                    biases[l][unit] += kink + offset - a[sample, unit]
                placed += 1
            biases[l] = biases[l].astype(dtype)
        z = _h(activations[l], _affine(z, weights[l], biases[l]))
    return placed


def spread_magnitudes(rng: np.random.Generator, x: np.ndarray) -> None:
    """Scale each sample by its own 10^e, e uniform in [−6, 2]: inputs over several magnitudes."""
    x *= (10.0 ** rng.uniform(-6.0, 2.0, size=(x.shape[0], 1))).astype(x.dtype)


def targets(rng: np.random.Generator, loss: str, shape: tuple[int, int], dtype: str,
            labels: str) -> np.ndarray:
    """Valid targets; ``labels`` is ``soft``, ``exact`` (0/1, one-hot) or ``mixed`` (by sample)."""
    N, K = shape
    if loss == "mse":
        bound = rng.uniform(0.0, 2.0, size=shape)
        return (np.where(rng.random(shape) < 0.5, -1.0, 1.0) * bound).astype(dtype)
    exact = rng.random(N) < 0.5 if labels == "mixed" else np.full(N, labels == "exact")
    if loss == "mse_tanh":  # in [−1, 1], the extremes as exact labels
        soft = rng.uniform(-1.0, 1.0, size=shape)
        hard = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
        return np.where(exact[:, None], hard, soft).astype(dtype)
    if loss in ("bce", "mse_sigmoid"):
        soft = rng.uniform(0.0, 1.0, size=shape)
        hard = (rng.random(shape) < 0.5).astype(np.float64)
        return np.where(exact[:, None], hard, soft).astype(dtype)
    soft = rng.dirichlet(np.ones(K), size=N)
    hard = np.eye(K)[rng.integers(0, K, size=N)]
    t = np.where(exact[:, None], hard, soft).astype(dtype)
    return (t / t.sum(axis=1, keepdims=True)).astype(dtype)


def log_magnitude(case: Any, a: Sequence[np.ndarray] | None = None) -> float:
    """log10(1 + the largest |a| of the case): what ``target()`` pushes up, toward overflow.

    ``a``: the case's pre-activations, when they have been computed already.
    """
    if a is None:
        a = pre_activations(case.weights, case.biases, case.activations, case.x)
    top = max(float(np.abs(v).max()) for v in a)
    return float(np.log10(1.0 + top)) if np.isfinite(top) else 0.0
