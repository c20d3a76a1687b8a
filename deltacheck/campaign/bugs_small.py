"""Seeded bugs with small but real errors (a float32 constant in a float64 path, an ε in a
denominator, clipping at 1e-12), output-error slips that need K ≥ 3 to tell apart from a
factor, per-sample slips that need N ≥ 2, and slips under declared conventions (written apart
from the diagnosis, and measured before it was tuned: benchmarks/heldout_bugs.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deltacheck import reference_impl
from deltacheck.campaign.bug_steps import SeededBug, _loss_specific, _only, _with

Backprop = Callable[..., dict[str, Any]]


def _ref(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    return reference_impl.backprop(weights, biases, activations, loss, x, t)


def _shapes(weights: Any, x: Any, activations: Any, loss: str) -> tuple[Any, ...]:
    return (tuple(np.shape(w) for w in weights), np.shape(x), tuple(activations), loss)


# --- small but real errors ---------------------------------------------------------------------

def _gelu_slope_f32(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    from deltacheck.core import activations as registry
    from deltacheck.reference_impl.activations import derivative
    c = 1.0 / np.sqrt(2.0 * np.pi)  # Φ(a) + a φ(a), φ's constant written as a float32 one
    exact = derivative(registry.get("gelu"))(a)
    return exact + a * (float(np.float32(c)) - c) * np.exp(-0.5 * a * a)


def _leaky_slope_f32(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.where(a > 0, 1.0, float(np.float32(0.01)))  # 0.0099999998


def _tanh_slope_f32(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    return (1.0 - np.tanh(a.astype(np.float32)) ** 2).astype(a.dtype)  # h' in float32


def _eps_softmax(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / (e.sum(axis=1, keepdims=True) + 1e-8) - t  # an ε in the denominator


def _bce_clip_12(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.clip(y, 1e-12, 1 - 1e-12) - t  # y clipped "for safety" in δ


def _bce_eps_chain(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    dy = (y - t) / (y * (1 - y) + 1e-12)  # ∂E/∂y guarded by an ε, then times σ'(a)
    return dy * y * (1 - y)


def _bce_textbook_value(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> float:
    s = 1.0 / (1.0 + np.exp(-np.clip(a, -30, 30)))  # σ clipped to stay finite: E off beyond 30
    return -float(np.sum(t * np.log(s) + (1 - t) * np.log1p(-s)))


def _mse_value_f32_half(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> float:
    return float(np.float32(0.5) * np.sum((y - t) ** 2, dtype=np.float32))  # E in float32


# --- output errors that need K ≥ 3 -------------------------------------------------------------

def _ce_temperature_delta(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    e = np.exp(a / 2 - (a / 2).max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True) - t  # δ from softmax(a/2); E from softmax(a)


def _ce_extra_logit(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.exp(a) / (1.0 + np.exp(a).sum(axis=1, keepdims=True)) - t  # an extra 0 logit


def _ce_last_class_dropped(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    d = y - t
    d[:, -1] = 0.0  # the loop over classes stops one short
    return d


def _ce_flat_softmax(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max())
    return e / e.sum() - t  # normalised over the whole batch, not per row


# --- per-sample slips that need N ≥ 2 ----------------------------------------------------------

def _bias_first_sample(l: int, d: np.ndarray) -> np.ndarray:
    return d[0].copy()  # ∂b from sample 0 only


def _weight_samples_shifted(l: int, d: np.ndarray, z: list, a: list) -> np.ndarray:
    return d.T @ np.roll(z[l], 1, axis=0)  # δ of sample n paired with z of sample n − 1


def _targets_reversed(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    return y - t[::-1]  # the targets read in reverse order


def _loss_first_sample(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    out = _ref(weights, biases, activations, loss, x, t)
    out["loss"] = _ref(weights, biases, activations, loss, x[:1], t[:1])["loss"]
    return out


def _bias_mean_only(l: int, d: np.ndarray) -> np.ndarray:
    return d.mean(axis=0)  # ∂b averaged over the batch, ∂W summed


# --- declared conventions ----------------------------------------------------------------------

def _grads_only(inner: Backprop) -> Backprop:
    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        out = inner(weights, biases, activations, loss, x, t)
        return {"loss": out["loss"], "grad_weights": out["grad_weights"],
                "grad_biases": out["grad_biases"]}
    backprop.provides = ("loss", "grad_weights", "grad_biases")  # type: ignore[attr-defined]
    return backprop


def _mean_reduction(inner: Backprop) -> Backprop:
    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        out = inner(weights, biases, activations, loss, x, t)
        n = len(x)
        return {"loss": out["loss"] / n, "deltas": [d / n for d in out["deltas"]],
                "grad_weights": [g / n for g in out["grad_weights"]],
                "grad_biases": [g / n for g in out["grad_biases"]]}
    backprop.reduction = "mean"  # type: ignore[attr-defined]
    return backprop


BUGS: tuple[SeededBug, ...] = (
    # small but real
    SeededBug("gelu_constant_f32", "gelu' with 1/√(2π) as a float32 constant",
              _with(slope=_only("gelu", _gelu_slope_f32)), "activation_derivative",
              "hidden_delta"),
    SeededBug("leaky_slope_f32", "leaky_relu' with 0.01 as a float32 constant",
              _with(slope=_only("leaky_relu", _leaky_slope_f32)), "activation_derivative",
              "hidden_delta"),
    SeededBug("tanh_slope_f32", "tanh' computed in float32", _with(
        slope=_only("tanh", _tanh_slope_f32)), "precision", "hidden_delta"),
    SeededBug("softmax_eps", "softmax with 1e-8 added to its denominator, in δ",
              _loss_specific("ce", delta_out=_eps_softmax), "output_error", "output_delta"),
    SeededBug("bce_output_clipped", "bce δ from y clipped to [1e-12, 1 − 1e-12]",
              _loss_specific("bce", delta_out=_bce_clip_12), "output_error", "output_delta"),
    SeededBug("bce_eps_chain", "bce δ through ∂E/∂y with 1e-12 added to y(1 − y)",
              _loss_specific("bce", delta_out=_bce_eps_chain), "output_error",
              "output_delta"),
    SeededBug("bce_clipped_sigmoid_value", "bce E from σ of logits clipped to ±30",
              _loss_specific("bce", value=_bce_textbook_value), "loss_value", "loss"),
    SeededBug("mse_value_f32", "mse E summed in float32",
              _loss_specific("mse", value=_mse_value_f32_half), "precision", "loss"),
    # output errors needing K ≥ 3
    SeededBug("ce_delta_temperature", "ce δ from softmax(a/2), E right",
              _loss_specific("ce", delta_out=_ce_temperature_delta), "output_error",
              "output_delta"),
    SeededBug("ce_extra_logit", "ce δ from a softmax with an extra zero logit",
              _loss_specific("ce", delta_out=_ce_extra_logit), "output_error", "output_delta"),
    SeededBug("ce_last_class_dropped", "ce δ of the last class left at 0",
              _loss_specific("ce", delta_out=_ce_last_class_dropped), "output_error",
              "output_delta"),
    SeededBug("ce_flat_softmax", "ce δ from a softmax over the whole batch",
              _loss_specific("ce", delta_out=_ce_flat_softmax), "output_error", "output_delta"),
    # per sample, N ≥ 2
    SeededBug("bias_first_sample", "∂b from the first sample only",
              _with(grad_b=_bias_first_sample), "per_sample", "grad_biases"),
    SeededBug("weight_samples_shifted", "∂W pairs δ of sample n with z of sample n − 1",
              _with(grad_w=_weight_samples_shifted), "per_sample", "grad_weights"),
    SeededBug("targets_reversed", "δ = y − t with the targets in reverse order",
              _with(delta_out=_targets_reversed), "per_sample", "output_delta"),
    SeededBug("loss_first_sample", "E of the first sample only", _loss_first_sample,
              "loss_value", "loss"),
    SeededBug("bias_mean", "∂b averaged over the batch while ∂W is summed",
              _with(grad_b=_bias_mean_only), "factor", "grad_biases"),
    # declared conventions
    SeededBug("grads_only_slope_dropped", "δ not provided; h' left out of the hidden δ",
              _grads_only(_with(slope=lambda l, act, a, z: np.ones_like(a))),
              "activation_derivative", "grad_weights"),
    SeededBug("mean_reduction_sign", "reduction mean declared; ∂b with the wrong sign",
              _mean_reduction(_with(grad_b=lambda l, d: -d.sum(axis=0))), "sign",
              "grad_biases"),
)
