"""The three losses, each paired with its canonical output activation.

For each pair the output error is δ_k = ∂E_n/∂a_k = y_k − t_k. Loss values are computed from
the output pre-activations a (the logits), which keeps them finite for |a| up to 1e3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def _log_sigmoid(a: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -a)


def _log_softmax(a: np.ndarray) -> np.ndarray:
    shifted = a - a.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class Loss:
    """A loss E(a, t) summed over the batch, with its output activation y = g(a)."""

    name: str
    output: Callable[[np.ndarray], np.ndarray]
    value: Callable[[np.ndarray, np.ndarray], float]

    def output_delta(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        """δ_k = y_k − t_k: the output error of a canonical loss/activation pair."""
        return y - t


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

LOSSES: dict[str, Loss] = {loss.name: loss for loss in (MSE, BCE, CE)}
