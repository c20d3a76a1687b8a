"""The lecture's formulas for the output error δ = ∂E/∂a, in numpy, evaluated stably.

Each formula returns (δ, the largest magnitude its evaluation adds up), so that a deviation
from autograd can be judged in units of its own rounding (deltacheck.demo.output_errors).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Formula = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

# ---- the forward side, in numpy: y = g(a), evaluated stably --------------------------------

def _log_softmax(a: np.ndarray) -> np.ndarray:
    shifted = a - a.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a), never overflowing."""
    return np.exp(-np.logaddexp(0.0, -a))


OUTPUTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda a: a,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "softmax": lambda a: np.exp(_log_softmax(a)),
}


def one_minus_y(output: str, a: np.ndarray) -> np.ndarray:
    """1 − y without cancellation: σ(−a) for sigmoid, Σ_{j≠k} y_j for softmax."""
    if output == "sigmoid":
        return sigmoid(-a)
    if output == "softmax":
        y = OUTPUTS["softmax"](a)
        others = 1.0 - np.eye(a.shape[1])  # Σ_{j≠k}, never forming 1 − y_k
        return (y[:, None, :] * others[None, :, :]).sum(axis=2)
    return 1.0 - OUTPUTS[output](a)


# ---- the claims: each returns (δ, the largest magnitude its evaluation adds up) --------------

def y_minus_t(output: str) -> Formula:
    """δ = y − t: the canonical pairs' output error."""
    def formula(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y - t, np.maximum(np.abs(y), np.abs(t))
    return formula


def _dE_dy(loss: str, output: str, a: np.ndarray, y: np.ndarray,
           t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g = ∂E/∂y and the magnitude of its terms."""
    if loss == "mse":
        return y - t, np.maximum(np.abs(y), np.abs(t))  # ½ Σ (y − t)²
    if loss == "ce":
        return -t / y, np.abs(t / y)  # −Σ t log y
    rest = one_minus_y(output, a)  # bce: −Σ [t log y + (1 − t) log(1 − y)]
    return -t / y + (1.0 - t) / rest, np.abs(t / y) + np.abs((1.0 - t) / rest)


H_PRIME: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": np.ones_like,                       # h′ = 1
    "sigmoid": lambda a: sigmoid(a) * sigmoid(-a),  # h′ = σ(a)(1 − σ(a))
    "tanh": lambda a: 1.0 - np.tanh(a) ** 2,        # h′ = 1 − tanh²(a)
}

# What evaluating h′ from a rounded y adds up, as autograd does: 1 − y (sigmoid: y(1 − y) ≤ y
# of those terms), 1 − y² (tanh). Near saturation h′ is far below these, and autograd's value
# of it is only as good as their rounding; the general form is then judged to that rounding.
H_PRIME_TERMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": np.ones_like,
    "sigmoid": sigmoid,
    "tanh": np.ones_like,
}


def general_form(loss: str, output: str) -> Formula:
    """δ_k = h′(a_k) ∂E/∂y_k, or for softmax δ = y ⊙ (g − Σ_j y_j g_j) with g = ∂E/∂y."""
    def formula(a: np.ndarray, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g, g_size = _dE_dy(loss, output, a, y, t)
        if output != "softmax":
            d = H_PRIME[output](a)
            return d * g, np.maximum(np.abs(d), H_PRIME_TERMS[output](a)) * g_size
        yg = y * g
        total = yg.sum(axis=1, keepdims=True)
        size = np.abs(y) * g_size
        return yg - y * total, size + y * size.sum(axis=1, keepdims=True)
    return formula


def softmax_with_target_sums(a: np.ndarray, y: np.ndarray,
                             t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """δ = y Σ_k t_k − t: softmax with cross-entropy for any targets."""
    total = t.sum(axis=1, keepdims=True)
    return y * total - t, np.maximum(np.abs(y * total), np.abs(t))
