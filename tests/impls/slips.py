"""Backprops with one planted slip each, for the diagnosis's tests.

Each is the reference implementation's forward pass and recurrences with one step swapped
for a classic mistake. ``SLIPS`` holds each with the kind and first wrong
quantity it should be diagnosed with, and a network on which it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltacheck.core import activations as registry
from deltacheck.core.case import Case
from deltacheck.reference_impl import DERIVATIVES, LOSSES, forward
from tests.helpers import random_case


def _build(*, out_delta: Callable | None = None, slope: Callable | None = None,
           propagate: Callable | None = None, grad_w: Callable | None = None,
           grad_b: Callable | None = None, loss_value: Callable | None = None,
           dtype: Any = None) -> Callable[..., dict[str, Any]]:
    """A backprop whose steps default to the correct ones; each hook replaces one step."""

    def backprop(weights, biases, activations, loss, x, t):
        if dtype is not None:
            weights = [w.astype(dtype) for w in weights]
            biases = [b.astype(dtype) for b in biases]
            x, t = x.astype(dtype), t.astype(dtype)
        hidden = [registry.get(name) for name in activations]
        E = LOSSES[loss]
        a, z = forward(weights, biases, hidden, x, output=E.output)
        y = z[-1]
        delta = [out_delta(y, t, a[-1], loss) if out_delta else y - t]
        for l in reversed(range(len(hidden))):
            h1 = slope(activations[l], a[l], z[l + 1]) if slope else \
                DERIVATIVES[activations[l]](a[l])
            back = propagate(delta[0], weights, l) if propagate else delta[0] @ weights[l + 1]
            delta.insert(0, h1 * back)
        gw = [grad_w(d, z, a, l) if grad_w else d.T @ z[l] for l, d in enumerate(delta)]
        gb = [grad_b(d) if grad_b else d.sum(axis=0) for d in delta]
        value = loss_value(E.value(a[-1], t), x.shape[0]) if loss_value else E.value(a[-1], t)
        cast = (lambda v: np.asarray(v, dtype=np.float64)) if dtype is not None else (lambda v: v)
        return {"loss": float(value), "deltas": [cast(d) for d in delta],
                "grad_weights": [cast(g) for g in gw], "grad_biases": [cast(g) for g in gb]}

    return backprop


def _inputs_doubled(weights, biases, activations, loss, x, t):
    return _build()(weights, biases, activations, loss, 2 * x, t)  # a normalisation slip


def _mean_everything(weights, biases, activations, loss, x, t):
    out = _build()(weights, biases, activations, loss, x, t)
    n = x.shape[0]
    return {"loss": out["loss"] / n, **{k: [v / n for v in out[k]]
                                        for k in ("deltas", "grad_weights", "grad_biases")}}


def _nan_hidden(weights, biases, activations, loss, x, t):
    out = _build()(weights, biases, activations, loss, x, t)
    out["deltas"][0] = out["deltas"][0] * np.nan
    return out


def _naive_softplus(weights, biases, activations, loss, x, t):
    def slope(name, a, z):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(a) / (1.0 + np.exp(a))  # overflows to inf/inf past a ≈ 709
    return _build(slope=slope)(weights, biases, activations, loss, x, t)


def _relu_late_threshold(name, a, z):
    # the step put at 1e-4 instead of 0: wrong only for 0 < a < 1e-4
    return (a > 1e-4).astype(a.dtype) if name == "relu" else DERIVATIVES[name](a)


@dataclass(frozen=True)
class Slip:
    """A planted slip, the diagnosis it should get, and a network that shows it."""

    name: str
    backprop: Callable[..., Any]
    kind: str
    first_wrong: str
    layer: int | None = 1  # of the first wrong quantity, on the network below
    widths: tuple[int, ...] = (3, 4, 4, 2)
    activations: tuple[str, ...] = ("tanh", "tanh")
    loss: str = "mse"
    tweak: Callable[[Case], Case] | None = None

    def case(self, rng: np.random.Generator) -> Case:
        """A case on which the slip shows."""
        case = random_case(rng, self.widths, self.activations, self.loss)
        return self.tweak(case) if self.tweak else case


def _replace(case: Case, **fields: Any) -> Case:
    return Case(**{**{k: getattr(case, k) for k in ("widths", "activations", "loss", "dtype",
                                                   "weights", "biases", "x", "t")}, **fields})


def _saturate(case: Case) -> Case:
    """Pre-activations of the second hidden layer far past exp's range (|a| ~ 1e3)."""
    weights = list(case.weights)
    weights[1] = weights[1] * 1e4
    return _replace(case, weights=tuple(weights))


def _near_relu_kink(case: Case) -> Case:
    """Unit 0 of the second hidden layer at a = 5e-5 for sample 0: just off the kink."""
    z1 = np.maximum(case.x @ case.weights[0].T + case.biases[0], 0.0)
    a1 = z1 @ case.weights[1].T + case.biases[1]
    biases = [np.array(b) for b in case.biases]
    biases[1][0] += 5e-5 - a1[0, 0]
    return _replace(case, biases=tuple(biases))


