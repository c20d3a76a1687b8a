"""Seeded bugs: the reference implementation with one realistic mistake each.

``deltacheck selftest`` runs every one of them through a campaign; a gate that lets one pass
has a blind spot. Each bug is the reference backprop with one step replaced, and says which
quantity goes wrong first (``first_wrong``: ``loss``, ``output_delta``, ``hidden_delta``,
``grad_weights`` or ``grad_biases``) and what kind of mistake it is (``kind``, as the
diagnosis names kinds), so that the diagnosis can be checked against them too.

Many bugs hide in a region: above a logit of 709.78 (where e^a overflows in float64), within
4e-6 of a ReLU kink, at an exact 0/1 label, at depth 4, width 9 or a 9th sample. The
strategies visit those regions on purpose, and the selftest proves that they do.
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
    delta = [delta_out(a[-1], y, t) if delta_out else y - t]  # δ_k = y_k − t_k
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


BUGS: tuple[SeededBug, ...] = (
    # h' wrong or dropped
    SeededBug("tanh_slope_of_a", "tanh' written as 1 − a² instead of 1 − z²",
              _with(slope=_only("tanh", lambda a, z: 1 - a**2)),
              "activation_derivative", "hidden_delta"),
    SeededBug("slope_of_z", "h' evaluated at z = h(a) instead of a, for every activation",
              _with(slope=lambda l, act, a, z: _own(l, act, z, z)),
              "activation_derivative", "hidden_delta"),
    SeededBug("slope_dropped", "δ_j = Σ_k w_kj δ_k: the factor h'(a_j) is left out",
              _with(slope=lambda l, act, a, z: np.ones_like(a)),
              "activation_derivative", "hidden_delta"),
    SeededBug("sigmoid_slope_unsquared", "sigmoid' written as σ(a) instead of σ(a)(1 − σ(a))",
              _with(slope=_only("sigmoid", lambda a, z: z)),
              "activation_derivative", "hidden_delta"),
    SeededBug("elu_slope_is_h", "elu' for a ≤ 0 written as e^a − 1 (h itself) instead of e^a",
              _with(slope=_only("elu", lambda a, z: np.where(a > 0, 1.0, z))),
              "activation_derivative", "hidden_delta"),
    SeededBug("leaky_slope_tenfold", "leaky_relu' below 0 is 0.1 instead of 0.01",
              _with(slope=_only("leaky_relu", lambda a, z: np.where(a > 0, 1.0, 0.1))),
              "activation_derivative", "hidden_delta"),
    SeededBug("gelu_tanh_approximation", "gelu' of the tanh approximation beside the exact "
              "erf forward", _with(slope=_only("gelu", lambda a, z: _gelu_tanh_slope(a, z))),
              "activation_derivative", "hidden_delta"),
    SeededBug("softsign_slope_unsquared", "softsign' written as 1/(1 + |a|) instead of "
              "1/(1 + |a|)²", _with(slope=_only("softsign", lambda a, z: 1 / (1 + np.abs(a)))),
              "activation_derivative", "hidden_delta"),
    # near a kink
    SeededBug("relu_dead_band", "relu' is 0 on (0, 4e-6]: a > 4e-6 used as the test",
              _with(slope=_only("relu", lambda a, z: (a > 4e-6).astype(a.dtype))),
              "near_kink", "hidden_delta"),
    SeededBug("leaky_relu_early_switch", "leaky_relu' switches to 1 already at a > −1e-5",
              _with(slope=_only("leaky_relu", lambda a, z: np.where(a > -1e-5, 1.0, 0.01))),
              "near_kink", "hidden_delta"),
    # output error and loss value
    SeededBug("mse_delta_doubled", "mse output error 2(y − t): the ½ of E forgotten in δ",
              _loss_specific("mse", delta_out=lambda a, y, t: 2 * (y - t)),
              "factor", "output_delta"),
    SeededBug("delta_sign", "output error t − y instead of y − t",
              _with(delta_out=lambda a, y, t: t - y), "sign", "output_delta"),
    SeededBug("bce_noncanonical_delta", "bce output error (y − t) y (1 − y): the mse-with-"
              "sigmoid formula", _loss_specific("bce", delta_out=lambda a, y, t: (y - t) * y * (1 - y)),
              "output_error", "output_delta"),
    SeededBug("bce_targets_clipped", "bce targets clipped to [1e-7, 1 − 1e-7] in δ: wrong at "
              "exact 0/1 labels only",
              _loss_specific("bce", delta_out=lambda a, y, t: y - np.clip(t, 1e-7, 1 - 1e-7)),
              "output_error", "output_delta"),
    SeededBug("ce_targets_floored", "ce targets floored at 1e-9 in δ: wrong at one-hot rows only",
              _loss_specific("ce", delta_out=lambda a, y, t: y - np.maximum(t, 1e-9)),
              "output_error", "output_delta"),
    SeededBug("delta_clipped", "output error clipped to ±1e3 (gradient clipping in the "
              "backward pass)", _with(delta_out=lambda a, y, t: np.clip(y - t, -1e3, 1e3)),
              "output_error", "output_delta"),
    SeededBug("mse_without_half", "mse loss Σ (y − t)² without the ½ (gradients right)",
              _loss_specific("mse", value=lambda a, y, t: float(np.sum((y - t) ** 2))),
              "loss_value", "loss"),
    SeededBug("bce_logits_clipped", "bce loss from logits clipped to ±500",
              _loss_specific("bce", value=_bce_clipped_value), "loss_value", "loss"),
    SeededBug("mean_loss", "the loss is the batch mean, the gradients the batch sum",
              _mean_loss, "loss_value", "loss"),
    # factors, signs, transpositions, axes
    SeededBug("gradients_averaged", "∂W and ∂b divided by N: the mean over the batch, while "
              "E is the sum", _with(grad_w=lambda l, d, z, a: d.T @ z[l] / len(d),
                                   grad_b=lambda l, d: d.mean(axis=0)), "factor", "grad_weights"),
    SeededBug("bias_gradient_sign", "∂b = −Σ_n δ_n", _with(grad_b=lambda l, d: -d.sum(axis=0)),
              "sign", "grad_biases"),
    SeededBug("hidden_delta_sign", "δ of hidden layers propagated with a minus sign",
              _with(back=lambda l, d, W: -(d @ W)), "sign", "hidden_delta"),
    SeededBug("weight_gradient_reshaped", "∂W = reshape(zᵀδ) instead of its transpose",
              _with(grad_w=lambda l, d, z, a: np.reshape(z[l].T @ d, (d.shape[1], z[l].shape[1]))),
              "transpose", "grad_weights"),
    SeededBug("backward_through_reshaped_w", "δ propagated through reshape(Wᵀ, W.shape) "
              "instead of W", _with(back=lambda l, d, W: d @ np.reshape(W.T, W.shape)),
              "transpose", "hidden_delta"),
    SeededBug("softmax_over_batch", "softmax normalised over the batch (axis 0) in δ",
              _loss_specific("ce", delta_out=lambda a, y, t: np.exp(a - a.max(axis=0))
                             / np.exp(a - a.max(axis=0)).sum(axis=0) - t),
              "output_error", "output_delta"),
    # assembly, per sample
    SeededBug("a_instead_of_z", "∂W[l] = δᵀ a[l−1]: the previous pre-activation instead of z",
              _with(grad_w=lambda l, d, z, a: d.T @ (a[l - 1] if l else z[0])),
              "assembly", "grad_weights"),
    SeededBug("last_sample_only", "∂W from the last sample only: an accumulator overwritten",
              _with(grad_w=lambda l, d, z, a: np.outer(d[-1], z[l][-1])),
              "per_sample", "grad_weights"),
    SeededBug("batch_buffer_of_8", "∂W summed over the first 8 samples only",
              _with(grad_w=_first_rows(8)), "per_sample", "grad_weights"),
    SeededBug("unit_buffer_of_8", "∂b kept in a buffer of 8 units: units 9 and up get 0",
              _with(grad_b=_buffer_of_8), "assembly", "grad_biases"),
    SeededBug("deep_first_slope_skipped", "the first layer's h' skipped when the net has 4 or "
              "more weight layers", _deep_skip, "activation_derivative", "hidden_delta"),
    # precision and non-finite values
    SeededBug("float32_output_delta", "y − t computed in float32 inside a float64 backprop",
              _with(delta_out=_float32_delta), "precision", "output_delta"),
    SeededBug("float32_weight_sum", "∂W accumulated in float32", _with(grad_w=_float32_sum),
              "precision", "grad_weights"),
    SeededBug("relu_slope_nan_at_zero", "relu' = (a/|a| + 1)/2: NaN exactly at a = 0",
              _with(slope=_nan_relu), "nonfinite", "hidden_delta"),
    SeededBug("bce_loss_from_probabilities", "bce loss from y = σ(a): log(1 − y) = −inf once "
              "σ rounds to 1", _loss_specific("bce", value=_bce_from_probabilities),
              "nonfinite", "loss"),
    # overflow only
    SeededBug("naive_tanh", "tanh as (eᵃ − e⁻ᵃ)/(eᵃ + e⁻ᵃ): NaN beyond |a| = 710",
              _with(hidden=_replace_h("tanh", _naive_tanh)), "overflow", "loss"),
    SeededBug("sigmoid_exp_ratio", "sigmoid as eᵃ/(1 + eᵃ): NaN beyond a = 710",
              _with(hidden=_replace_h("sigmoid", _ratio_sigmoid)), "overflow", "loss"),
    SeededBug("softplus_log1p_exp", "softplus as log(1 + eᵃ): inf beyond a = 710",
              _with(hidden=_replace_h("softplus", _log1p_exp)), "overflow", "loss"),
    SeededBug("softmax_without_max", "softmax without subtracting the max: NaN beyond a logit "
              "of 710", _loss_specific("ce", output=_naive_softmax,
                                       value=_ce_naive_value(_naive_softmax)),
              "overflow", "loss"),
    SeededBug("softmax_batch_max", "softmax subtracting the batch's max instead of each row's",
              _loss_specific("ce", output=_batch_max_softmax,
                             value=_ce_naive_value(_batch_max_softmax)),
              "overflow", "loss"),
    # nondeterminism
    SeededBug("dropout_left_on", "dropout (p = 0.1) left on in the output error",
              _dropout, "nondeterministic", "output_delta"),
)


def __getattr__(name: str) -> Backprop:
    """Each bug's implementation by name: ``deltacheck run --impl deltacheck.bugs:naive_tanh``."""
    for bug in BUGS:
        if bug.name == name:
            return bug.backprop
    raise AttributeError(f"module 'deltacheck.bugs' has no seeded bug {name!r}")
