"""Stochastic gradient descent on mini-batches, driven by the hand-written backprop."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deltacheck.reference_impl.network import backprop


def sgd(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], activations: Sequence[str],
        loss: str, x: np.ndarray, t: np.ndarray, *, rng: np.random.Generator,
        learning_rate: float = 0.1, epochs: int = 10, batch_size: int = 8,
        ) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """Train a copy of the parameters; return them with the summed loss of every epoch."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    W = [w.copy() for w in weights]
    b = [v.copy() for v in biases]
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        epoch_loss = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            out = backprop(W, b, activations, loss, x[batch], t[batch])
            for l in range(len(W)):
                W[l] -= learning_rate * out["grad_weights"][l]  # w ← w − η Σ_n δ_nj z_ni
                b[l] -= learning_rate * out["grad_biases"][l]  # b ← b − η Σ_n δ_nj
            epoch_loss += out["loss"]
        history.append(epoch_loss)
    return W, b, history
