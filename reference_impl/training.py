"""Stochastic gradient descent on mini-batches, driven by the hand-written backprop."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from deltacheck.reference_impl.network import backprop


def sgd_steps(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
              activations: Sequence[str], loss: str, x: np.ndarray, t: np.ndarray,
              batches: Iterable[np.ndarray], *, learning_rate: float = 0.1,
              ) -> Iterator[tuple[list[np.ndarray], list[np.ndarray], float]]:
    """One step per batch of sample indices, on a copy of the parameters.

    Yields the parameters after each step (the next step updates them in place: copy what
    you keep), with the loss of the batch before the step.
    """
    W = [w.copy() for w in weights]
    b = [v.copy() for v in biases]
    for batch in batches:
        out = backprop(W, b, activations, loss, x[batch], t[batch])  # forward, δ, gradients
        for l in range(len(W)):
            W[l] -= learning_rate * out["grad_weights"][l]  # w ← w − η Σ_n δ_nj z_ni
            b[l] -= learning_rate * out["grad_biases"][l]  # b ← b − η Σ_n δ_nj
        yield W, b, out["loss"]


def sgd(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], activations: Sequence[str],
        loss: str, x: np.ndarray, t: np.ndarray, *, rng: np.random.Generator,
        learning_rate: float = 0.1, epochs: int = 10, batch_size: int = 8,
        ) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """Train a copy of the parameters; return them with the summed loss of every epoch."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    batches = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        batches += [order[start:start + batch_size] for start in range(0, len(x), batch_size)]
    W, b = [w.copy() for w in weights], [v.copy() for v in biases]
    losses = []
    for W_step, b_step, batch_loss in sgd_steps(weights, biases, activations, loss, x, t, batches,
                                                learning_rate=learning_rate):
        W, b = W_step, b_step
        losses.append(batch_loss)
    per_epoch = -(-len(x) // batch_size)
    history = [float(sum(losses[e * per_epoch:(e + 1) * per_epoch])) for e in range(epochs)]
    return W, b, history
