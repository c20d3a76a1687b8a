"""Forward pass, backward pass and gradient assembly of a fully connected network.

Notation (one row per sample n): z[0] = x; layer l maps z[l] to a[l] = z[l] W[l]ᵀ + b[l]
and z[l+1] = h(a[l]); the output layer applies the loss's output activation, y = g(a[L−1]).
delta[l] = ∂E/∂a[l], so delta[L−1] is the output error and delta[0] the first hidden layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.core import activations as registry
from deltacheck.reference_impl.activations import derivative
from deltacheck.reference_impl.losses import LOSSES


def forward(W: Sequence[np.ndarray], b: Sequence[np.ndarray], hidden: Sequence[Any],
            x: np.ndarray, output: Callable[[np.ndarray], np.ndarray],
            ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Run the network, keeping every pre-activation a[l] and every activation z[l]."""
    a: list[np.ndarray] = []
    z: list[np.ndarray] = [x]
    for l in range(len(W)):
        a.append(z[l] @ W[l].T + b[l])  # a_j = Σ_i w_ji z_i + b_j
        if l < len(hidden):
            z.append(hidden[l].h(a[l], np))  # z_j = h(a_j)
        else:
            z.append(output(a[l]))  # y_k = g(a_k), the loss's output activation
    return a, z


def backward(W: Sequence[np.ndarray], hidden: Sequence[Any], a: Sequence[np.ndarray],
             delta_out: np.ndarray) -> list[np.ndarray]:
    """Propagate the output error back through every layer by the δ recurrence."""
    delta = [delta_out]
    for l in reversed(range(len(hidden))):
        # δ_j = h'(a_j) Σ_k w_kj δ_k
        delta.insert(0, derivative(hidden[l])(a[l]) * (delta[0] @ W[l + 1]))
    return delta


def gradients(delta: Sequence[np.ndarray],
              z: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Assemble the weight and bias gradients from the node errors."""
    grad_W = [d.T @ z[l] for l, d in enumerate(delta)]  # ∂E/∂w_ji = Σ_n δ_nj z_ni
    grad_b = [d.sum(axis=0) for d in delta]  # ∂E/∂b_j = Σ_n δ_nj
    return grad_W, grad_b


def backprop(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
             activations: Sequence[str], loss: str, x: np.ndarray,
             t: np.ndarray) -> dict[str, Any]:
    """Loss, node errors and gradients of one batch, following the deltacheck protocol."""
    hidden = [registry.get(name) for name in activations]
    E = LOSSES[loss]
    a, z = forward(weights, biases, hidden, x, output=E.output)
    y = z[-1]
    # δ_k = (y_k − t_k) g'(a_k), which is y_k − t_k for a canonical pair
    delta = backward(weights, hidden, a, E.output_delta(y, t, a=a[-1]))
    grad_W, grad_b = gradients(delta, z)
    return {
        "loss": E.value(a[-1], t),
        "deltas": delta,
        "grad_weights": grad_W,
        "grad_biases": grad_b,
    }

