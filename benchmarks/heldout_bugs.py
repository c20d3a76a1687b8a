"""Held-back seeded bugs: slips in classes the diagnosis was not built on.

They were written before any tuning of the diagnosis, each with the kind and first wrong
quantity its author expects, and are measured apart from ``deltacheck.bugs``:

    python benchmarks/diagnosis_table.py --bugs benchmarks/heldout_bugs.py:BUGS

Classes: state kept between calls, returned arrays that alias a buffer the next call
overwrites, slips in the forward pass, small-but-real errors (a float32 constant in a
float64 path, an ε in a denominator, clipping at 1e-12), output-error slips that need K ≥ 3
to tell apart from a factor, and per-sample slips that need N ≥ 2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deltacheck import reference_impl
from deltacheck.campaign.bug_steps import _loss_specific, _only, _reference, _with
from deltacheck.campaign.bugs import SeededBug

Backprop = Callable[..., dict[str, Any]]


def _ref(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    return reference_impl.backprop(weights, biases, activations, loss, x, t)


def _shapes(weights: Any, x: Any, activations: Any, loss: str) -> tuple[Any, ...]:
    return (tuple(np.shape(w) for w in weights), np.shape(x), tuple(activations), loss)


# --- state kept between calls ------------------------------------------------------------------

def _cache_by_shape() -> Backprop:
    cache: dict[Any, dict[str, Any]] = {}

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        key = _shapes(weights, x, activations, loss)
        if key not in cache:  # memoised by shape: a later call with new values gets the old result
            cache[key] = _ref(weights, biases, activations, loss, x, t)
        return cache[key]
    return backprop


def _grads_accumulate() -> Backprop:
    acc: dict[Any, list[np.ndarray]] = {}

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        out = _ref(weights, biases, activations, loss, x, t)
        key = _shapes(weights, x, activations, loss)
        if key not in acc:
            acc[key] = [np.zeros_like(g) for g in out["grad_weights"]]
        for buf, g in zip(acc[key], out["grad_weights"], strict=True):
            buf += g  # the accumulator is never zeroed between calls
        out["grad_weights"] = [buf.copy() for buf in acc[key]]
        return out
    return backprop


def _lazy_output() -> Backprop:
    chosen: dict[str, str] = {}

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        first = chosen.setdefault("loss", loss)  # the output function set up on the first call
        out = _ref(weights, biases, activations, first, x, t)
        out["loss"] = _ref(weights, biases, activations, loss, x, t)["loss"]  # E is right
        return out
    return backprop


def _lazy_derivatives() -> Backprop:
    table: dict[int, str] = {}

    def slope(l: int, act: str, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        from deltacheck.core import activations as registry
        from deltacheck.reference_impl.activations import derivative
        name = table.setdefault(l, act)  # the derivative of layer l chosen on the first call
        return derivative(registry.get(name))(a)

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        return _reference(weights, biases, activations, loss, x, t, slope=slope)
    return backprop


def _momentum_in_gradient() -> Backprop:
    velocity: dict[Any, list[np.ndarray]] = {}

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        out = _ref(weights, biases, activations, loss, x, t)
        key = _shapes(weights, x, activations, loss)
        old = velocity.get(key, [np.zeros_like(g) for g in out["grad_biases"]])
        new = [0.9 * v + g for v, g in zip(old, out["grad_biases"], strict=True)]
        velocity[key] = new  # the momentum buffer returned as the gradient
        out["grad_biases"] = [v.copy() for v in new]
        return out
    return backprop


def _stale_forward() -> Backprop:
    cache: dict[Any, Any] = {}

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        key = _shapes(weights, x, activations, loss)
        if key not in cache:  # the inputs x kept from the first batch of these shapes
            cache[key] = np.array(x)
        return _ref(weights, biases, activations, loss, cache[key], t)
    return backprop


def _tiny_dropout(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    out = _ref(weights, biases, activations, loss, x, t)
    rng = np.random.default_rng()
    keep = rng.random(out["deltas"][-1].shape) >= 0.02  # dropout p = 0.02 left on
    out["deltas"][-1] = out["deltas"][-1] * keep / 0.98
    return out


# --- returned arrays that alias a buffer -------------------------------------------------------

def _delta_buffers() -> Backprop:
    buffers: dict[Any, list[np.ndarray]] = {}

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        out = _ref(weights, biases, activations, loss, x, t)
        key = _shapes(weights, x, activations, loss)
        bufs = buffers.setdefault(key, [np.empty_like(d) for d in out["deltas"]])
        for buf, d in zip(bufs, out["deltas"], strict=True):
            buf[...] = d  # preallocated once; every call writes into the same arrays
        out["deltas"] = bufs
        return out
    return backprop


def _grad_buffers() -> Backprop:
    buffers: dict[Any, list[np.ndarray]] = {}

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        out = _ref(weights, biases, activations, loss, x, t)
        key = _shapes(weights, x, activations, loss)
        bufs = buffers.setdefault(key, [np.empty_like(g) for g in out["grad_weights"]])
        for buf, g in zip(bufs, out["grad_weights"], strict=True):
            np.copyto(buf, g)  # preallocated once; every call writes into the same arrays
        out["grad_weights"] = bufs
        return out
    return backprop


# --- the forward pass --------------------------------------------------------------------------

def _forward(change: Callable[..., Any]) -> Backprop:
    """The reference backprop on arguments changed by ``change``: a consistent wrong forward."""
    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        w2, b2, x2 = change(list(weights), list(biases), x)
        return _ref(w2, b2, activations, loss, x2, t)
    return backprop


def _no_output_bias(w: list, b: list, x: Any) -> tuple[list, list, Any]:
    return w, [*b[:-1], np.zeros_like(b[-1])], x  # the output layer's bias forgotten


def _x_column_major(w: list, b: list, x: Any) -> tuple[list, list, Any]:
    return w, b, np.reshape(np.ravel(x, order="F"), np.shape(x))  # x read in the wrong order


def _square_w_transposed(w: list, b: list, x: Any) -> tuple[list, list, Any]:
    return [v.T if v.shape[0] == v.shape[1] else v for v in w], b, x


def _forward_tanh_as_sigmoid(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    acts = ["sigmoid" if a == "tanh" else a for a in activations]  # the names mixed up
    return _ref(weights, biases, acts, loss, x, t)


def _softmax_temperature(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    if loss != "ce":
        return _ref(weights, biases, activations, loss, x, t)
    # logits halved in the forward pass (a temperature of 2): δ and E follow y′ = softmax(a/2)
    return _ref([*list(weights[:-1]), weights[-1] / 2], [*list(biases[:-1]), biases[-1] / 2],
                activations, loss, x, t)


def _mse_sigmoid_output(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    if loss != "mse":
        return _ref(weights, biases, activations, loss, x, t)
    return _ref(weights, biases, activations, "mse_sigmoid", x, t)


def _last_hidden_linear(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    acts = list(activations)
    if acts:
        acts[-1] = "identity"  # the last hidden layer's h never applied (nor its h')
    return _ref(weights, biases, acts, loss, x, t)


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
    # state between calls
    SeededBug("cache_by_shape", "the result memoised by the shapes of the arguments",
              _cache_by_shape(), "stateful", "loss"),
    SeededBug("grads_accumulate", "∂W accumulated across calls: the buffer is never zeroed",
              _grads_accumulate(), "stateful", "grad_weights"),
    SeededBug("lazy_output", "the output function set up on the first call and kept",
              _lazy_output(), "stateful", "output_delta"),
    SeededBug("lazy_derivatives", "each layer's h' chosen on the first call and kept",
              _lazy_derivatives(), "stateful", "hidden_delta"),
    SeededBug("momentum_in_gradient", "∂b returned with a momentum buffer folded in",
              _momentum_in_gradient(), "stateful", "grad_biases"),
    SeededBug("stale_inputs", "x kept from the first batch of the same shapes",
              _stale_forward(), "stateful", "loss"),
    SeededBug("tiny_dropout", "dropout p = 0.02 left on in the output δ", _tiny_dropout,
              "nondeterministic", "output_delta"),
    # aliases
    SeededBug("delta_buffers", "δ returned as buffers that the next call overwrites",
              _delta_buffers(), "aliasing", "output_delta"),
    SeededBug("grad_buffers", "∂W returned as buffers that the next call overwrites",
              _grad_buffers(), "aliasing", "grad_weights"),
    # forward
    SeededBug("no_output_bias", "the output layer's bias left out of the forward pass",
              _forward(_no_output_bias), "forward", "loss"),
    SeededBug("x_column_major", "x read in column-major order", _forward(_x_column_major),
              "forward", "loss"),
    SeededBug("square_w_transposed", "a square W used transposed in the forward pass",
              _forward(_square_w_transposed), "forward", "loss"),
    SeededBug("tanh_forward_as_sigmoid", "tanh layers computed (and differentiated) as sigmoid",
              _forward_tanh_as_sigmoid, "forward", "loss"),
    SeededBug("softmax_temperature", "ce logits halved in the forward pass",
              _softmax_temperature, "forward", "loss"),
    SeededBug("mse_sigmoid_output", "mse with a sigmoid output (δ and E consistent with it)",
              _mse_sigmoid_output, "forward", "loss"),
    SeededBug("last_hidden_linear", "the last hidden layer's h never applied",
              _last_hidden_linear, "forward", "loss"),
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


def __getattr__(name: str) -> Backprop:
    """Each bug's implementation by name, so a fresh process can import it:
    ``--impl benchmarks/heldout_bugs.py:cache_by_shape``."""
    for bug in BUGS:
        if bug.name == name:
            return bug.backprop
    raise AttributeError(f"module 'heldout_bugs' has no seeded bug {name!r}")
