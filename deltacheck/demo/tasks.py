"""The demo's training tasks: small data sets made in numpy, a network for each, and how to train it.

The SGD loops of deltacheck.demo.training and deltacheck.demo.student_training start every task
from the same initial weights and take the same batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Task:
    """A data set (train and test), a network and how to train it."""

    name: str
    title: str
    loss: str
    widths: tuple[int, ...]
    activations: tuple[str, ...]
    x: np.ndarray
    t: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    learning_rate: float
    batch_size: int
    epochs: int


def two_spirals(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals in the plane, one-hot targets."""
    label = rng.integers(0, 2, size=n)
    r = rng.uniform(0.15, 1.0, size=n)
    angle = 3.0 * math.pi * r + math.pi * label  # the second spiral is the first turned by π
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1) + rng.normal(0, 0.02, (n, 2))
    return x, np.eye(2)[label]


def noisy_sine(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """t = sin(x) + noise for x in [−π, π]."""
    x = rng.uniform(-math.pi, math.pi, size=(n, 1))
    return x, np.sin(x) + rng.normal(0, 0.1, size=(n, 1))


def disc(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points in a square; t = 1 inside the disc of radius 1, 0 outside."""
    x = rng.uniform(-1.6, 1.6, size=(n, 2))
    return x, (np.sum(x**2, axis=1, keepdims=True) < 1.0).astype(float)


def tasks(seed: int = 0, *, scale: float = 1.0) -> list[Task]:
    """The three demo tasks; ``scale`` multiplies the number of epochs (tests use less)."""
    rng = np.random.default_rng(seed)

    def split(make: Callable, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (*make(rng, n), *make(rng, n))

    def epochs(n: int) -> int:
        return max(1, round(n * scale))

    return [
        Task("spirals", "Two spirals (classification, softmax + cross-entropy)", "ce",
             (2, 24, 24, 2), ("tanh", "tanh"), *split(two_spirals, 200),
             learning_rate=0.01, batch_size=20, epochs=epochs(150)),
        Task("sine", "Noisy sine (regression, identity + MSE)", "mse", (1, 16, 1), ("tanh",),
             *split(noisy_sine, 160), learning_rate=0.01, batch_size=16, epochs=epochs(40)),
        Task("disc", "Inside the disc (binary, sigmoid + BCE)", "bce", (2, 12, 1), ("tanh",),
             *split(disc, 200), learning_rate=0.05, batch_size=20, epochs=epochs(60)),
    ]


def initial_weights(widths: Sequence[int],
                    rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights normal with variance 1/fan-in, biases zero."""
    W = [rng.normal(0, 1 / math.sqrt(widths[l]), size=(widths[l + 1], widths[l]))
         for l in range(len(widths) - 1)]
    return W, [np.zeros(n) for n in widths[1:]]


def batch_order(n: int, batch_size: int, epochs: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A fresh permutation of the samples every epoch, cut into batches."""
    order = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        order += [perm[s:s + batch_size] for s in range(0, n, batch_size)]
    return order
