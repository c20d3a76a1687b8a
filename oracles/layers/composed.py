"""A model composed of the reference layers: its scores, and its loss with the gradient of every
parameter by torch autograd or ``jax.vjp`` through the whole composition.

A composition is a list of ``Step``: a layer kind, the model parameters it takes after its
input (``("W1", "b1")`` for an affine layer), and its settings (``bn_param``, ``conv_param``,
``dropout_param`` with the ``mask`` the model's own dropout drew, …). The last step is a loss
kind; its labels ``y`` are given with the call. The loss is

    L = data loss + l2 · reg · Σ_W ΣW²   (the course's l2 = 0.5)

over the parameters named in ``weights``. Every output is float64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck.oracles.layers import _definition, call_settings
from deltacheck.oracles.layers.backends import session
from deltacheck.oracles.layers.kinds import get_kind


@dataclass(frozen=True)
class Step:
    """One layer of a composition: its kind, the parameters it reads and its settings."""

    kind: str
    params: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``affine(W1, b1)``."""
        return f"{self.kind}({', '.join(self.params)})" if self.params else self.kind


def _apply(be: Any, steps: Sequence[Step], x: Any, values: Mapping[str, Any], y: Any) -> Any:
    """The composition's output: scores, or the data loss when the last step is a loss."""
    for step in steps:
        kind = get_kind(step.kind)
        settings = {**step.settings, **({"y": y} if kind.loss else {})}
        converted = [be.convert(p) for p in call_settings(kind, settings)]
        x = _definition(kind, be)(x, *[values[name] for name in step.params], *converted)[0]
    return x


def scores(steps: Sequence[Step], framework: str, X: np.ndarray,
           values: Mapping[str, np.ndarray]) -> np.ndarray:
    """The composed reference's scores (``steps`` without the loss) for inputs ``X``."""
    with session(framework) as be:
        out = _apply(be, steps, be.array(np.asarray(X, np.float64)),
                     {n: be.array(np.asarray(v, np.float64)) for n, v in values.items()}, None)
        return be.outputs([out])[0]


def loss_and_grads(steps: Sequence[Step], framework: str, X: np.ndarray, y: np.ndarray,
                   values: Mapping[str, np.ndarray], *, weights: Sequence[str], reg: float,
                   l2: float = 0.5) -> tuple[float, dict[str, np.ndarray]]:
    """The loss and its gradient with respect to every parameter in ``values``."""
    names = list(values)
    labels = np.asarray(y)
    with session(framework) as be:
        if be.vjp is None:
            raise ValueError(f"framework={framework!r} has no autograd")
        x = be.array(np.asarray(X, np.float64))

        def total(*arrays: Any) -> Any:
            given = dict(zip(names, arrays, strict=True))
            penalty = sum(be.xp.sum(given[w] ** 2) for w in weights)
            return _apply(be, steps, x, given, be.convert(labels)) + l2 * reg * penalty

        arrays = [be.array(np.asarray(values[n], np.float64)) for n in names]
        value = total(*arrays)
        grads = be.vjp(total, arrays, np.array(1.0))
        out = be.outputs([value, *grads])
    return float(out[0]), dict(zip(names, out[1:], strict=True))


__all__ = ["Step", "loss_and_grads", "scores"]
