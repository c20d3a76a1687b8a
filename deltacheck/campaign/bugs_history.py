"""Seeded bugs whose results depend on earlier calls, that return arrays a later call
overwrites, or that slip in the forward pass (written apart from the diagnosis, and measured
before it was tuned: benchmarks/heldout_bugs.py).

Each keeps its state in a closure made at import, so a fresh process starts fresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deltacheck import reference_impl
from deltacheck.campaign.bug_steps import SeededBug, _reference

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
)
