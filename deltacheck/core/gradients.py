"""The quantities a case is judged on, as an implementation or an oracle gives them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

QUANTITIES = ("deltas", "grad_weights", "grad_biases")


@dataclass
class Gradients:
    """Loss, node errors and gradients of one case, as an oracle or implementation gives them.

    ``unjudged`` holds, per quantity, boolean masks of entries this oracle cannot judge
    (they sit on or near a kink); ``uncertainty`` holds absolute error bars of the oracle's
    own values (finite differences only). Both are empty for an implementation under test.
    """

    loss: float
    deltas: list[np.ndarray]
    grad_weights: list[np.ndarray]
    grad_biases: list[np.ndarray]
    unjudged: dict[str, list[np.ndarray]] = field(default_factory=dict)
    uncertainty: dict[str, list[np.ndarray]] = field(default_factory=dict)
    loss_uncertainty: float = 0.0

    def quantity(self, name: str) -> list[np.ndarray]:
        """The list of per-layer arrays for ``deltas``, ``grad_weights`` or ``grad_biases``."""
        return getattr(self, name)
