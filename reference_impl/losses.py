"""The losses, each paired with its output activation y = g(a).

For the three canonical pairs (MSE with identity, BCE with sigmoid, CE with softmax) g' cancels
against ∂E/∂y, and the output error is δ_k = ∂E_n/∂a_k = y_k − t_k. For the quadratic cost on a
sigmoid or tanh output it does not: δ_k = (y_k − t_k) g'(a_k). Loss values are computed from the
output pre-activations a (the logits), which keeps them finite for |a| up to 1e3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def _log_sigmoid(a: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -a)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))  # σ(a) = 1 / (1 + e^{−a}) from e^{−|a|} ≤ 1: no overflow, few ulp
    return np.where(a >= 0, 1.0, e) / (1.0 + e)


def _sigmoid_slope(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))  # σ(a) σ(−a) = e^{−|a|} / (1 + e^{−|a|})², good to a few ulp
    return e / (1.0 + e) ** 2


def _log_softmax(a: np.ndarray) -> np.ndarray:
    shifted = a - a.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class Loss:
    """A loss E(a, t) summed over the batch, with its output activation y = g(a).

    ``dg`` is g'(a) for a pair where it does not cancel, None for a canonical pair.
    """

    name: str
    output: Callable[[np.ndarray], np.ndarray]
    value: Callable[[np.ndarray, np.ndarray], float]
    dg: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def canonical(self) -> bool:
        """Whether the output error is y − t."""
        return self.dg is None

    def output_delta(self, y: np.ndarray, t: np.ndarray,
                     a: np.ndarray | None = None) -> np.ndarray:
        """δ_k = (y_k − t_k) g'(a_k): y_k − t_k for a canonical pair, where g' cancels."""
        if self.dg is None:
            return y - t
        if a is None:
            raise ValueError(f"the output error of {self.name!r} needs the logits: "
                             f"output_delta(y, t, a=a)")
        return (y - t) * self.dg(a)


MSE = Loss(
    "mse",
    output=lambda a: a,  # identity
    value=lambda a, t: 0.5 * float(np.sum((a - t) ** 2)),  # E = ½ Σ (y − t)²
)

BCE = Loss(
    "bce",
    output=lambda a: np.exp(_log_sigmoid(a)),  # y = σ(a)
    # E = −Σ [t log y + (1 − t) log(1 − y)], with log(1 − σ(a)) = log σ(−a)
    value=lambda a, t: -float(np.sum(t * _log_sigmoid(a) + (1.0 - t) * _log_sigmoid(-a))),
)

CE = Loss(
    "ce",
    output=lambda a: np.exp(_log_softmax(a)),  # y = softmax(a)
    value=lambda a, t: -float(np.sum(t * _log_softmax(a))),  # E = −Σ t log y
)

# The quadratic cost on a squashed output: not canonical, so δ keeps g'(a). g' is computed
# from a, never as y(1 − y) or 1 − y², which lose every digit once y rounds to ±1.
MSE_SIGMOID = Loss(
    "mse_sigmoid",
    output=_sigmoid,  # y = σ(a)
    value=lambda a, t: 0.5 * float(np.sum((_sigmoid(a) - t) ** 2)),  # E = ½ Σ (σ(a) − t)²
    dg=_sigmoid_slope,  # σ'(a) = σ(a)(1 − σ(a)) = σ(a) σ(−a)
)

MSE_TANH = Loss(
    "mse_tanh",
    output=np.tanh,  # y = tanh(a)
    value=lambda a, t: 0.5 * float(np.sum((np.tanh(a) - t) ** 2)),  # E = ½ Σ (tanh(a) − t)²
    dg=lambda a: 4.0 * _sigmoid_slope(2.0 * a),  # tanh'(a) = 1 − tanh²(a) = 4σ(2a)σ(−2a)
)

LOSSES: dict[str, Loss] = {loss.name: loss for loss in (MSE, BCE, CE, MSE_SIGMOID, MSE_TANH)}
