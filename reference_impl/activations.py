"""The reference implementation's own hand-written derivatives h'(a), one per built-in activation.

h itself comes from the activation definitions (deltacheck.activations); h' is written here, in
numpy, as any user's implementation would write it. An activation a user registers for a run
brings its own ``dh``, which is then the derivative under test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

LEAKY_SLOPE = 0.01


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -a))  # σ(a) = 1 / (1 + e^{−a}), never overflowing


def _phi(a: np.ndarray) -> np.ndarray:
    """Φ(a), the standard normal CDF."""
    erf = np.vectorize(math.erf, otypes=[a.dtype])
    return 0.5 * (1.0 + erf(a / math.sqrt(2.0))) if a.size else a.copy()


DERIVATIVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": np.ones_like,                                      # h' = 1
    "tanh": lambda a: 1.0 - np.tanh(a) ** 2,                       # h' = 1 − tanh²(a)
    "sigmoid": lambda a: _sigmoid(a) * _sigmoid(-a),               # h' = σ(a)(1 − σ(a))
    "relu": lambda a: (a > 0).astype(a.dtype),                     # h' = [a > 0]
    "leaky_relu": lambda a: np.where(a > 0, 1.0, LEAKY_SLOPE).astype(a.dtype),
    "softplus": _sigmoid,                                          # h' = σ(a)
    "elu": lambda a: np.exp(np.minimum(a, 0.0)),                   # h' = 1 (a > 0), e^a (a ≤ 0)
    "gelu": lambda a: _phi(a) + a * np.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi),  # Φ + aφ
    "silu": lambda a: _sigmoid(a) * (1.0 + a * _sigmoid(-a)),      # h' = σ(a)(1 + a(1 − σ(a)))
    "softsign": lambda a: 1.0 / (1.0 + np.abs(a)) ** 2,            # h' = 1 / (1 + |a|)²
}


def derivative(act: Any) -> Callable[[np.ndarray], np.ndarray]:
    """h' of a hidden activation: this module's own for a built-in, the activation's dh otherwise."""
    own = DERIVATIVES.get(act.name)
    if own is not None:
        return own
    return lambda a: act.dh(a, np)