SQUARE = (3, 4, 4, 4)
SLIPS: tuple[Slip, ...] = (
    Slip("tanh h' from a (1 − a²)",
         _build(slope=lambda n, a, z: 1 - a**2 if n == "tanh" else DERIVATIVES[n](a)),
         "activation_derivative", "hidden_delta"),
    Slip("h' evaluated at z", _build(slope=lambda n, a, z: DERIVATIVES[n](z)),
         "activation_derivative", "hidden_delta", activations=("sigmoid", "sigmoid")),
    Slip("h' missing", _build(slope=lambda n, a, z: np.ones_like(a)), "activation_derivative",
         "hidden_delta", activations=("gelu", "gelu")),
    Slip("sigmoid's h' for tanh",
         _build(slope=lambda n, a, z: DERIVATIVES["sigmoid" if n == "tanh" else n](a)),
         "activation_derivative", "hidden_delta", 0, activations=("tanh", "relu")),
    Slip("h' doubled", _build(slope=lambda n, a, z: 2 * DERIVATIVES[n](a)), "factor",
         "hidden_delta", activations=("softplus", "softplus")),
    Slip("hidden δ sign", _build(slope=lambda n, a, z: -DERIVATIVES[n](a)), "sign",
         "hidden_delta"),
    Slip("W transposed in the recurrence", _build(propagate=lambda d, W, l: d @ W[l + 1].T),
         "transpose", "hidden_delta", widths=SQUARE),
    Slip("output δ = t − y", _build(out_delta=lambda y, t, a, loss: t - y), "sign",
         "output_delta", 2, loss="ce", widths=(3, 4, 4, 3)),
    Slip("output δ times σ'", _build(out_delta=lambda y, t, a, loss: (y - t) * y * (1 - y)),
         "output_error", "output_delta", 2, loss="bce"),
    Slip("output δ from logits", _build(out_delta=lambda y, t, a, loss: a - t), "output_error",
         "output_delta", 2, loss="bce"),
    Slip("output δ halved", _build(out_delta=lambda y, t, a, loss: (y - t) / 2), "factor",
         "output_delta", 2),
    Slip("output δ uses t[0] for every sample",
         _build(out_delta=lambda y, t, a, loss: y - np.repeat(t[:1], len(t), axis=0)),
         "per_sample", "output_delta", 2),
    Slip("E a mean, gradients sums", _build(loss_value=lambda e, n: e / n), "loss_value", "loss",
         None, loss="bce"),
    Slip("E doubled", _build(loss_value=lambda e, n: 2 * e), "loss_value", "loss", None),
    Slip("everything a mean", _mean_everything, "factor", "loss", None, loss="ce"),
    Slip("∂W from a instead of z",
         _build(grad_w=lambda d, z, a, l: d.T @ (a[l - 1] if l else z[0])), "assembly",
         "grad_weights", 2),
    Slip("∂W a mean", _build(grad_w=lambda d, z, a, l: d.T @ z[l] / len(d)), "factor",
         "grad_weights", 2),
    Slip("∂W transposed", _build(grad_w=lambda d, z, a, l: z[l].T @ d), "transpose",
         "grad_weights", 2, widths=(4, 4, 4, 4)),
    Slip("∂W without the last sample", _build(grad_w=lambda d, z, a, l: d[:-1].T @ z[l][:-1]),
         "per_sample", "grad_weights", 2),
    Slip("∂b a mean", _build(grad_b=lambda d: d.mean(axis=0)), "factor", "grad_biases", 2),
    Slip("∂b zero", _build(grad_b=lambda d: np.zeros(d.shape[1])), "assembly", "grad_biases", 2),
    Slip("float32 inside", _build(dtype=np.float32), "precision", "loss", None),
    Slip("nan in δ[0]", _nan_hidden, "nonfinite", "hidden_delta", 0),
    Slip("naive softplus h'", _naive_softplus, "overflow", "hidden_delta",
         activations=("softplus", "softplus"), tweak=_saturate),
    Slip("units of the recurrence rolled", _build(propagate=lambda d, W, l: np.roll(
        d @ W[l + 1], 1, axis=1)), "unknown", "hidden_delta"),
    # small but real: judged at the comparison's own resolution, never called float32
    Slip("tanh h' 3e-9 too large", _build(slope=lambda n, a, z: DERIVATIVES[n](a) * (1 + 3e-9)),
         "factor", "hidden_delta"),
    Slip("leaky h' slope as a float32 constant", _build(slope=lambda n, a, z: np.where(
        a > 0, 1.0, float(np.float32(0.01))) if n == "leaky_relu" else DERIVATIVES[n](a)),
         "activation_derivative", "hidden_delta", activations=("leaky_relu", "leaky_relu")),
    Slip("output δ nudged by 1e-9", _build(out_delta=lambda y, t, a, loss: y - t + 1e-9),
         "output_error", "output_delta", 2),
    Slip("forward on 2x", _inputs_doubled, "forward", "loss", None),
    Slip("forward on 2x, ce", _inputs_doubled, "forward", "loss", None, loss="ce"),
    Slip("relu h' step at 1e-4", _build(slope=_relu_late_threshold), "near_kink",
         "hidden_delta", activations=("relu", "relu"), tweak=_near_relu_kink),
)
