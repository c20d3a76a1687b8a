"""The steps of the reference backprop that seeded bugs replace, and the slips put in them.

``_reference`` is the reference backprop written out step by step with any one step
replaceable; the helpers below are the realistic slips ``deltacheck.campaign.bugs`` plants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltacheck import reference_impl
from deltacheck.core import activations as registry
from deltacheck.reference_impl.activations import derivative

Backprop = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class SeededBug:
    """One planted mistake: a protocol implementation, and what a diagnosis should say."""

    name: str
    description: str
    backprop: Backprop
    kind: str
    first_wrong: str


def _log_sigmoid(a: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -a)


def _reference(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
               activations: Sequence[str], loss: str, x: np.ndarray, t: np.ndarray, *,
               hidden: Callable[[int, Any], Any] | None = None,
               output: Callable[[np.ndarray], np.ndarray] | None = None,
               value: Callable[[np.ndarray, np.ndarray, np.ndarray], float] | None = None,
               delta_out: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
               slope: Callable[[int, str, np.ndarray, np.ndarray], np.ndarray] | None = None,
               back: Callable[[int, np.ndarray, np.ndarray], np.ndarray] | None = None,
               grad_w: Callable[[int, np.ndarray, list[np.ndarray], list[np.ndarray]],
                                np.ndarray] | None = None,
               grad_b: Callable[[int, np.ndarray], np.ndarray] | None = None) -> dict[str, Any]:
    """The reference backprop, written out step by step, with any one step replaced.

    hidden(l, act) → the activation object used forward at layer l; output(a) → y;
    value(a, y, t) → E; delta_out(a, y, t) → δ[L−1]; slope(l, name, a, z) → h'(a) of layer l;
    back(l, δ[l+1], W[l+1]) → Σ_k w_kj δ_k; grad_w(l, δ[l], z, a) → ∂W[l]; grad_b(l, δ[l]).
    """
    E = reference_impl.LOSSES[loss]
    acts = [registry.get(name) for name in activations]
    if hidden is not None:
        acts = [hidden(l, act) for l, act in enumerate(acts)]
    L = len(weights)
    a: list[np.ndarray] = []
    z: list[np.ndarray] = [x]
    for l in range(L):
        a.append(z[l] @ weights[l].T + biases[l])  # a_j = Σ_i w_ji z_i + b_j
        if l < L - 1:
            z.append(acts[l].h(a[l], np))
    y = (output or E.output)(a[-1])
    loss_value = value(a[-1], y, t) if value else E.value(a[-1], t)
    # δ_k = y_k − t_k for the canonical pairs; (y_k − t_k) g'(a_k) for the others
    delta = [delta_out(a[-1], y, t) if delta_out else E.output_delta(y, t, a=a[-1])]
    for l in reversed(range(L - 1)):
        summed = back(l, delta[0], weights[l + 1]) if back else delta[0] @ weights[l + 1]
        h1 = (slope(l, activations[l], a[l], z[l + 1]) if slope
              else derivative(registry.get(activations[l]))(a[l]))
        delta.insert(0, h1 * summed)  # δ_j = h'(a_j) Σ_k w_kj δ_k
    gw = [grad_w(l, d, z, a) if grad_w else d.T @ z[l] for l, d in enumerate(delta)]
    gb = [grad_b(l, d) if grad_b else d.sum(axis=0) for l, d in enumerate(delta)]
    return {"loss": loss_value, "deltas": delta, "grad_weights": gw, "grad_biases": gb}


def _with(**steps: Any) -> Backprop:
    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        return _reference(weights, biases, activations, loss, x, t, **steps)
    return backprop


def _own(l: int, name: str, a: np.ndarray, z: np.ndarray) -> np.ndarray:
    return derivative(registry.get(name))(a)


def _only(name: str, wrong: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., Any]:
    """A slope step that is wrong for one activation and the reference's for the rest."""
    def slope(l: int, act: str, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        return wrong(a, z) if act == name else _own(l, act, a, z)
    return slope


def _replace_h(name: str, h: Callable[[np.ndarray, Any], np.ndarray]) -> Callable[..., Any]:
    """A forward step that computes one activation by its own (wrong) formula."""
    def hidden(l: int, act: Any) -> Any:
        return registry.Activation(act.name, h=h, dh=act.dh, kinks=act.kinks) \
            if act.name == name else act
    return hidden


def _naive_softmax(a: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        e = np.exp(a)  # overflows to inf above a = 709.78: inf / inf = NaN
        return e / e.sum(axis=1, keepdims=True)


def _batch_max_softmax(a: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        e = np.exp(a - a.max())  # the batch's max, not each row's: a row far below gives 0/0
        return e / e.sum(axis=1, keepdims=True)


def _loss_specific(loss_name: str, **steps: Any) -> Backprop:
    """Steps that replace the reference's only for one loss."""
    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        chosen = steps if loss == loss_name else {}
        return _reference(weights, biases, activations, loss, x, t, **chosen)
    return backprop


def _ce_naive_value(softmax: Callable[[np.ndarray], np.ndarray]) -> Callable[..., float]:
    def value(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return -float(np.sum(t * np.log(y)))  # E = −Σ t log y, from the computed y
    return value


def _dropout(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    rng = np.random.default_rng()  # unseeded: a different mask on every call
    out["deltas"][-1] = out["deltas"][-1] * (rng.random(out["deltas"][-1].shape) < 0.9) / 0.9
    # δ kept from before the mask for the gradients: only δ shows the dropout
    return out


def _nan_relu(l: int, act: str, a: np.ndarray, z: np.ndarray) -> np.ndarray:
    if act != "relu":
        return _own(l, act, a, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a / np.abs(a) + 1) / 2  # 0/0 = NaN exactly at the kink


def _first_rows(limit: int) -> Callable[..., np.ndarray]:
    def grad_w(l: int, d: np.ndarray, z: list[np.ndarray], a: list[np.ndarray]) -> np.ndarray:
        return d[:limit].T @ z[l][:limit]  # a fixed buffer of 8 samples
    return grad_w


def _buffer_of_8(l: int, d: np.ndarray) -> np.ndarray:
    out = np.zeros(d.shape[1], dtype=d.dtype)
    out[:8] = d[:, :8].sum(axis=0)  # a fixed buffer of 8 units: the rest stay 0
    return out


def _mean_loss(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    out["loss"] = out["loss"] / len(x)
    return out


def _deep_skip(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    def slope(l: int, act: str, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        # an off-by-one that only bites in deep nets: the first layer's h' is skipped
        if l == 0 and len(weights) >= 4:
            return np.ones_like(a)
        return _own(l, act, a, z)
    return _reference(weights, biases, activations, loss, x, t, slope=slope)


def _naive_tanh(a: Any, xp: Any) -> Any:
    with np.errstate(over="ignore", invalid="ignore"):
        return (xp.exp(a) - xp.exp(-a)) / (xp.exp(a) + xp.exp(-a))  # inf / inf above 710


def _ratio_sigmoid(a: Any, xp: Any) -> Any:
    with np.errstate(over="ignore", invalid="ignore"):
        return xp.exp(a) / (1.0 + xp.exp(a))  # inf / inf above 710


def _log1p_exp(a: Any, xp: Any) -> Any:
    with np.errstate(over="ignore"):
        return xp.log(1.0 + xp.exp(a))  # inf above 710


def _bce_clipped_value(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> float:
    c = np.clip(a, -500.0, 500.0)  # "safe" logits: E is wrong beyond ±500
    return -float(np.sum(t * _log_sigmoid(c) + (1.0 - t) * _log_sigmoid(-c)))


def _bce_from_probabilities(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        # log(1 − y) = log 0 once σ(a) rounds to 1 (a > 37): −inf, and 0·inf = NaN at t = 1
        return -float(np.sum(t * np.log(y) + (1.0 - t) * np.log(1.0 - y)))


def _float32_delta(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (y.astype(np.float32) - t.astype(np.float32)).astype(y.dtype)


def _float32_sum(l: int, d: np.ndarray, z: list[np.ndarray], a: list[np.ndarray]) -> np.ndarray:
    return (d.T.astype(np.float32) @ z[l].astype(np.float32)).astype(d.dtype)


def _gelu_tanh_slope(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    # the tanh approximation's derivative, beside the exact erf forward: off by up to 1e-3
    c = np.sqrt(2.0 / np.pi)
    u = c * (a + 0.044715 * a**3)
    th = np.tanh(u)
    return 0.5 * (1 + th) + 0.5 * a * (1 - th**2) * c * (1 + 3 * 0.044715 * a**2)
